"""The app finds who speaks by itself once a recording has stopped: the dashboard's background
line diarizes the session and writes the turns into its transcript, before any final pass,
and leaves alone a session open in review (the real app under Pilot, real audio)."""

from __future__ import annotations

import threading

import soundfile as sf

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import load_study
from fieldscribe.core.transcripts import current_transcript, load_segments
from fieldscribe.core.vault import Vault
from fieldscribe.services.voices import Voices
from fieldscribe.tui import messages as m
from fieldscribe.tui.screens.review import ReviewScreen

from .conftest import FAST_KDF, PASSPHRASE, STUDY_EN
from .conversation import INTERVIEW, VOICES, conversation
from .test_tui import wait_until
from .tui_helpers import app_for, unlock
from .tui_messages import Messages


def _two_voice_session(v: Vault, study, tmp_path, seed: int, lines: int = 6) -> str:
    pid = participants.enrol(v, study.study, group="service_user", eligibility=participants.all_eligible(study.study))
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    sid = sessions.create_session(v, [pid])
    said = (INTERVIEW * 3)[:lines]
    audio, _ = conversation(said, ["I", "P"] * (lines // 2), {"I": VOICES[0], "P": VOICES[1]}, seed=seed)
    wav = tmp_path / f"{sid}.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    import_file(v, sid, wav)
    transcribe_session(v, sid, model="tiny.en")  # as live transcription would leave it
    return sid


async def test_the_dashboard_finds_speakers_after_an_interview_but_not_under_review(vault_path, tmp_path):
    study = load_study(STUDY_EN)
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study)
        s1 = _two_voice_session(v, study, tmp_path, seed=7, lines=30)  # long enough to still be at it
        s2 = _two_voice_session(v, study, tmp_path, seed=8)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 36), message_hook=said) as pilot:
        await unlock(pilot)
        # the reviewer opens S2 at once: the line must not split its segments beneath them
        table = app.screen.query_one("#sessions")
        table.move_cursor(row=table.get_row_index(s2))
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), 20, "the review screen")
        assert not said.of(m.SpeakersDone)  # S1's were still being found as review opened
        await wait_until(pilot, lambda: said.of(m.SpeakersDone), 120, "speakers of S1")
        await pilot.pause(3.0)  # time enough for S2's, were it not under review
        assert [(d.sid, d.outcome) for d in said.of(m.SpeakersDone)] == [(s1, "found")]
        assert [s.sid for s in said.of(m.SpeakersStarted)] == [s1]
        vault = app.services.vault
        labelled = load_segments(vault, current_transcript(vault, s1))
        assert {s.label for s in labelled if s.text} == {"Interviewer", sessions.get_session(vault, s1).participants[0]}
        assert all(s.voice is None for s in load_segments(vault, current_transcript(vault, s2)))
        # back on the dashboard, S2's turn comes
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(said.of(m.SpeakersDone)) == 2, 120, "speakers of S2")
        assert said.of(m.SpeakersDone)[-1].sid == s2
        assert app.services.speakers(s2).found


async def test_review_of_a_session_whose_speakers_are_being_found_opens_when_they_are(
    vault_path, tmp_path, monkeypatch
):
    study = load_study(STUDY_EN)
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study)
        s1 = _two_voice_session(v, study, tmp_path, seed=7)
    app = app_for(vault_path)
    said = Messages()
    release = threading.Event()
    real_find = Voices.find_speakers

    def held(self, sid, **kw):  # the real work, begun only once the reviewer has pressed V
        release.wait(60)
        return real_find(self, sid, **kw)

    monkeypatch.setattr(Voices, "find_speakers", held)
    async with app.run_test(size=(120, 36), message_hook=said) as pilot:
        await unlock(pilot)
        await wait_until(pilot, lambda: said.of(m.SpeakersStarted), 30, "the speakers of S1 to be looked for")
        assert app.screen.query_one("#final-line").speakers_of == s1
        await pilot.press("v")
        await pilot.pause()
        assert not isinstance(app.screen, ReviewScreen)  # it waits for the speakers
        release.set()
        await wait_until(pilot, lambda: said.of(m.SpeakersDone), 60, "speakers of S1")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), 20, "the review screen")
        await wait_until(pilot, lambda: app.screen.segments, 20, "the transcript")
        labels = {s.label for s in app.screen.segments if s.text}
        assert labels == {"Interviewer", sessions.get_session(app.services.vault, s1).participants[0]}
