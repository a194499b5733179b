"""Every state the interview screen can be in has a label in both languages: the badge must
never show a raw key such as ``state.starting``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldscribe.tui import strings

INTERVIEW = Path(strings.__file__).parent / "screens" / "interview.py"


def _states() -> set[str]:
    text = INTERVIEW.read_text(encoding="utf-8")
    return set(re.findall(r'set_state\("([a-z]+)"\)', text)) | set(re.findall(r'self\.state = "([a-z]+)"', text))


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_interview_state_has_a_label(language):
    states = _states()
    assert {"ready", "starting", "recording", "stopped"} <= states, states
    previous = strings.language()
    strings.set_language(language)
    try:
        for state in sorted(states):
            assert strings.tr(f"state.{state}") != f"state.{state}", f"no {language} label for {state!r}"
    finally:
        strings.set_language(previous)
