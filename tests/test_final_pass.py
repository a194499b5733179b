"""The final pass with the study's better model, on real speech: it replaces the live
transcript, pauses and resumes, keeps a transcript whose review began, and never competes
with a recording (the real app under Pilot)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import soundfile as sf

from fieldscribe.core import consent, final_pass, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.editing import edit_segment
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import parse_study
from fieldscribe.core.transcription.models import add_model, list_models, resolve_model
from fieldscribe.core.transcripts import current_transcript, list_transcripts
from fieldscribe.core.vault import Vault
from fieldscribe.tui import messages as m

from .conftest import FAST_KDF, PASSPHRASE, STUDY_EN
from .test_tui import wait_until
from .tui_helpers import app_for, unlock
from .tui_messages import Messages

SPEECH = STUDY_EN.parents[2] / "tests" / "data" / "speech" / "en"
FINAL = "final-base"  # the packaged base model, added the way a USB stick would bring one


def _final_model() -> None:
    if FINAL not in {m.name for m in list_models() if m.installed}:
        add_model(resolve_model("base").path, FINAL)


def _study(final: str = FINAL):
    text = STUDY_EN.read_text(encoding="utf-8")
    return parse_study(text + f"\ntranscription:\n  model: tiny.en\n  final_model: {final}\n", source="final-pass")


def _speech(tmp_path, seconds: float) -> str:
    """Real recorded speech (tests/data/speech/en), clips joined up to about `seconds`."""
    clips = [json.loads(line) for line in (SPEECH / "manifest.jsonl").read_text().splitlines() if line]
    audio: list[np.ndarray] = []
    for c in sorted(clips, key=lambda c: -c["seconds"]):
        if sum(len(a) for a in audio) / 16000 >= seconds:
            break
        data, _ = sf.read(SPEECH / c["file"], dtype="int16")
        audio += [data, np.zeros(8000, np.int16)]
    path = tmp_path / "speech.wav"
    sf.write(path, np.concatenate(audio), 16000, subtype="PCM_16")
    return str(path)


def _interview(v: Vault, study, wav: str, *, transcribe: bool = True) -> str:
    pid = participants.enrol(v, study.study, group="service_user", eligibility=participants.all_eligible(study.study))
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    sid = sessions.create_session(v, [pid])
    if wav:
        import_file(v, sid, wav)
        if transcribe:
            transcribe_session(v, sid)  # the study's live model, as live transcription would leave it
    return sid


@pytest.fixture
def final_vault(vault_path, tmp_path):
    _final_model()
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    study = _study()
    import_guide(v, study)
    yield v, study, _speech(tmp_path, 25)
    v.close()


def test_the_final_pass_replaces_the_live_transcript_and_resumes_after_a_pause(final_vault):
    v, study, wav = final_vault
    sid = _interview(v, study, wav)
    assert current_transcript(v, sid).model == "tiny.en"
    assert [(f.session_id, f.model, f.done_s) for f in final_pass.waiting(v)] == [(sid, FINAL, 0.0)]
    # paused after its first segments: a resumable run
    cancel = threading.Event()
    paused = final_pass.run(v, sid, on_progress=lambda p: p.done_s > 0 and cancel.set(), cancel=cancel)
    assert paused.state == "running" and 0 < paused.done_s < paused.total_s
    assert final_pass.waiting(v)[0].done_s == paused.done_s
    done = final_pass.run(v, sid)
    assert done.state == "complete" and done.version == paused.version  # the same run, resumed
    assert current_transcript(v, sid).model == FINAL
    assert [t.state for t in list_transcripts(v, sid)] == ["superseded", "complete"]
    assert final_pass.waiting(v) == [] and sessions.get_session(v, sid).status == sessions.TRANSCRIBED


def test_a_transcript_whose_review_began_is_kept_and_the_new_one_waits_beside_it(final_vault):
    v, study, wav = final_vault
    sid = _interview(v, study, wav)
    live = current_transcript(v, sid)
    edit_segment(v, sid, 0, text="What the reviewer heard.")
    better = final_pass.run(v, sid)
    assert better.state == "alternative" and current_transcript(v, sid).id == live.id
    assert final_pass.waiting(v) == []  # done: the reviewer chooses
    chosen = final_pass.use_version(v, sid, better.version)
    assert current_transcript(v, sid).model == FINAL and chosen.version == better.version
    assert [t.state for t in list_transcripts(v, sid)] == ["superseded", "complete"]


def test_a_missing_final_model_is_named_with_how_to_get_it(vault_path):
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        study = _study("small")
        import_guide(v, study)
        sid = _interview(v, study, "")
        with v.db.atomic():  # as if transcribed: the pass is wanted but cannot run
            sessions.start_recording(v, sid)
            sessions.set_status(v, sid, sessions.RECORDED)
            sessions.set_status(v, sid, sessions.TRANSCRIBED)
        (sentence,) = final_pass.missing_models(v)
        assert "small" in sentence and "models download small" in sentence and "models add" in sentence
        assert final_pass.waiting(v) == []


async def test_a_recording_pauses_the_final_pass_and_it_resumes_afterwards(vault_path, tmp_path):
    _final_model()
    study = _study()
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study)
        s1 = _interview(v, study, _speech(tmp_path, 70))
        s2 = _interview(v, study, "")  # planned: the next interview
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 36), message_hook=said) as pilot:
        await unlock(pilot)
        await wait_until(pilot, lambda: any(p.done > 0 for p in said.of(m.FinalPassProgress)), 90, "the final pass")
        assert "Final transcript of S1" in str(app.screen.query_one("#final-line").render())
        table = app.screen.query_one("#sessions")
        table.move_cursor(row=table.get_row_index(s2))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("r")
        await wait_until(pilot, lambda: said.of(m.RecordingStarted), 20, "the recording")
        await wait_until(pilot, lambda: said.of(m.FinalPassDone), 30, "the pass to pause")
        assert [d.outcome for d in said.of(m.FinalPassDone)] == ["paused"]
        progressed = len(said.of(m.FinalPassProgress))
        await pilot.pause(2.0)  # recording: the pass stays paused
        assert len(said.of(m.FinalPassProgress)) == progressed and app.screen.state == "recording"
        running = [t for t in list_transcripts_of(app, s1) if t.state == "running"]
        assert running and 0 < running[0].done_s < running[0].total_s
        await pilot.press("s")
        await pilot.press("y")
        await wait_until(pilot, lambda: said.of(m.RecordingStopped), 20, "the stop")
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(said.of(m.FinalPassDone)) == 2, 180, "the pass to resume and finish")
        assert said.of(m.FinalPassDone)[-1].outcome == "replaced"
        assert current_transcript(app.services.vault, s1).model == FINAL


def list_transcripts_of(app, sid):
    return list_transcripts(app.services.vault, sid)
