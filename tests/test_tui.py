"""The interviewer's app, driven with Pilot against real vaults, real crypto and the real
recorder (on a clocked fake microphone); assertions are on vault state and on the messages
the app emitted. The real microphone and the real model are in test_tui_tmux."""

from __future__ import annotations

from collections import deque

import pytest
from textual.widgets import Input, Select

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.recordings import recording_info
from fieldscribe.core.transcripts import current_transcript, load_segments
from fieldscribe.core.vault import Vault
from fieldscribe.services import Services
from fieldscribe.tui import messages as m
from fieldscribe.tui.app import FieldscribeApp
from fieldscribe.tui.screens.enrol import ConsentScreen, EligibilityScreen, QuestionnaireScreen
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.home import HomeScreen
from fieldscribe.tui.screens.interview import InterviewScreen
from fieldscribe.tui.screens.review import ReviewScreen
from fieldscribe.tui.screens.unlock import UnlockScreen
from fieldscribe.tui.settings import Settings

from .conftest import FAST_KDF, PASSPHRASE
from .test_deidentify import transcript_session
from .tui_helpers import app_for, make_vault, unlock
from .tui_messages import Messages


async def wait_until(pilot, condition, timeout: float = 10.0, what: str = "condition") -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}; screen is {pilot.app.screen!r}")


async def open_interview(pilot) -> None:
    """From the dashboard, with the first session selected."""
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, InterviewScreen), what="the interview screen")


async def answer_dialog(pilot, key: str, text: str) -> None:
    """Press `key`, type `text` into the one-line dialog it opens, and press Enter."""
    await pilot.press(key)
    await pilot.pause()
    pilot.app.screen.query_one("#answer", Input).value = text
    await pilot.press("enter")


def opened(path):
    v = Vault.open(path)
    v.unlock(PASSPHRASE)
    return v


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


def messages_kept_by(app) -> list[m.AppEvent]:
    """The app's messages that the App object holds on to: in an attribute of its own, or in a
    list, tuple, set, deque or dict there."""
    kept = []
    for value in vars(app).values():
        if isinstance(value, dict):
            items = [*value.keys(), *value.values()]
        elif isinstance(value, (list, tuple, set, frozenset, deque)):
            items = list(value)
        else:
            items = [value]
        kept += [x for x in items if isinstance(x, m.AppEvent)]
    return kept


# -- unlock and lock ----------------------------------------------------------------------------
async def test_a_wrong_passphrase_says_so_and_the_right_one_opens_the_dashboard(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await pilot.pause()
        app.screen.query_one("#passphrase", Input).value = "not the passphrase"
        await pilot.press("enter")
        await wait_until(pilot, lambda: said.of(m.UnlockFailed), what="refusal")
        assert isinstance(app.screen, UnlockScreen)
        error = str(app.screen.query_one("#unlock-error").render())
        assert "passphrase" in error.lower() and "Traceback" not in error
        assert not app.services.unlocked
        await unlock(pilot)
        assert said.of(m.Unlocked)
        table = app.screen.query_one("#people")
        assert table.row_count == 1 and table.get_row_at(0)[0] == "P1"


async def test_locking_clears_every_decrypted_screen_and_forgets_the_keys(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("enter")  # the interview screen shows the guide
        await wait_until(pilot, lambda: isinstance(app.screen, InterviewScreen))
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: said.of(m.LockedNow), what="lock")
        assert isinstance(app.screen, UnlockScreen) and len(app.screen_stack) == 1
        assert not app.services.unlocked
        assert app.screen.query_one("#passphrase", Input).value == ""
        assert said.of(m.Unlocked) and said.of(m.LockedNow), "messages went by..."
        assert not messages_kept_by(app), "...and the App kept none of them to outlive the lock"
        await unlock(pilot)  # and it opens again


async def test_idle_time_locks_the_vault(vault_path, study_en):
    make_vault(vault_path, study_en)
    services = Services(vault_path)
    app = FieldscribeApp(services, Settings(idle_lock_s=1.0, live_transcription=False, language="en"))
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await wait_until(pilot, lambda: said.of(m.LockedNow), timeout=6, what="auto-lock")
        assert said.of(m.LockedNow)[0].reason.startswith("idle")
        assert isinstance(app.screen, UnlockScreen) and not services.unlocked


# -- enrolment ----------------------------------------------------------------------------------
async def eligibility_step(pilot, *, exclusion: bool = False, started: bool = False) -> None:
    app = pilot.app
    if not started:
        await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, EligibilityScreen))
    screen = app.screen
    screen.query_one("#group", Select).value = "service_user"
    screen.query_one("#site", Select).value = "Riverside Day Centre"
    screen.query_one("#name", Input).value = "Wing Yan Lau"
    form = app.services.enrolment_form()
    for c in form.inclusion:
        screen.query_one(f"#inc-{c.id}").value = True
    if exclusion:
        screen.query_one(f"#exc-{form.exclusion[0].id}").value = True
    await pilot.press("ctrl+n")
    await pilot.pause()


async def test_enrolment_through_eligibility_consent_and_questionnaire(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(110, 40), message_hook=said) as pilot:
        await unlock(pilot)
        await eligibility_step(pilot)
        await wait_until(pilot, lambda: isinstance(app.screen, ConsentScreen))
        items = app.screen.items
        assert items[-1].audio_recording, "audio recording is asked last, on its own"
        # agree to everything except the optional/last item is audio: refuse audio, go back, agree
        for _ in items[:-1]:
            await pilot.press("y")
        await pilot.press("n")
        await pilot.press("backspace")
        await pilot.press("y")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionnaireScreen))
        screen = app.screen
        screen.query_one("#q-age", Input).value = "230"  # out of range: refused, nothing stored
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "between 18 and 65" in str(screen.query_one("#err-age").render())
        assert not said.of(m.ParticipantEnrolled)
        screen.query_one("#q-age", Input).value = "34"
        screen.query_one("#compensation", Input).value = "£20 voucher"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: said.of(m.ParticipantEnrolled), what="enrolment")
        assert said.of(m.ParticipantEnrolled)[0].pid == "P2"
        assert isinstance(app.screen, HomeScreen)
    v = opened(vault_path)
    with v:
        p = participants.get_participant(v, "P2")
        assert p.identity["name"] == "Wing Yan Lau" and p.baseline["age"] == 34 and p.site == "Riverside Day Centre"
        assert p.compensation["given"] == "£20 voucher" and p.eligibility["screened"]
        assert all(d.given for d in consent.current_consent(v, "P2").values())
        assert len(consent.current_consent(v, "P2")) == len(study_en.study.consent)


async def test_an_exclusion_blocks_enrolment_and_stores_nothing(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(110, 40)) as pilot:
        await unlock(pilot)
        await eligibility_step(pilot, exclusion=True)
        assert isinstance(app.screen, EligibilityScreen)
        assert "Not eligible" in str(app.screen.query_one("#problem").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
    v = opened(vault_path)
    with v:
        assert [p.id for p in participants.list_participants(v)] == ["P1"]


# -- the interview ------------------------------------------------------------------------------
async def test_an_interview_with_questions_probes_notes_a_flag_pause_and_stop(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await open_interview(pilot)
        screen = app.screen
        await pilot.press("s")  # nothing to stop yet: says so, changes nothing
        await pilot.press("r")
        await wait_until(pilot, lambda: said.of(m.RecordingStarted), what="recording")
        await pilot.pause(0.6)
        await pilot.press("right")
        await pilot.pause(0.3)
        await pilot.press("1")  # first probe of question 2
        await pilot.press("m")
        await pilot.pause()
        await pilot.press("1")  # preset: laughs
        await pilot.pause(0.3)
        await pilot.press("f")
        await pilot.press("space")
        await pilot.pause(0.4)
        assert screen.state == "paused"
        await pilot.press("space")
        await pilot.press("right", "left")
        await pilot.pause(0.5)
        await wait_until(pilot, lambda: screen.query_one("#level").db > -40, what="the level meter to move")
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: said.of(m.RecordingStopped), what="stop")
        assert screen.state == "stopped"
        kinds = [e.kind for e in said.of(m.Marked)]
        assert kinds == ["question", "question", "probe", "note", "flag", "pause", "resume", "question", "question"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
    v = opened(vault_path)
    with v:
        events = timeline.events(v, "S1")
        questions = [e.data["question"] for e in events if e.kind == "question"]
        order = [q.id for _d, q in study_en.study.questions("service_user")]
        assert questions == [order[0], order[1], order[2], order[1]]
        note = next(e for e in events if e.kind == "note")
        assert note.data == {"text": "laughs", "preset": "laughs"}
        assert [e.kind for e in events].count("flag") == 1
        probe = next(e for e in events if e.kind == "probe")
        assert probe.data == {"question": order[1], "probe": 1}
        times = [e.t for e in events if e.kind != "warning"]
        assert times == sorted(times), "every mark is stamped on the audio clock, in order"
        info = recording_info(v, "S1")
        assert info.state == "complete" and info.seconds > 1.5
        assert sessions.get_session(v, "S1").status == "recorded"


async def test_recording_without_audio_consent_is_refused_in_one_sentence(vault_path, study_en):
    make_vault(vault_path, study_en)
    v = opened(vault_path)
    with v:
        consent.record_consent(v, study_en.study, "P1", {study_en.study.audio_consent_item.id: False})
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await open_interview(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: any("consent" in n for n in notifications(app)), what="refusal")
        text = next(n for n in notifications(app) if "consent" in n)
        assert "Audio-recording consent is missing for P1" in text and "Traceback" not in text
        assert app.screen.state == "ready" and not said.of(m.RecordingStarted)
    v = opened(vault_path)
    with v:
        assert recording_info(v, "S1") is None


# -- transcription progress ---------------------------------------------------------------------
class _SlowTranscriber(Services):
    """The real services, but transcription is a few progress steps (the model is not the point)."""

    def transcribe(self, sid, *, on_progress=None, cancel=None):
        from fieldscribe.services.views import Progress, TranscriptionResult

        for i in range(5):
            if cancel is not None and cancel.is_set():
                break
            on_progress(Progress(i * 10.0, 50.0, 0.1 * (i + 1)))
            import time

            time.sleep(0.1)
        return TranscriptionResult(True, 50.0, 50.0)


async def test_transcription_shows_progress_while_the_app_stays_responsive(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = FieldscribeApp(_SlowTranscriber(vault_path), Settings(idle_lock_s=0, live_transcription=False))
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("t")
        await wait_until(pilot, lambda: app.screen.query_one("#work-line").display, what="progress bar")
        await pilot.press("down", "up")  # the table still moves while the worker runs
        await wait_until(pilot, lambda: said.of(m.WorkDone), what="done")
        assert said.of(m.WorkProgress)
        assert "Transcribed S1" in said.of(m.WorkDone)[0].summary
        assert not app.screen.query_one("#work-line").display


# -- review -------------------------------------------------------------------------------------
async def test_review_edit_speaker_redaction_and_reviewed(vault_path, study_en):
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        from fieldscribe.core.guides import import_guide

        import_guide(v, study_en)
        _pid, sid = transcript_session(
            v,
            study_en.study,
            "Ann Lee",
            ["My name is Ann Lee and I go to Riverside.", "The group helps me a lot.", "My sister visits on Sundays."],
            events=[("flag", 6.0, {"text": ""})],
        )
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        table = screen.query_one("#segments")
        assert table.row_count == 3
        assert str(table.get_row_at(1)[0]).startswith("⚑"), "the flagged moment is marked for the reviewer"
        assert "Ann Lee" in str(screen.query_one("#detail").render())
        # correct the words of segment 2
        await pilot.press("down")
        await answer_dialog(pilot, "e", "The peer group helps me a lot.")
        await wait_until(pilot, lambda: said.of(m.SegmentEdited), what="edit")
        # and its speaker
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("down", "enter")  # second option: interviewer
        await wait_until(pilot, lambda: len(said.of(m.SegmentEdited)) == 2, what="speaker")
        # D asks first; N leaves it as it was
        await pilot.press("d")
        await pilot.pause()
        assert "Mark" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and not said.of(m.TranscriptReviewed)
        # reviewing with undecided suggestions is refused
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not said.of(m.TranscriptReviewed)
        assert any("not decided yet" in n for n in notifications(app))
        # the reviewer's own redaction, then accept the rest
        await answer_dialog(pilot, "x", "Sundays=[day of the week]")
        await wait_until(pilot, lambda: said.of(m.RedactionsChanged), what="redaction")
        await pilot.press("A")
        await wait_until(pilot, lambda: len(said.of(m.RedactionsChanged)) == 2, what="accept all")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await wait_until(pilot, lambda: said.of(m.TranscriptReviewed), what="reviewed")
    v = opened(vault_path)
    with v:
        from fieldscribe.core.deid.lists import replacement_table
        from fieldscribe.core.deid.review import deidentified_segments

        segs = load_segments(v, current_transcript(v, sid))
        assert segs[1].text == "The peer group helps me a lot."
        assert segs[1].original_text == "The group helps me a lot." and segs[1].speaker == "interviewer"
        assert sessions.get_session(v, sid).status == "reviewed"
        clean = " ".join(s.text for s in deidentified_segments(v, sid))
        assert "Ann Lee" not in clean and "Sundays" not in clean and "[day of the week]" in clean
        assert replacement_table(v)["Sundays"] == "[day of the week]"


async def test_review_decisions_show_at_once_and_are_saved_in_the_order_made(vault_path, study_en):
    """A and R return at once (a worker saves them, one after the other); the detail shows the
    decision before it is saved, and what is saved is what the reviewer pressed."""
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        from fieldscribe.core.guides import import_guide

        import_guide(v, study_en)
        _pid, _sid = transcript_session(
            v,
            study_en.study,
            "Ann Lee",
            ["My name is Ann Lee.", "My friend Tom Baker came along.", "Call me on 07700 900123 any time."],
        )
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and not app.screen.finding)
        screen = app.screen
        by_row = [sorted({s.n for s in screen.suggested if s.segment == seg.idx}) for seg in screen.segments]
        assert all(by_row), f"every line has a suggestion: {by_row}"
        await pilot.press("a")
        shown = {s.n: s.status for s in screen.suggested}
        assert all(shown[n] == "accepted" for n in by_row[0]), "shown as accepted before it is saved"
        await pilot.press("down", "r", "down", "a")
        await wait_until(pilot, lambda: len(said.of(m.RedactionsChanged)) == 3, what="three decisions saved")
        final = {s.n: s.status for s in screen.suggested}
        assert [final[n] for n in by_row[1]] == ["rejected"] * len(by_row[1])
        assert [final[n] for n in by_row[2]] == ["accepted"] * len(by_row[2])
        assert not screen.reviewed
    v = opened(vault_path)
    with v:
        from fieldscribe.core.deid.lists import rejected_strings, replacement_table

        table = replacement_table(v)
        assert "Ann Lee" in table and any("07700" in k for k in table)
        assert "Tom Baker" not in table and any("tom" in r.lower() for r in rejected_strings(v))


async def test_after_enrolling_p2_n_plans_the_interview_with_p2(vault_path, study_en):
    make_vault(vault_path, study_en, session=False)  # P1 enrolled already
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(110, 40), message_hook=said) as pilot:
        await unlock(pilot)
        await eligibility_step(pilot)
        await wait_until(pilot, lambda: isinstance(app.screen, ConsentScreen))
        for _ in app.screen.items:
            await pilot.press("y")
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionnaireScreen))
        app.screen.query_one("#q-age", Input).value = "41"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: said.of(m.ParticipantEnrolled), what="enrolment")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.pause()
        await pilot.press("n")  # as the message says: "Press N to plan an interview with them"
        await pilot.pause()
        assert "P2" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("enter")  # today, their site, wave 1: as suggested
        await wait_until(pilot, lambda: said.of(m.SessionCreated), what="the plan")
        sid = said.of(m.SessionCreated)[0].sid
        assert app.services.session(sid).participants == ("P2",)


async def test_planning_asks_date_site_and_suggests_the_next_wave(vault_path, study_en):
    make_vault(vault_path, study_en)  # S1, wave 1, planned with P1
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(110, 40), message_hook=said) as pilot:
        await unlock(pilot)
        app.screen.query_one("#people").focus()
        await pilot.press("n")
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one("#plan-wave", Input).value == "2"  # a returning participant: the next wave
        dialog.query_one("#plan-date", Input).value = "2026-12-03"
        dialog.query_one("#plan-site", Select).value = study_en.study.study.sites[1].id
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: said.of(m.SessionCreated), what="the plan")
        plan = app.services.session_plan(said.of(m.SessionCreated)[0].sid)
        assert (plan.wave, plan.date, plan.site_name) == (2, "2026-12-03", study_en.study.study.sites[1].name)
        # a date that is not one says so, and nothing is planned
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#plan-date", Input).value = "next tuesday"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(said.of(m.SessionCreated)) == 1
        assert any("date" in n.lower() for n in notifications(app))


async def test_ctrl_q_during_a_recording_asks_first(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await open_interview(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: said.of(m.RecordingStarted), what="recording")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert "recording is running" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("n")  # keep recording
        await pilot.pause(0.5)
        assert isinstance(app.screen, InterviewScreen) and app.screen.state == "recording"
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")  # stop, save, quit
        await pilot.pause(1.0)
    assert app.return_code == 0 or app.return_code is None
    v = opened(vault_path)
    with v:
        assert sessions.get_session(v, "S1").status == sessions.RECORDED
        assert recording_info(v, "S1").seconds > 0


async def test_the_idle_lock_warns_before_it_locks(vault_path, study_en):
    make_vault(vault_path, study_en)
    services = Services(vault_path)
    app = FieldscribeApp(services, Settings(idle_lock_s=3.0, live_transcription=False, language="en"))
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await wait_until(pilot, lambda: any("Locking in" in n for n in notifications(app)), 6, "the warning")
        assert not said.of(m.LockedNow)
        await wait_until(pilot, lambda: said.of(m.LockedNow), 6, "the lock")


async def test_enter_works_from_either_table_and_the_selection_is_said(vault_path, study_en):
    make_vault(vault_path, study_en, people=2)  # S1 is with P1; P2 has none
    app = app_for(vault_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await unlock(pilot)
        line = app.screen.query_one("#selection")
        assert "session S1" in str(line.render()) and "participant P1" in str(line.render())
        await pilot.press("shift+tab")  # to the participants' table
        await pilot.pause()
        assert app.focused is app.screen.query_one("#people")
        await pilot.press("down", "enter")  # P2: no interview yet, says so
        await pilot.pause()
        assert any("No interview is planned with P2" in n for n in notifications(app))
        assert "participant P2" in str(line.render())
        await pilot.press("up", "enter")  # P1: their session is selected, and Enter opens it
        await pilot.pause()
        assert app.focused is app.screen.query_one("#sessions")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, InterviewScreen) and app.screen.sid == "S1")


async def test_an_interview_planned_by_mistake_can_be_cancelled_after_a_question(vault_path, study_en):
    make_vault(vault_path, study_en)  # S1 planned with P1
    app = app_for(vault_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await unlock(pilot)
        await pilot.press("delete")
        await pilot.pause()
        assert "Cancel interview S1 with P1?" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("n")
        await pilot.pause()
        assert app.services.session("S1").status == "planned"
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert app.services.session("S1").status == "cancelled"
        assert "cancelled" in str(app.screen.query_one("#sessions").get_row_at(0))
        await pilot.press("delete")  # once cancelled, it says why not again
        await pilot.pause()
        assert any("only a planned interview" in n for n in notifications(app))


async def test_enrolment_steps_take_the_keyboard_and_check_answers_as_typed(vault_path, study_en):
    make_vault(vault_path, study_en, session=False)
    app = app_for(vault_path)
    async with app.run_test(size=(110, 40)) as pilot:
        await unlock(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EligibilityScreen))
        await pilot.pause()
        assert app.focused is app.screen.query_one("#group"), "the first question has the keyboard"
        await eligibility_step(pilot, started=True)
        await wait_until(pilot, lambda: isinstance(app.screen, ConsentScreen))
        for _ in app.screen.items:
            await pilot.press("y")
        answers = str(app.screen.query_one("#consent-answers").render())
        assert "audio_recording" not in answers and "agrees" in answers  # the items' words, not ids
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionnaireScreen))
        await pilot.pause()
        age = app.screen.query_one("#q-age", Input)
        assert app.focused is age
        await pilot.press("1", "5", "0")  # out of range: said at once, before any submit
        await pilot.pause()
        assert str(app.screen.query_one("#err-age").render()).strip()
        await pilot.press("backspace", "backspace", "backspace", "4", "2")
        await pilot.pause()
        assert not str(app.screen.query_one("#err-age").render()).strip(), "a corrected answer stops complaining"


async def test_x_redacts_several_terms_at_once(vault_path, study_en):
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        from fieldscribe.core.guides import import_guide

        import_guide(v, study_en)
        transcript_session(v, study_en.study, "Ann Lee", ["Eric and Merrick came round on Sunday.", "It was nice."])
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen) and not app.screen.finding)
        await answer_dialog(pilot, "x", "Eric, Merrick=[friend]")
        await wait_until(pilot, lambda: len(said.of(m.RedactionsChanged)) == 2, what="both terms")
    v = opened(vault_path)
    with v:
        from fieldscribe.core.deid.lists import replacement_table

        table = replacement_table(v)
        assert "Eric" in table and table["Merrick"] == "[friend]"


# -- help, palette, layout ----------------------------------------------------------------------
async def test_f1_help_and_the_palette_commands(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "dashboard" in app.screen.text and ("e", "Enrol", "Enrol a new participant") in app.screen.keys
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "vault: lock",
            "participant: enrol",
            "interview: open",
            "transcript: transcribe",
            "transcript: review",
        ):
            assert wanted in titles
        assert all(": " in t for t in titles), f"only the app's own actions, each named 'area: action': {titles}"
        assert not {"Maximize", "Screenshot", "Theme"} & {w for t in titles for w in t.split()}
        # F1 on the interview screen: its own keys first, not the cursor keys of a scroll view
        await open_interview(pilot)
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.keys[0][1] == "Record" and "Scroll" not in " ".join(d for _k, d, _t in app.screen.keys[:10])


async def test_live_lines_and_notes_wrap_instead_of_being_cut(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await open_interview(pilot)
        long = "helps me, where I was in hospital for a long time and did not know anyone at all there"
        app.screen.post_message(m.LiveSegment(28.0, long))
        await pilot.pause()
        live = app.screen.query_one("#live")
        shown = " ".join(str(strip.text).strip() for strip in live.lines)
        assert "did not know anyone at all there" in shown and len(live.lines) >= 2


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_interview_fits_small_and_large_screens(vault_path, study_en, size):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=size) as pilot:
        await unlock(pilot)
        await open_interview(pilot)
        await pilot.pause()
        screen = app.screen
        question = screen.query_one("#question")
        assert question.region.width >= 40 and question.region.height >= 2
        assert screen.has_class("-narrow") == (size[0] < 100)
        assert screen.query_one("#state").region.height == 3


async def test_a_focus_group_shows_who_is_speaking_and_stamps_it(vault_path, study_en):
    make_vault(vault_path, study_en, people=2, session=False)
    v = opened(vault_path)
    with v:
        sid = sessions.create_session(v, ["P1", "P2"])
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 35), message_hook=said) as pilot:
        await unlock(pilot)
        await open_interview(pilot)
        assert "P1 P2" in app.screen.sub_title
        await pilot.press("r")
        await wait_until(pilot, lambda: said.of(m.RecordingStarted), what="recording")
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("down", "enter")  # P2
        await wait_until(pilot, lambda: any(e.kind == "speaker" for e in said.of(m.Marked)))
        await wait_until(
            pilot, lambda: "speaking: P2" in str(app.screen.query_one("#clock").render()), what="the speaker on screen"
        )
        await pilot.press("s", "y")
        await wait_until(pilot, lambda: said.of(m.RecordingStopped), what="stop")
    v = opened(vault_path)
    with v:
        assert [e.data for e in timeline.events(v, sid) if e.kind == "speaker"] == [{"participant": "P2"}]


async def test_a_chinese_study_gets_a_chinese_interface(vault_path, study_zh):
    make_vault(vault_path, study_zh, name="王小明")
    app = app_for(vault_path, language=None)  # follow the study
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        assert app.screen.query_one("#people").get_row_at(0)[0] == "P1"
        await open_interview(pilot)
        await pilot.pause()
        assert "就绪" in str(app.screen.query_one("#state").render())
        labels = {b.binding.description for b in app.screen.active_bindings.values()}
        assert {"录音", "下一题"} <= labels
        question = app.services.questions("S1")[0]
        assert question.text in str(app.screen.query_one("#question").render())
    from fieldscribe.tui.strings import set_language

    set_language("en")
