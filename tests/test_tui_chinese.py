"""A Chinese study's field day, screen by screen, in the real app (Pilot): every screen it
visits — unlock, dashboard, help, palette, the three enrolment steps, the interview with its
dialogs, review — shows no English words except names and key names.

What the screen shows is read off the app's own screenshot (tests/screen_text.py), so this
catches English from anywhere: our catalogue, Textual's widgets, the services' wording."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input, Select

from fieldscribe.tui.screens.enrol import ConsentScreen, EligibilityScreen, QuestionnaireScreen
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.home import HomeScreen
from fieldscribe.tui.screens.interview import InterviewScreen
from fieldscribe.tui.screens.review import ReviewScreen
from fieldscribe.tui.strings import set_language

from .conftest import FAST_KDF, PASSPHRASE
from .screen_text import screen_text
from .test_deidentify import transcript_session
from .tui_helpers import app_for, unlock

# names and key names: the same in every language
ALLOWED = {
    "fieldscribe",
    "whisper",
    "mib",
    # key names, as the keyboard labels them
    *("ctrl", "esc", "escape", "tab", "shift", "backspace", "delete", "del", "space", "enter"),
    *("left", "right", "up", "down", "home", "end", "pageup", "pagedown"),
}
WORD = re.compile(r"[A-Za-z]{3,}")


def english(text: str) -> list[str]:
    return sorted({w for w in WORD.findall(text) if w.lower() not in ALLOWED})


async def wait_for(pilot, cls, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if isinstance(pilot.app.screen, cls):
            await pilot.pause(0.1)
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{cls.__name__} never came; screen is {pilot.app.screen!r}")


@pytest.fixture
def zh_field(vault_path, study_zh):
    """A Chinese study with one person whose interview is transcribed, waiting for review."""
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.vault import Vault

    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_zh)
        transcript_session(
            v,
            study_zh.study,
            "王小明",
            ["我叫王小明，住在沙田。", "小组对我帮助很大。", "我姐姐每个星期天来看我。"],
            language="zh",
        )
    yield vault_path
    set_language("en")


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_a_chinese_field_day_shows_no_english(zh_field, size):
    app = app_for(zh_field, language="zh")  # a Chinese study's laptop (FIELDSCRIBE_UI_LANGUAGE=zh)
    seen: dict[str, list[str]] = {}

    def look(name: str) -> None:
        seen[name] = english(screen_text(app))

    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        look("unlock")
        await unlock(pilot)
        look("home")
        await pilot.press("f1")
        await wait_for(pilot, HelpScreen)
        look("help")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        look("palette")
        await pilot.press("escape")
        await wait_for(pilot, HomeScreen)

        # enrol a second person
        await pilot.press("e")
        await wait_for(pilot, EligibilityScreen)
        look("eligibility")
        screen = app.screen
        form = app.services.enrolment_form()
        screen.query_one("#group", Select).value = form.groups[0].value
        for c in form.inclusion:
            screen.query_one(f"#inc-{c.id}").value = True
        await pilot.press("ctrl+n")
        await wait_for(pilot, ConsentScreen)
        look("consent")
        for _ in app.screen.items:
            await pilot.press("y")
        await pilot.pause()
        look("consent answered")
        await pilot.press("ctrl+n")
        await wait_for(pilot, QuestionnaireScreen)
        screen = app.screen
        for f in form.fields:
            if f.input == "choice":
                screen.query_one(f"#q-{f.id}", Select).value = f.choices[0].value
            elif f.input in ("integer", "number"):
                screen.query_one(f"#q-{f.id}", Input).value = "400"  # out of range: the error is Chinese too
        await pilot.pause()
        look("questionnaire, a wrong answer")
        for f in form.fields:
            if f.input in ("integer", "number"):
                screen.query_one(f"#q-{f.id}", Input).value = f"{f.low or 0:g}"
        await pilot.press("ctrl+s")
        await wait_for(pilot, HomeScreen)
        look("home after enrolling")

        # plan and open an interview with them, record, note, stop
        await pilot.press("n")
        await pilot.pause(0.2)
        look("plan dialog")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("tab")
        await pilot.press("enter")
        await wait_for(pilot, InterviewScreen)
        look("interview")
        await pilot.press("r")
        for _ in range(100):
            if app.screen.state == "recording":
                break
            await pilot.pause(0.05)
        look("recording")
        await pilot.press("m")
        await pilot.pause(0.2)
        look("note dialog")
        await pilot.press("1")
        await pilot.press("s")
        await pilot.pause(0.2)
        look("stop dialog")
        await pilot.press("y")
        for _ in range(100):
            if app.screen.state == "stopped":
                break
            await pilot.pause(0.05)
        look("stopped")
        await pilot.press("escape")
        await wait_for(pilot, HomeScreen)

        # review the transcribed interview (S1)
        table = app.screen.query_one("#sessions")
        table.move_cursor(row=0)
        table.focus()
        await pilot.press("v")
        await wait_for(pilot, ReviewScreen)
        for _ in range(600):
            if not app.screen.finding:
                break
            await pilot.pause(0.05)
        look("review")
        await pilot.press("d")
        await pilot.pause(0.2)
        look("reviewed? dialog")

    assert {k: v for k, v in seen.items() if v} == {}
    assert len(seen) >= 15
