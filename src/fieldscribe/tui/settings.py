"""The app's settings, each read from one environment variable so a study team can set them
once in a shell profile or launcher, plus an optional keymap file.

FIELDSCRIBE_IDLE_LOCK   seconds without a key press before the vault locks itself (default
                        300; 0 turns auto-lock off). A running recording is never interrupted:
                        the lock waits until it stops.
FIELDSCRIBE_LIVE        1 (default) transcribes while recording; 0 leaves it for later, which
                        spares the CPU on a slow laptop. Also yes/no, true/false, on/off.
FIELDSCRIBE_UI_LANGUAGE en or zh; by default the study's language once the vault is open.
FIELDSCRIBE_KEYMAP      the keymap file (default: keymap.toml in the user config folder, used
                        if it exists). It remaps keys by binding id, for example::

                            [keys]
                            "interview.record" = "f5"
                            "home.review" = "v,ctrl+r"

Empty variables count as unset. A bad value raises :class:`InvalidInput` with one sentence.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_config_path

from ..services import InvalidInput

ENV_IDLE_LOCK = "FIELDSCRIBE_IDLE_LOCK"
ENV_LIVE = "FIELDSCRIBE_LIVE"
ENV_LANGUAGE = "FIELDSCRIBE_UI_LANGUAGE"
ENV_KEYMAP = "FIELDSCRIBE_KEYMAP"

# what to say when a variable's value cannot be used, by field
_FIX = {
    "idle_lock_s": "use a number of seconds, 0 or more (0 turns auto-lock off), such as 300",
    "live_transcription": "use 1 or 0 (or yes/no, true/false, on/off)",
    "language": "use en or zh, or unset it to follow the study's language",
}
_ENV_OF = {"idle_lock_s": ENV_IDLE_LOCK, "live_transcription": ENV_LIVE, "language": ENV_LANGUAGE}
_TRUE = frozenset({"1", "yes", "y", "true", "t", "on"})
_FALSE = frozenset({"0", "no", "n", "false", "f", "off"})
_LANGUAGES = ("en", "zh")
_UNSET: Any = object()


def keymap_path() -> Path:
    """Where the keymap file is looked for: FIELDSCRIBE_KEYMAP, else the user config folder."""
    explicit = os.environ.get(ENV_KEYMAP, "").strip()
    return Path(explicit).expanduser() if explicit else user_config_path("fieldscribe") / "keymap.toml"


def load_keymap(path: Path, *, required: bool) -> dict[str, str]:
    """The ``[keys]`` table of a keymap file, checked against the app's binding ids."""
    if not path.exists():
        if required:
            raise InvalidInput(
                f"The keymap file {path} ({ENV_KEYMAP}) does not exist; create it or unset {ENV_KEYMAP}."
            )
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The keymap file {path} cannot be read ({exc}); fix its permissions or remove it."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"The keymap file {path} is not valid TOML ({exc}); fix it, e.g. [keys] then \"interview.record\" = \"f5\"."
        ) from None
    keys = data.get("keys", {})
    unexpected = sorted(set(data) - {"keys"})
    if unexpected or not isinstance(keys, dict):
        raise InvalidInput(
            f"The keymap file {path} should hold only a [keys] table of binding ids and keys; "
            f"move {', '.join(unexpected) or 'keys'} into it as e.g. \"interview.record\" = \"f5\"."
        )
    bad_values = sorted(k for k, v in keys.items() if not isinstance(v, str) or not v.strip())
    if bad_values:
        raise InvalidInput(
            f"The keymap file {path} gives no key string for {', '.join(bad_values)}; write e.g. \"f5\" or \"r,ctrl+r\"."
        )
    unknown = sorted(set(keys) - _binding_ids())
    if unknown:
        raise InvalidInput(
            f"The keymap file {path} names unknown binding ids ({', '.join(unknown)}); use ids such as "
            "interview.record or home.review (README lists where to find them)."
        )
    return {k: v.strip() for k, v in keys.items()}


@dataclass(frozen=True, init=False)
class Settings:
    """``Settings(...)`` takes values as given and the rest from the environment (and the
    keymap file); ``Settings.from_env()`` takes everything from there.

    Plain Python rather than pydantic-settings: the app reads its settings before it draws
    its first screen, and that library (with pydantic) was a tenth of the start-up time."""

    idle_lock_s: float = 300.0
    live_transcription: bool = True
    language: Literal["en", "zh"] | None = None
    keymap: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        *,
        idle_lock_s: float | str = _UNSET,
        live_transcription: bool | str = _UNSET,
        language: str | None = _UNSET,
        keymap: dict[str, str] = _UNSET,
    ) -> None:
        given: dict[str, object] = {
            "idle_lock_s": idle_lock_s,
            "live_transcription": live_transcription,
            "language": language,
        }
        for name, value in given.items():
            if value is _UNSET:
                value = os.environ.get(_ENV_OF[name], "")  # noqa: PLW2901
                if not value.strip():
                    continue  # empty variables count as unset
            object.__setattr__(self, name, _PARSE[name](_trimmed(value), name))
        if keymap is _UNSET:
            keymap = load_keymap(keymap_path(), required=bool(os.environ.get(ENV_KEYMAP, "").strip()))
        else:
            unknown = sorted(set(keymap) - _binding_ids())
            if unknown:
                raise InvalidInput(
                    f"The keymap is not usable (unknown binding ids {', '.join(unknown)}); "
                    "use binding ids such as interview.record or home.review."
                )
        object.__setattr__(self, "keymap", dict(keymap))

    @classmethod
    def from_env(cls) -> Settings:
        return cls()


def _trimmed(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _seconds(value: object, name: str) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(_one_sentence(name, value)) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput(_one_sentence(name, value))
    return seconds


def _flag(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value in _TRUE | _FALSE:
        return value in _TRUE
    raise InvalidInput(_one_sentence(name, value))


def _language(value: object, name: str) -> str | None:
    if value is None or value in _LANGUAGES:
        return value
    raise InvalidInput(_one_sentence(name, value))


_PARSE = {"idle_lock_s": _seconds, "live_transcription": _flag, "language": _language}


def _binding_ids() -> frozenset[str]:
    from .keys import binding_ids  # every screen's bindings: loaded only when a keymap is given

    return binding_ids()


def _one_sentence(name: str, value: object) -> str:
    return f"{_ENV_OF[name]}={value!r} is not usable; {_FIX[name]}."
