"""The words on the screens: one catalogue per language (``locale/en.toml``, ``locale/zh.toml``).

Every sentence a screen shows is looked up here by key (``tr("home.planned", sid=…)``), so a
translator works on one file per language and a test can check that both catalogues hold the
same keys with the same ``{placeholders}``, that every key the code asks for exists, and that a
Chinese screen shows no English. The language follows the study (``study.language``) once the
vault is unlocked, or the ``FIELDSCRIBE_UI_LANGUAGE`` setting. A key missing from the chosen
catalogue falls back to English, then to the key itself, so a gap is never a crash.

Key labels are looked up by binding id (``key.<id>`` and ``tip.<id>``); Textual's own bindings
(Tab, cursor keys, the palette) have no id and are looked up by their English description
in the ``textual`` table.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh")
LOCALE_DIR = Path(__file__).parent / "locale"

_language = "zh" if os.environ.get("FIELDSCRIBE_UI_LANGUAGE", "en").lower().startswith("zh") else "en"


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """The flat key → text table of one language (sections joined with dots)."""
    with open(LOCALE_DIR / f"{language}.toml", "rb") as f:
        raw = tomllib.load(f)
    flat: dict[str, str] = {}

    def walk(prefix: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            else:
                flat[name] = str(value)

    walk("", raw)
    return flat


def set_language(language: str) -> None:
    global _language
    _language = "zh" if language.lower().startswith("zh") else "en"


def language() -> str:
    return _language


def has(key: str) -> bool:
    return key in catalogue(_language) or key in catalogue("en")


def tr(key: str, **params: object) -> str:
    """The text for KEY in the UI language, with PARAMS filled in."""
    text = catalogue(_language).get(key) or catalogue("en").get(key) or key
    return text.format(**params) if params else text


def _numbered(prefix: str, binding_id: str) -> str | None:
    """``key.interview.probe3`` is ``key.interview.probe`` with n=3 (numbered families)."""
    if has(f"{prefix}.{binding_id}"):
        return tr(f"{prefix}.{binding_id}")
    base = binding_id.rstrip("0123456789")
    if base != binding_id and has(f"{prefix}.{base}"):
        return tr(f"{prefix}.{base}", n=binding_id[len(base) :])
    return None


def tr_or(key: str, default: str) -> str:
    """The catalogue's word for KEY, or DEFAULT (a value from data the catalogue cannot list)."""
    return tr(key) if has(key) else default


def key_label(binding_id: str | None, description: str) -> str:
    """A footer label: by the binding's id when it has one, else Textual's English description."""
    if binding_id:
        return _numbered("key", binding_id) or description
    return catalogue(_language).get(f"textual.{description}", description)


def key_tip(binding_id: str | None, tooltip: str) -> str:
    if binding_id:
        return _numbered("tip", binding_id) or tooltip
    return catalogue(_language).get(f"textual.{tooltip}", tooltip)


def error_text(exc: BaseException) -> str:
    """A typed error in the app's words: ``error.<ErrorClass>`` from the catalogue with the
    error's params (the app's own way of fixing it, in the UI language), else its sentence."""
    key = f"error.{type(exc).__name__}"
    if not has(key):
        return str(exc)
    try:
        return tr(key, **getattr(exc, "params", {}))
    except (KeyError, IndexError):  # the catalogue wants a param the error lacks: its own sentence
        return str(exc)
