"""The interface's words live in one catalogue per language, and the two agree.

Static checks over the app's source: every key the code asks for exists in both catalogues
with the same placeholders; every key binding has a label in both; no screen passes an
English literal to the user (notifications, labels, dialogs, placeholders) around the
catalogue. What a screen actually shows is checked in Chinese by tests/test_tui_chinese.py.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from fieldscribe.tui import strings
from fieldscribe.tui.keys import binding_ids

TUI = Path(strings.__file__).parent
SOURCES = sorted(TUI.rglob("*.py"))
INTERVIEW = TUI / "screens" / "interview.py"
# calls whose text arguments reach the screen
SHOWN = {"notify", "update", "Label", "Static", "Button", "Confirm", "AskText", "ChooseOne", "problem", "Option"}
SHOWN_KEYWORDS = {"placeholder", "prompt", "title", "message"}
WORD = re.compile(r"[A-Za-z]{3,}")
PROPER = {"fieldscribe", "Whisper"}  # names, the same in every language


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_hold_the_same_keys_and_placeholders():
    en, zh = strings.catalogue("en"), strings.catalogue("zh")
    ours = {k for k in en if not k.startswith("textual.")}
    assert ours - set(zh) == set(), "missing in zh.toml"
    assert {k for k in zh if not k.startswith("textual.")} - ours == set(), "only in zh.toml"
    for key in ours:
        assert _placeholders(en[key]) == _placeholders(zh[key]), key
    # a Chinese entry that is still English is a missing translation
    untranslated = [
        k for k in ours if zh[k] == en[k] and any(w not in PROPER for w in WORD.findall(re.sub(r"{[^}]*}", "", zh[k])))
    ]
    assert untranslated == []


def _tr_keys() -> list[tuple[Path, int, str, bool]]:
    """(file, line, key or its constant prefix, whether it is only a prefix) of every tr() call."""
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((path, node.lineno, arg.value, False))
                elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                    found.append((path, node.lineno, str(arg.values[0].value), True))
                elif isinstance(arg, ast.BinOp) and isinstance(arg.left, ast.Constant):
                    found.append((path, node.lineno, str(arg.left.value), True))
    return found


def test_every_key_the_code_asks_for_is_in_the_catalogue():
    en = strings.catalogue("en")
    calls = _tr_keys()
    assert len(calls) > 100  # the scan sees the screens
    missing = [
        f"{p.name}:{line} {key}"
        for p, line, key, prefix in calls
        if not (any(k.startswith(key) for k in en) if prefix else key in en)
    ]
    assert missing == []


def test_every_key_binding_has_a_label_in_both_languages():
    for language in strings.LANGUAGES:
        table = strings.catalogue(language)
        for binding_id in binding_ids():
            base = binding_id.rstrip("0123456789")
            assert f"key.{binding_id}" in table or f"key.{base}" in table, (language, binding_id)


def _english_literals(node: ast.AST) -> list[str]:
    """String constants in NODE with English words in them (f-string parts included)."""
    out = []
    for sub in ast.walk(node):
        words = WORD.findall(sub.value) if isinstance(sub, ast.Constant) and isinstance(sub.value, str) else []
        if any(w not in PROPER for w in words):
            out.append(sub.value)
        if isinstance(sub, ast.Call) and getattr(sub.func, "id", None) == "tr":
            return []  # the catalogue's words (its key is English by design)
    return out


def test_no_screen_shows_english_around_the_catalogue():
    leaks = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            args = list(node.args) if name in SHOWN else []
            args += [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
            for arg in args:
                if isinstance(arg, ast.Call) and getattr(arg.func, "id", None) == "tr":
                    continue
                for text in _english_literals(arg):
                    leaks.append(f"{path.relative_to(TUI)}:{node.lineno} {text!r}")
    assert leaks == []


def _states() -> set[str]:
    text = INTERVIEW.read_text(encoding="utf-8")
    return set(re.findall(r'set_state\("([a-z]+)"\)', text)) | set(re.findall(r'self\.state = "([a-z]+)"', text))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_interview_state_has_a_label(language):
    """The badge must never show a raw key such as ``state.starting``."""
    states = _states()
    assert {"ready", "starting", "recording", "stopped"} <= states, states
    previous = strings.language()
    strings.set_language(language)
    try:
        for state in sorted(states):
            assert strings.tr(f"state.{state}") != f"state.{state}", f"no {language} label for {state!r}"
    finally:
        strings.set_language(previous)


def test_a_missing_key_falls_back_instead_of_crashing():
    previous = strings.language()
    strings.set_language("zh")
    try:
        assert strings.tr("no.such.key") == "no.such.key"
        assert strings.tr("home.planned", sid="S1", pid="P1") == "已安排与 P1 的访谈 S1。"
        assert strings.key_label("interview.probe3", "Probe 3") == "追问 3"
        assert strings.key_label(None, "Scroll Up") == "向上滚动"
    finally:
        strings.set_language(previous)
