"""Who speaks, in the app (issue 16): the interviewers' voice profiles (V in the study settings)
recorded through a fake microphone that reads the guided text aloud with a real espeak-ng voice,
listed, refused when they hold no speech, and deleted after asking; and the review screen's
turns with their speakers on a session whose voices were found by the real core (espeak-ng
conversation, Whisper tiny.en, the shipped speaker model), one voice named everywhere with
Shift+K."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from textual.widgets import DataTable, Input, Static

from fieldscribe.core import consent, participants, sessions, speakers, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.guides import import_guide
from fieldscribe.core.transcripts import current_transcript, load_segments
from fieldscribe.core.vault import Vault
from fieldscribe.tui import messages as m
from fieldscribe.tui.screens import voice_profiles as vp
from fieldscribe.tui.screens.dialogs import AskText, ChooseOne, Confirm
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.review import ReviewScreen
from fieldscribe.tui.screens.study_settings import StudySettingsScreen
from fieldscribe.tui.strings import set_language, tr

from .audio_fakes import ArraySource
from .conftest import FAST_KDF, PASSPHRASE
from .conversation import INTERVIEW, VOICES, conversation, speak
from .screen_text import screen_text
from .test_tui import notifications, wait_until
from .test_tui_chinese import english
from .tui_helpers import app_for, make_vault, unlock
from .tui_messages import Messages
from .vault_access import reopen

PROFILE_TEST_SECONDS = 25.0  # enough speech for a profile (15 s), quicker than the real 30 s


@pytest.fixture(autouse=True)
def _english_after():
    yield
    set_language("en")


def int16(audio: np.ndarray) -> np.ndarray:
    """16 kHz float audio as the microphone's int16 blocks (one channel)."""
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16).reshape(-1, 1)


def reading_aloud(seconds: float) -> np.ndarray:
    """The guided reading said by one espeak-ng voice, as long as the recording wants."""
    from fieldscribe.core.diarization.profiles import reading

    said = speak(reading("en"), VOICES[0])
    pause = np.zeros(8000, dtype=np.float32)
    out = said
    while len(out) < seconds * 16000 + 16000:
        out = np.concatenate([out, pause, said])
    return int16(out)


class HeldSource(ArraySource):
    """A microphone that delivers DATA as fast as it can, once GO is set (so a test can look at
    the dialog before the recording is over)."""

    def __init__(self, data: np.ndarray, go: threading.Event) -> None:
        super().__init__(data)
        self.go = go
        self._waiting: threading.Thread | None = None

    def start(self, callback) -> None:
        def later() -> None:
            self.go.wait(60)
            ArraySource.start(self, callback)

        self._waiting = threading.Thread(target=later, daemon=True)
        self._waiting.start()

    def stop(self) -> None:
        self._stop.set()
        self.go.set()
        if self._waiting is not None:
            self._waiting.join()
        super().stop()


def microphone(app, data: np.ndarray) -> threading.Event:
    """The app's microphone from now on; set the event returned to let it speak."""
    go = threading.Event()
    app.services._source_factory = lambda: HeldSource(data, go)
    return go


async def open_profiles(pilot) -> vp.VoiceProfilesScreen:
    await pilot.press("g")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StudySettingsScreen), what="study settings")
    await pilot.pause()
    await pilot.press("v")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, vp.VoiceProfilesScreen), what="voice profiles")
    await pilot.pause()
    return pilot.app.screen


async def start_recording(pilot, name: str) -> vp.RecordProfileDialog:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskText), what="the name question")
    pilot.app.screen.query_one("#answer", Input).value = name
    await pilot.press("enter")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, vp.RecordProfileDialog), what="the reading")
    return pilot.app.screen


# -- voice profiles ----------------------------------------------------------------------------------
async def test_a_profile_is_recorded_from_the_guided_reading_listed_and_deleted_after_asking(
    vault_path, study_en, monkeypatch
):
    monkeypatch.setattr(vp, "RECORD_SECONDS", PROFILE_TEST_SECONDS)
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        go = microphone(app, reading_aloud(PROFILE_TEST_SECONDS))
        screen = await open_profiles(pilot)
        text = screen_text(app)
        assert tr("voices.sealed") in text, "it says where profiles live, and that they never leave"
        assert tr("voices.none") in text

        dialog = await start_recording(pilot, "  Jo   Field ")
        # the guided text in the study's language, a level meter and the time left
        assert app.services.profile_reading()[:40] in str(dialog.query_one("#reading", Static).content)
        assert tr("voices.left", seconds=f"{PROFILE_TEST_SECONDS:.0f}") in screen_text(app)
        assert tr("meter.mic") in screen_text(app)
        go.set()
        await wait_until(pilot, lambda: said.of(vp.ProfileRecorded), timeout=60, what="the profile")
        await wait_until(pilot, lambda: isinstance(app.screen, vp.VoiceProfilesScreen), what="the list")
        # the progress reached the end, and the meter showed the reading's level
        assert max(h.seconds for h in said.of(vp.ProfileHeard)) >= PROFILE_TEST_SECONDS
        assert max(lv.db for lv in said.of(m.LevelChanged)) > -30
        view = said.of(vp.ProfileRecorded)[0].view
        assert view is not None and view.name == "Jo Field" and view.speech_s >= 15
        done = tr("voices.recorded", name="Jo Field", seconds=f"{view.speech_s:.0f}")
        await wait_until(pilot, lambda: done in notifications(app), what="the notification")
        table = screen.query_one("#profiles", DataTable)
        assert table.row_count == 1
        row = [str(c) for c in table.get_row_at(0)]
        assert row[0] == "Jo Field" and row[1] == tr("voices.seconds", seconds=f"{view.speech_s:.0f}")
        assert row[2] == view.created_at[:10]

        # deleting asks first; N keeps it, Y deletes it for good
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        assert app.screen.question == tr("voices.ask_delete", name="Jo Field")
        await pilot.press("n")
        await pilot.pause()
        assert [p.name for p in app.services.voice_profiles()] == ["Jo Field"]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: tr("voices.deleted", name="Jo Field") in notifications(app))
        assert app.services.voice_profiles() == []
        assert not screen.query_one("#profiles", DataTable).display
        assert tr("voices.none") in screen_text(app)

        # back in the study settings, the section says how many profiles there are
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, StudySettingsScreen), what="study settings")
        assert tr("study.voices_none") in str(app.screen.query_one("#study-voices", Static).content)


async def test_a_recording_without_speech_is_refused_in_one_sentence_and_escape_keeps_nothing(
    vault_path, study_en, monkeypatch
):
    monkeypatch.setattr(vp, "RECORD_SECONDS", 3.0)
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(80, 24), message_hook=said) as pilot:
        await unlock(pilot)
        quiet = np.random.default_rng(1).normal(0, 20, (16000 * 5, 1)).astype(np.int16)  # a quiet room
        microphone(app, quiet).set()
        await open_profiles(pilot)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskText), what="the name question")
        app.screen.query_one("#answer", Input).value = "Jo Field"
        await pilot.press("enter")
        await wait_until(pilot, lambda: said.of(m.WorkFailed), timeout=30, what="the refusal")
        sentence = said.of(m.WorkFailed)[0].error
        assert "needs at least 15 s" in sentence and sentence.count(".") <= 2
        await wait_until(pilot, lambda: isinstance(app.screen, vp.VoiceProfilesScreen), what="the list")
        assert sentence in notifications(app)
        assert app.services.voice_profiles() == []

        # Escape while reading: the microphone closes and nothing is kept
        monkeypatch.setattr(vp, "RECORD_SECONDS", 30.0)
        microphone(app, reading_aloud(30.0))  # held: the interviewer has not begun reading
        await start_recording(pilot, "Jo Field")
        await pilot.press("escape")
        await wait_until(pilot, lambda: said.of(vp.ProfileRecorded), timeout=10, what="the cancel")
        assert said.of(vp.ProfileRecorded)[0].view is None
        await wait_until(pilot, lambda: isinstance(app.screen, vp.VoiceProfilesScreen), what="the list")
        assert tr("voices.cancelled") in notifications(app)
        assert app.services.voice_profiles() == []


async def test_the_profiles_and_the_reading_speak_chinese_in_a_chinese_study(vault_path, study_zh):
    """In a Chinese study the list, the reading (its text in Chinese), F1 help and the question
    before deleting show no English."""
    make_vault(vault_path, study_zh, name="王小明")
    app = app_for(vault_path, language="zh")
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(pilot)
        go = microphone(app, reading_aloud(3.0))  # held: nothing is read
        await open_profiles(pilot)
        assert english(screen_text(app)) == []
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        assert tr("title.VoiceProfiles") in screen_text(app) and english(screen_text(app)) == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, vp.VoiceProfilesScreen), what="the list")
        dialog = await start_recording(pilot, "李访员")
        assert "朗读" in str(dialog.query_one("#reading", Static).content)
        assert english(screen_text(app)) == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, vp.VoiceProfilesScreen), what="the list")
        go.set()


# -- review: turns with their speakers -------------------------------------------------------------
@pytest.fixture(scope="module")
def talk():
    lines = INTERVIEW[:6]
    return conversation(lines, ["Interviewer", "P1"] * 3, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=7)


def diarized_session(vault_path: Path, study, tmp_path: Path, talk) -> tuple[str, str]:
    """A one-to-one interview imported from a two-voice recording, transcribed and its voices
    found by the real core; no voice profile, so the interviewer is a guess (from the question
    key pressed as each question began)."""
    audio, ref = talk
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study)
        pid = participants.enrol(v, study.study, group="service_user", name="Ann Lee")
        consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
        sid = sessions.create_session(v, [pid])
        wav = tmp_path / "talk.wav"
        sf.write(wav, audio, 16000, subtype="PCM_16")
        import_file(v, sid, wav, channels=1)
        wav.unlink()
        for i, r in enumerate(t for t in ref if t.speaker == "Interviewer"):
            timeline.add_event(v, sid, timeline.QUESTION, r.start + 0.2, question=f"q{i + 1}", domain="d1")
        transcribe_session(v, sid, model="tiny.en")
        found = speakers.run(v, sid)
        assert found is not None and found.guessed
    return pid, sid


def shown_rows(screen: ReviewScreen) -> list[tuple[str, str]]:
    """(speaker cell, time cell) of every row, as the table shows them."""
    table = screen.query_one("#segments", DataTable)
    return [(str(table.get_row_at(i)[1]), str(table.get_row_at(i)[0])) for i in range(table.row_count)]


async def test_review_shows_turns_with_speakers_and_names_a_voice_in_all_its_turns(
    vault_path, study_en, tmp_path, talk
):
    pid, sid = diarized_session(vault_path, study_en, tmp_path, talk)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        screen = app.screen
        await pilot.pause()
        segs = screen.segments
        assert all(s.voice is not None for s in segs if s.text)
        interviewer = tr("review.interviewer")
        # every row shows its speaker: the interviewer (a guess) and the participant
        rows = shown_rows(screen)
        assert {who.removesuffix(" ⋯") for who, _ in rows} == {interviewer, pid}
        for seg, (who, _) in zip(segs, rows, strict=True):
            assert who.startswith(interviewer if seg.speaker == "interviewer" else pid)
            assert who.endswith("⋯") == seg.overlap
        # no voice profile matched: the screen says the interviewer is a guess
        line = str(screen.query_one("#review-speakers", Static).content)
        assert tr("review.speakers_guessed") in line
        assert screen.query_one("#review-speakers").display

        # on a turn of the interviewer's voice, Shift+K names that voice P1 everywhere
        at = next(i for i, s in enumerate(segs) if s.speaker == "interviewer" and i > 0)
        voice, start = segs[at].voice, segs[at].start
        screen.query_one("#segments", DataTable).move_cursor(row=at)
        await pilot.pause()
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ChooseOne), what="who is this voice")
        assert app.screen.title_text == tr("review.who_voice", now=interviewer)
        await pilot.press("enter")  # the first option: the participant, P1
        await wait_until(pilot, lambda: said.of(m.SegmentEdited), what="the voice named")
        assert isinstance(app.screen, ReviewScreen)
        of_voice = [i for i, s in enumerate(screen.segments) if s.voice == voice]
        assert len(of_voice) >= 2
        rows = shown_rows(screen)
        assert all(rows[i][0].removesuffix(" ⋯") == pid for i in of_voice)
        assert all(who.removesuffix(" ⋯") == pid for who, _ in rows), "both voices are now P1"
        # the rows were read again; the cursor stayed on the same moment
        assert screen.current_segment() is not None and screen.current_segment().start == start
        assert any(str(len(of_voice)) in n and pid in n for n in notifications(app))

        # a turn without a voice of its own: Shift+K says why instead of asking
        screen.segments[at] = type(segs[at])(**{**segs[at].__dict__, "voice": None})
        await pilot.press("K")
        await pilot.pause()
        assert not isinstance(app.screen, ChooseOne) and tr("review.no_voice") in notifications(app)

    # sealed and kept: every segment of that voice is P1 in the vault
    v = reopen(vault_path)
    with v:
        stored = load_segments(v, current_transcript(v, sid))
    assert all(s.speaker == pid for s in stored if s.voice == voice)


async def test_review_says_when_speakers_are_still_being_found(vault_path, study_en, tmp_path, talk):
    """A recording whose voices are not found yet: the review line says so. The app finds them
    in the background (never beneath an open review); the next review shows the turns."""
    audio, _ref = talk
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_en)
        pid = participants.enrol(v, study_en.study, group="service_user", name="Ann Lee")
        consent.record_consent(v, study_en.study, pid, {c.id: True for c in study_en.study.consent})
        sid = sessions.create_session(v, [pid])
        wav = tmp_path / "talk.wav"
        sf.write(wav, audio, 16000, subtype="PCM_16")
        import_file(v, sid, wav, channels=1)
        transcribe_session(v, sid, model="tiny.en")
        assert speakers.waiting(v) == [sid]
    app = app_for(vault_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        line = app.screen.query_one("#review-speakers", Static)
        if sid in app.services.speakers_waiting():  # the background line may have been quicker
            assert tr("review.speakers_finding") in str(line.content) and line.display
        await pilot.press("escape")
        await wait_until(pilot, lambda: sid not in app.services.speakers_waiting(), timeout=60, what="the speakers")
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        screen = app.screen
        assert any(s.voice is not None for s in screen.segments)
        line = screen.query_one("#review-speakers", Static)
        assert tr("review.speakers_finding") not in str(line.content)
        assert tr("review.speakers_guessed") in str(line.content)
