"""Transcription with the real Whisper models shipped on PyPI (tiny.en, and base for the
multilingual paths), on real synthesised speech, from the encrypted vault."""

from __future__ import annotations

import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path

import jiwer
import pytest

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.errors import InvalidInput
from fieldscribe.core.transcripts import current_transcript, list_transcripts, load_segments

from .speech import SENTENCES, sentences_with_pauses


def norm(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).replace("centre", "center").strip()


@pytest.fixture
def speech_session(vault, study_en, tmp_path):
    pid = participants.enrol(vault, study_en.study, group="service_user")
    consent.record_consent(vault, study_en.study, pid, {c.id: True for c in study_en.study.consent})
    sid = sessions.create_session(vault, [pid])
    wav, _pcm, starts = sentences_with_pauses(tmp_path)
    import_file(vault, sid, wav)
    wav.unlink()
    return sid, starts


def test_transcribes_real_speech_from_the_vault_with_the_right_words(vault, speech_session, monkeypatch):
    import socket

    def no_network(*_a, **_k):
        raise AssertionError("transcription tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sid, _ = speech_session
    from fieldscribe.core.transcription.engine import load_model

    load_model.cache_clear()  # load the model inside the no-network window too
    t = transcribe_session(vault, sid, model="tiny.en")
    assert t.state == "complete" and t.version == 1
    text = " ".join(s.text for s in load_segments(vault, t) if s.text)
    wer = jiwer.wer(norm(" ".join(SENTENCES)), norm(text))
    assert wer <= 0.15, (wer, text)
    assert sessions.get_session(vault, sid).status == sessions.TRANSCRIBED
    segs = load_segments(vault, t)
    assert all(s.words for s in segs if s.text), "word timings are stored"
    assert [s.start for s in segs] == sorted(s.start for s in segs)


def test_segments_carry_the_guide_question_and_the_notes_spoken_under_it(vault, speech_session):
    sid, starts = speech_session
    key = sessions.session_key(vault, sid)
    timeline.add_event(vault, sid, timeline.QUESTION, 0.0, key, question="q1", domain="peers")
    timeline.add_event(vault, sid, timeline.NOTE, starts[1] + 0.8, key, text="laughs", preset="laughs")
    timeline.add_event(vault, sid, timeline.QUESTION, starts[2] - 0.5, key, question="q3", domain="mutual_help")
    timeline.add_event(vault, sid, timeline.FLAG, starts[2] + 1.0, key, text="")
    t = transcribe_session(vault, sid, model="tiny.en")
    segs = [s for s in load_segments(vault, t) if s.text]
    by_q = {s.question for s in segs if s.start < starts[2] - 0.5}
    assert by_q == {"q1"}
    last = [s for s in segs if s.start >= starts[2] - 0.5]
    assert last and all(s.question == "q3" and s.domain == "mutual_help" for s in last)
    notes = [(s.start, n["kind"]) for s in segs for n in s.notes]
    assert [k for _, k in notes] == ["note", "flag"]
    assert any(n.get("preset") == "laughs" for s in segs for n in s.notes if starts[1] - 0.5 <= s.start < starts[2])


def test_an_interrupted_run_resumes_where_it_stopped(vault, speech_session):
    sid, _ = speech_session
    cancel = threading.Event()
    seen = []

    def stop_after_first(p) -> None:
        seen.append(p.done_s)
        if p.done_s > 0:
            cancel.set()

    first = transcribe_session(vault, sid, model="tiny.en", on_progress=stop_after_first, cancel=cancel)
    assert first.state == "running" and 0 < first.done_s < first.total_s
    partial = load_segments(vault, first)
    assert len(partial) == 1
    assert current_transcript(vault, sid) is None
    resumed = transcribe_session(vault, sid, model="tiny.en")
    assert resumed.id == first.id and resumed.state == "complete"
    segs = load_segments(vault, resumed)
    assert segs[0] == partial[0]
    assert all(a.end <= b.start + 0.01 for a, b in pairwise(segs))
    text = " ".join(s.text for s in segs)
    assert jiwer.wer(norm(" ".join(SENTENCES)), norm(text)) <= 0.2, text


def test_retranscribing_keeps_the_old_version_until_the_new_one_completes(vault, speech_session):
    sid, _ = speech_session
    v1 = transcribe_session(vault, sid, model="tiny.en")
    cancel = threading.Event()
    v2 = transcribe_session(
        vault, sid, model="base", on_progress=lambda p: p.done_s > 0 and cancel.set(), cancel=cancel
    )
    assert v2.state == "running" and current_transcript(vault, sid).id == v1.id
    v2 = transcribe_session(vault, sid, model="base")
    assert current_transcript(vault, sid).id == v2.id
    states = {t.version: t.state for t in list_transcripts(vault, sid)}
    assert states == {1: "superseded", 2: "complete"}
    assert load_segments(vault, v1), "the superseded version is still readable"


def test_english_only_model_is_refused_for_a_chinese_interview(vault, speech_session):
    sid, _ = speech_session
    with pytest.raises(InvalidInput, match=r"English only.*multilingual model"):
        transcribe_session(vault, sid, model="tiny.en", language="zh")


def test_no_plaintext_text_or_audio_reaches_disk_during_transcription(vault, vault_path, speech_session, study_en):
    sid, _ = speech_session
    started = time.time()
    t = transcribe_session(vault, sid, model="tiny.en")
    words = [w for s in load_segments(vault, t) for w in s.text.split() if len(w) > 5]
    # words that also occur in the (plaintext, non-personal) study protocol prove nothing
    protocol = study_en.text.lower()
    needles = {w.strip(".,").encode() for w in words if w.strip(".,").lower() not in protocol}
    needles |= {b"reason to get up"}
    assert len(needles) >= 4
    tmp = Path(tempfile.gettempdir())
    files = [p for p in vault_path.rglob("*") if p.is_file()]
    files += [p for p in tmp.rglob("*") if p.is_file() and _recent(p, started) and not p.is_relative_to(vault_path)]
    for path in files:
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        for n in needles:
            assert n not in blob and n.decode().encode("utf-16-le") not in blob, f"{n!r} in {path}"


def _recent(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since - 1
    except OSError:
        return False


def test_cli_transcribe_and_show(vault, speech_session):
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    from .conftest import PASSPHRASE

    sid, _starts = speech_session
    timeline.add_event(vault, sid, timeline.QUESTION, 0.0, question="q1", domain="peers")
    path = str(vault.path)
    vault.close()
    env = {"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    r = CliRunner().invoke(cli, ["--vault", path, "transcribe", sid, "--model", "tiny.en"], env=env)
    assert r.exit_code == 0, r.output
    assert f"Transcribed {sid} (version 1, tiny.en, en)." in r.stdout
    r = CliRunner().invoke(cli, ["--vault", path, "transcript", "show", sid], env=env)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("— q1: ") and lines[1].startswith("[00:00:00] ")
    r = CliRunner().invoke(cli, ["--vault", path, "transcript", "show", sid, "--plain"], env=env)
    assert jiwer.wer(norm(" ".join(SENTENCES)), norm(" ".join(r.stdout.splitlines()))) <= 0.15
    r = CliRunner().invoke(cli, ["--vault", path, "transcript", "show", "S9"], env=env)
    assert r.exit_code == 1 and "no session S9" in r.stderr


def test_live_transcription_while_recording_leaves_little_to_do_at_stop(vault, study_en, tmp_path):
    import numpy as np

    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core.recording import begin_recording

    from .audio_fakes import ArraySource

    pid = participants.enrol(vault, study_en.study, group="service_user")
    consent.record_consent(vault, study_en.study, pid, {c.id: True for c in study_en.study.consent})
    sid = sessions.create_session(vault, [pid])
    _wav, pcm, _starts = sentences_with_pauses(tmp_path)
    pcm = np.concatenate([pcm, pcm])  # ~35 s: several live windows
    source = ArraySource(pcm, realtime=True, block=4000)
    live_segments = []
    run = begin_recording(
        vault, sid, RecorderConfig(), source=source, live=True, live_model="tiny.en", on_segment=live_segments.append
    )
    run.mark(timeline.QUESTION, question="q1", domain="peers")
    source.done.wait(120)
    assert live_segments, "segments appear while the interview is still being recorded"
    info = run.stop()
    assert run.live.windows >= 2
    assert run.finish_seconds < 10
    assert not [w for w in run.warnings if w.kind == "lost_audio"], "live transcription must not cost audio"
    t = current_transcript(vault, sid)
    assert t is not None and t.model == "tiny.en" and t.total_s == pytest.approx(info.seconds)
    segs = [s for s in load_segments(vault, t) if s.text]
    assert all(a.end <= b.start + 0.01 for a, b in pairwise(segs))
    assert all(s.question == "q1" for s in segs)
    text = " ".join(s.text for s in segs)
    assert jiwer.wer(norm(" ".join(SENTENCES * 2)), norm(text)) <= 0.25, text
    assert sessions.get_session(vault, sid).status == sessions.TRANSCRIBED


def test_a_live_transcript_cut_short_by_a_crash_is_resumed_by_transcribe(vault, study_en, tmp_path):
    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core.recording import begin_recording

    from .audio_fakes import ArraySource

    pid = participants.enrol(vault, study_en.study, group="service_user")
    consent.record_consent(vault, study_en.study, pid, {c.id: True for c in study_en.study.consent})
    sid = sessions.create_session(vault, [pid])
    _wav, pcm, _ = sentences_with_pauses(tmp_path)
    source = ArraySource(pcm)
    run = begin_recording(vault, sid, RecorderConfig(), source=source, live=True, live_model="tiny.en")
    source.done.wait(30)
    run.live.abandon()  # the transcriber dies with the app…
    run.live = None
    run.stop()  # …the audio is safe
    (t,) = list_transcripts(vault, sid)
    assert t.state == "running"
    resumed = transcribe_session(vault, sid, model="tiny.en")
    assert resumed.id == t.id and resumed.state == "complete"
    text = " ".join(s.text for s in load_segments(vault, resumed))
    assert jiwer.wer(norm(" ".join(SENTENCES)), norm(text)) <= 0.2, text
