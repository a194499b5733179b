"""The participant's page in the real app (Pilot, real vault): consent taken again item by item,
identifiers and notes added, the consent summary written, and withdrawal — each as the
interviewer's keys, with no detour to the command line."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input

from fieldscribe.core import consent
from fieldscribe.core.vault import Vault
from fieldscribe.tui.screens.home import HomeScreen
from fieldscribe.tui.screens.interview import InterviewScreen
from fieldscribe.tui.screens.participant import ParticipantScreen, RetakeConsent

from .conftest import PASSPHRASE
from .test_tui import notifications, wait_until
from .tui_helpers import app_for, make_vault, unlock


async def open_page(pilot) -> None:
    pilot.app.screen.query_one("#people").focus()
    await pilot.press("p")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ParticipantScreen), what="the participant page")


def page_text(app, widget: str) -> str:
    return str(app.screen.query_one(widget).render())


async def type_into_dialog(pilot, text: str) -> None:
    await pilot.pause()
    pilot.app.screen.query_one("#answer", Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_consent_refused_for_audio_is_taken_again_in_the_app_and_recording_works(vault_path, study_en):
    make_vault(vault_path, study_en)
    v = Vault.open(vault_path)
    v.unlock(PASSPHRASE)
    with v:
        audio = study_en.study.audio_consent_item.id
        consent.record_consent(v, study_en.study, "P1", {audio: False})
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        # recording is refused, and the sentence no longer sends anyone to the command line
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InterviewScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.state == "ready" and notifications(app), what="the refusal")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await open_page(pilot)
        assert "no audio" in page_text(app, "#person-consent")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, RetakeConsent))
        items = app.screen.items
        assert items[-1].audio_recording
        for _ in items[:-1]:
            await pilot.press("right")  # keep the earlier answers
        await pilot.press("y")  # they now agree to the recording
        await wait_until(pilot, lambda: isinstance(app.screen, ParticipantScreen))
        await pilot.pause()
        assert "Consent: complete" in page_text(app, "#person-consent")
        assert app.services.consent_status("P1").state == "complete"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        app.screen.query_one("#sessions").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InterviewScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.state == "recording", what="the recording")
        await pilot.press("s", "y")
        await wait_until(pilot, lambda: app.screen.state == "stopped", what="the stop")


async def test_escape_while_retaking_consent_saves_nothing(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await open_page(pilot)
        before = app.services.consent_status("P1")
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, RetakeConsent))
        await pilot.press("n", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ParticipantScreen))
        assert app.services.consent_status("P1") == before


async def test_identifiers_and_notes_are_added_on_the_page(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await open_page(pilot)
        assert "Mary Chan" in page_text(app, "#person-identifiers")  # their own name, to look for
        await pilot.press("i")
        await type_into_dialog(pilot, "Eric=[brother], Lucky Star Café=[café]")
        assert {"Eric", "Lucky Star Café"} <= {i.text for i in app.services.participant_identifiers("P1")}
        assert "Eric → [brother]" in page_text(app, "#person-identifiers")
        await pilot.press("m")
        await type_into_dialog(pilot, "Prefers mornings; bring the large-print consent form.")
        assert [n.text for n in app.services.participant_notes("P1")] == [
            "Prefers mornings; bring the large-print consent form."
        ]
        assert "large-print" in page_text(app, "#person-notes")


async def test_the_consent_summary_is_written_without_the_name(vault_path, study_en, tmp_path):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await open_page(pilot)
        await pilot.press("s")
        await type_into_dialog(pilot, str(tmp_path / "copy.html"))
        page = (tmp_path / "copy.html").read_text(encoding="utf-8")
        assert "P1" in page and "Mary" not in page
        assert study_en.study.consent[0].text.split()[0] in page
        assert any("copy.html" in n for n in notifications(app))


async def test_withdrawal_says_what_happens_and_needs_the_pseudonym_typed(vault_path, study_en):
    make_vault(vault_path, study_en, people=2)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await open_page(pilot)
        await pilot.press("w")
        await pilot.pause()
        question = str(app.screen.query_one(".dialog-text").render())
        assert "data key is destroyed" in question and "S1" in question and "Type P1" in question
        await type_into_dialog(pilot, "P2")  # the wrong one: nothing happens
        assert any("did not match" in n for n in notifications(app))
        assert app.services.consent_status("P1").participant == "P1"
        await pilot.press("w")
        await type_into_dialog(pilot, "P1")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), what="the dashboard")
        people = app.screen.query_one("#people")
        assert "withdrawn" in str(people.get_row("P1"))
        assert app.services.session("S1").status == "withdrawn"


async def test_playback_shows_where_it_is_and_space_stops_it(vault_path, study_en, monkeypatch):
    """The review screen's side of playback (the sound device itself is tested in
    test_e2e_record and the core's playback tests): the position is shown while it plays and
    Space stops it."""
    from fieldscribe.core.guides import import_guide
    from fieldscribe.tui.screens.review import ReviewScreen

    from .conftest import FAST_KDF
    from .test_deidentify import transcript_session

    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_en)
        transcript_session(v, study_en.study, "Ann Lee", ["The group helps me.", "I go on Mondays."])
    asked: list[tuple[float, float | None]] = []

    def play(sid, start, end, cancel=None, on_position=None):
        asked.append((start, end))
        heard = 0.0
        while not cancel.wait(0.05):
            heard = min(heard + 0.5, 3.0)
            on_position(heard)
        return heard

    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        monkeypatch.setattr(app.services, "play", play)
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("down", "space")
        await wait_until(pilot, lambda: "0:00:08" in page_text(app, "#playback"), what="the position")
        assert "/ 0:00:09" in page_text(app, "#playback") and app.screen.query_one("#playback").display
        assert asked == [(5.0, 9.0)]
        await pilot.press("space")
        await wait_until(pilot, lambda: not app.screen.query_one("#playback").display, what="the stop")


def _laptop(disk_hours: float, battery: float | None, on_mains: bool | None):
    from fieldscribe.services.field import LaptopStatus

    disk = "critical" if disk_hours < 0.5 else "warning" if disk_hours < 2 else "ok"
    bat = "ok"
    if battery is not None and not on_mains:
        bat = "critical" if battery <= 10 else "warning" if battery <= 20 else "ok"
    worst = max((disk, bat), key=["ok", "warning", "critical"].index)
    return LaptopStatus(worst, "", "", (), 10**9, disk_hours * 3600, battery, on_mains, disk, bat)


async def test_disk_and_battery_warnings_on_the_dashboard_and_during_a_recording(vault_path, study_en, monkeypatch):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        assert "Battery" not in page_text(app, "#attention")  # a laptop with room and power says nothing
        monkeypatch.setattr(app.services, "laptop_status", lambda: _laptop(1.5, 8, False))
        app.screen.check_laptop()
        await pilot.pause()
        text = page_text(app, "#attention")
        assert text.index("Battery 8% and not charging") < text.index("Disk: about 1.5 h")  # worst first
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InterviewScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.state == "recording", what="the recording")
        app.screen.check_laptop()  # as its 30 s timer would
        await pilot.pause()
        said = [n for n in notifications(app) if "Battery 8%" in n]
        assert len(said) == 1  # said once, not every 30 s
        await pilot.press("s", "y")
        await wait_until(pilot, lambda: app.screen.state == "stopped", what="the stop")


async def test_time_on_the_question_and_a_cue_when_the_part_runs_long(vault_path, study_en, monkeypatch):
    from fieldscribe.services.field import QuestionTiming

    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InterviewScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: app.screen.state == "recording", what="the recording")
        screen = app.screen
        q = screen.questions[0]
        await wait_until(pilot, lambda: "this question 0:00:0" in page_text(app, "#timing"), what="the timer")
        budget = screen.run.domain_budgets()[q.domain_id]
        assert budget and f"of 0:{budget:02.0f}:00" in page_text(app, "#timing")  # the study's budget
        assert not screen.query_one("#timing").has_class("-over")
        monkeypatch.setattr(
            screen.run, "timing", lambda: QuestionTiming(q.id, q.domain_id, 300.0, budget * 60 + 90, budget * 60)
        )
        await pilot.pause(0.4)
        assert "over the time planned" in page_text(app, "#timing")
        assert screen.query_one("#timing").has_class("-over")
        await pilot.press("s", "y")
        await wait_until(pilot, lambda: app.screen.state == "stopped", what="the stop")


async def test_a_chinese_consent_summary_is_a_pdf_in_chinese(vault_path, study_zh, tmp_path):
    """With a Chinese font on the laptop (scripts/ install fonts-wqy-microhei on Debian), the
    participant's copy is a PDF in the study's language, found without any setting."""
    import shutil
    import subprocess

    from pypdf import PdfReader

    if (
        not shutil.which("fc-list")
        or not subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False).stdout.strip()
    ):
        pytest.skip("no Chinese font on this machine (scripts/setup installs fonts-wqy-microhei)")
    make_vault(vault_path, study_zh, name="王小明")
    app = app_for(vault_path, language="zh")
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await open_page(pilot)
        await pilot.press("s")
        await type_into_dialog(pilot, str(tmp_path / "copy.pdf"))
        await wait_until(pilot, (tmp_path / "copy.pdf").exists, what="the PDF")
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "copy.pdf").pages).replace(" ", "")
    assert "P1" in text and "王小明" not in text
    assert study_zh.study.consent[0].text.replace(" ", "")[:10] in text
    from fieldscribe.tui.strings import set_language

    set_language("en")


async def test_review_rows_wrap_and_show_what_will_leave_the_laptop(vault_path, study_en):
    """A long segment is read whole in its row (it wraps instead of being cut), and once a
    redaction is accepted the row shows its descriptor, not the words it hides."""
    from fieldscribe.core.guides import import_guide
    from fieldscribe.tui.screens.review import ReviewScreen

    from .conftest import FAST_KDF
    from .screen_text import screen_text
    from .test_deidentify import transcript_session

    long_line = (
        "My name is Ann Lee and I have been coming to the group on Tuesdays for about two years now, "
        "ever since the ward, and it is the one place where nobody rushes me to the end of a sentence."
    )
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_en)
        transcript_session(v, study_en.study, "Ann Lee", [long_line, "The group helps me."])
    app = app_for(vault_path)
    async with app.run_test(size=(100, 36)) as pilot:
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and not app.screen.finding)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "end of a sentence." in text  # the last words of the long segment are on screen
        table = app.screen.query_one("#segments")
        assert "Ann Lee" in str(table.get_row_at(0)[3])
        await pilot.press("a")  # accept the first segment's suggestions
        await wait_until(pilot, lambda: "[P1]" in str(table.get_row_at(0)[3]), what="the descriptor in the row")
        assert "Ann Lee" not in str(table.get_row_at(0)[3])


async def test_eligibility_ticks_show_their_state_without_colour(vault_path, study_en):
    from fieldscribe.tui.screens.enrol import EligibilityScreen

    from .screen_text import screen_text

    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EligibilityScreen))
        await pilot.pause()
        text = screen_text(app)
        marks = re.findall(r"▐(.?)▌", text)  # the screenshot drops a blank mark's space
        assert len(marks) == 6 and set(marks) <= {"", " "}  # unticked: blank, not a dim X
        first = app.screen.query(".form TickBox").first()
        first.value = True
        await pilot.pause()
        assert re.findall(r"▐(.?)▌", screen_text(app)).count("✔") == 1
