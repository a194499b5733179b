"""The recorder and its sealed chunk file, with a scripted sound source.

The real microphone path is covered by tests/test_e2e_record.py; here we pin down what must
hold whatever the device: exact audio, positions on the audio clock, tamper detection
with the chunk's position, torn tails, lost-audio and disk warnings, and recovery."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.chunkfile import ChunkTampered, iter_chunks, scan
from fieldscribe.core.audio.recorder import RecorderConfig
from fieldscribe.core.audio.store import read_audio
from fieldscribe.core.errors import ConsentMissing, FieldscribeError
from fieldscribe.core.recording import begin_recording
from fieldscribe.core.recordings import audio_path, recording_info
from fieldscribe.core.recovery import interrupted_sessions, recover_all

from .audio_fakes import ArraySource, speechlike


def consented_session(vault, study, n: int = 1, audio: bool = True) -> str:
    pids = []
    for _ in range(n):
        pid = participants.enrol(vault, study, group="service_user")
        consent.record_consent(vault, study, pid, {c.id: (audio or c.id != "audio_recording") for c in study.consent})
        pids.append(pid)
    return sessions.create_session(vault, pids)


def record_array(vault, sid, data, config=None, **kw):
    config = config or RecorderConfig(channels=data.shape[1])
    source = ArraySource(data, rate=config.rate, **kw)
    run = begin_recording(vault, sid, config, source=source)
    source.done.wait(60)
    return run


@pytest.mark.parametrize("channels", [1, 2])
def test_flac_recording_comes_back_sample_for_sample(vault, study_en, channels):
    sid = consented_session(vault, study_en.study)
    data = speechlike(5.3, channels=channels)
    run = record_array(vault, sid, data)
    info = run.stop()
    assert (info.frames, info.chunks, info.channels) == (len(data), 6, channels)
    out, rate = read_audio(vault, sid)
    assert rate == 16000 and np.array_equal(out, data)
    assert sessions.get_session(vault, sid).status == sessions.RECORDED
    # a range, decrypted in memory
    part, _ = read_audio(vault, sid, 1.25, 2.5)
    assert np.array_equal(part, data[20000:40000])


def test_opus_is_smaller_and_close(vault, study_en):
    sid = consented_session(vault, study_en.study)
    data = speechlike(6.0)
    run = record_array(vault, sid, data, RecorderConfig(codec="opus"))
    run.stop()
    out, _ = read_audio(vault, sid)
    assert len(out) == len(data)
    corr = np.corrcoef(out[:, 0].astype(float), data[:, 0].astype(float))[0, 1]
    assert corr > 0.9
    assert audio_path(vault, sid).stat().st_size < 0.5 * len(data) * 2


def test_no_recording_without_audio_consent(vault, study_en):
    sid = consented_session(vault, study_en.study, audio=False)
    with pytest.raises(ConsentMissing):
        begin_recording(vault, sid, RecorderConfig(), source=ArraySource(speechlike(1)))
    assert recording_info(vault, sid) is None
    assert not audio_path(vault, sid).exists()


def test_timeline_uses_the_audio_clock_and_pauses_are_excluded(vault, study_en):
    sid = consented_session(vault, study_en.study)
    data = speechlike(3.0)
    source = ArraySource(data, block=1600, realtime=True)
    run = begin_recording(vault, sid, RecorderConfig(), source=source)
    time.sleep(1.0)
    run.mark(timeline.QUESTION, question="q1", domain="peers")
    run.pause()
    time.sleep(1.0)  # one second of audio goes by unrecorded
    run.resume()
    run.mark(timeline.NOTE, text="laughs", preset="laughs")
    source.done.wait(10)
    info = run.stop()
    events = timeline.events(vault, sid)
    kinds = [e.kind for e in events]
    assert kinds == ["question", "pause", "resume", "note"]
    q, pause, resume, note = events
    assert 0.8 <= q.t <= 1.3
    # the pause is not on the audio clock: resume and note sit where the pause began
    assert abs(resume.t - pause.t) < 0.25 and abs(note.t - pause.t) < 0.3
    assert 1.7 <= info.seconds <= 2.3
    assert note.data == {"text": "laughs", "preset": "laughs"}


def _sealed_records(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each record, parsed independently of the code under test."""
    data = path.read_bytes()
    (hlen,) = struct.unpack(">H", data[8:10])
    pos = 10 + hlen
    out = []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((pos, 4 + n))
        pos += 4 + n
    return out


@pytest.fixture
def recorded(vault, study_en):
    sid = consented_session(vault, study_en.study)
    record_array(vault, sid, speechlike(5.0)).stop()
    return sid


def test_flipped_byte_is_reported_with_the_chunk_position(vault, recorded):
    path = audio_path(vault, recorded)
    offset, length = _sealed_records(path)[2]
    raw = bytearray(path.read_bytes())
    raw[offset + length // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(ChunkTampered) as err:
        read_audio(vault, recorded)
    assert err.value.index == 2 and "chunk 2" in str(err.value) and "0:02" in str(err.value)


def test_reordered_chunks_are_detected(vault, recorded):
    path = audio_path(vault, recorded)
    recs = _sealed_records(path)
    raw = path.read_bytes()
    (o1, l1), (o2, l2) = recs[1], recs[2]
    swapped = raw[:o1] + raw[o2 : o2 + l2] + raw[o1 : o1 + l1] + raw[o2 + l2 :]
    path.write_bytes(swapped)
    with pytest.raises(ChunkTampered) as err:
        read_audio(vault, recorded)
    assert err.value.index == 1


def test_chunk_moved_from_another_session_is_detected(vault, study_en, recorded):
    other = consented_session(vault, study_en.study)
    record_array(vault, other, speechlike(5.0, seed=9)).stop()
    a, b = audio_path(vault, recorded), audio_path(vault, other)
    ra, rb = _sealed_records(a), _sealed_records(b)
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    (oa, la), (ob, lb) = ra[3], rb[3]
    a.write_bytes(raw_a[:oa] + raw_b[ob : ob + lb] + raw_a[oa + la :])
    with pytest.raises(ChunkTampered) as err:
        read_audio(vault, recorded)
    assert err.value.index == 3


def test_edited_header_is_detected(vault, recorded):
    path = audio_path(vault, recorded)
    raw = path.read_bytes().replace(b'"rate":16000', b'"rate":16001')
    path.write_bytes(raw)
    with pytest.raises(ChunkTampered):
        read_audio(vault, recorded)


def test_a_torn_tail_keeps_every_complete_chunk(vault, recorded):
    path = audio_path(vault, recorded)
    recs = _sealed_records(path)
    offset, length = recs[-1]
    with open(path, "r+b") as f:
        f.truncate(offset + length // 3)
    key = sessions.session_key(vault, recorded)
    chunks = list(iter_chunks(path, recorded, key, vault.aad))
    assert len(chunks) == len(recs) - 1
    result = scan(path, recorded, key, vault.aad)
    assert result.chunks == len(recs) - 1 and result.torn_bytes == length // 3


def test_lost_audio_is_detected_when_the_worker_is_blocked(vault, study_en, monkeypatch):
    """The worker stalls (a slow disk, a busy CPU); the bounded queue overflows; the
    recorder says how much audio was lost instead of hiding it."""
    from fieldscribe.core.audio import codec

    real_encode = codec.encode
    stalled = {"done": False}

    def slow_encode(pcm, rate, name):
        if not stalled["done"]:
            stalled["done"] = True
            time.sleep(2.0)
        return real_encode(pcm, rate, name)

    monkeypatch.setattr(codec, "encode", slow_encode)
    sid = consented_session(vault, study_en.study)
    config = RecorderConfig(queue_seconds=0.5, block_seconds=0.1)
    run = record_array(vault, sid, speechlike(4.0), config, realtime=True)
    run.stop()
    lost = [w for w in run.warnings if w.kind == "lost_audio"]
    assert lost, run.warnings
    total = sum(w.seconds for w in lost)
    assert 0.5 <= total <= 2.5
    assert "lost" in lost[0].message and f"{lost[0].seconds:.1f} s" in lost[0].message
    assert any(e.kind == timeline.WARNING and e.data["warning"] == "lost_audio" for e in timeline.events(vault, sid))


def test_lost_audio_is_detected_by_the_clock_when_the_source_stalls_silently(vault, study_en):
    """PulseAudio never sets the overflow flag: a source that silently skips blocks is caught
    by comparing frames received with the monotonic clock."""
    sid = consented_session(vault, study_en.study)
    config = RecorderConfig(lost_tolerance=0.3, block_seconds=0.1)
    run = record_array(vault, sid, speechlike(4.0), config, realtime=True, skip_every=3)
    time.sleep(0.3)
    run.stop()
    lost = [w for w in run.warnings if w.kind == "lost_audio"]
    assert lost and "did not arrive" in lost[0].message
    assert run.recorder.stats.overflows == 0


def test_silence_and_clipping_warnings(vault, study_en):
    from fieldscribe.core.audio.health import HealthConfig

    sid = consented_session(vault, study_en.study)
    quiet = np.zeros((16000 * 3, 1), dtype=np.int16)
    loud = (np.sign(speechlike(1.0)) * 32767).astype(np.int16)
    config = RecorderConfig(health=HealthConfig(silence_after=2.0))
    run = record_array(vault, sid, np.concatenate([quiet, loud]), config)
    run.stop()
    kinds = [w.kind for w in run.warnings]
    assert kinds[:3] == ["silence", "sound_back", "clipping"], kinds


def test_low_disk_refuses_to_start_and_a_filling_disk_stops_cleanly(vault, study_en):
    sid = consented_session(vault, study_en.study)
    tiny = lambda _p: 10 * 1024 * 1024  # noqa: E731
    with pytest.raises(FieldscribeError, match="cannot start"):
        begin_recording(vault, sid, RecorderConfig(), source=ArraySource(speechlike(1)), free_space=tiny)
    assert sessions.get_session(vault, sid).status == sessions.PLANNED

    free = {"bytes": 600 * 1024 * 1024}

    def shrinking(_p):
        free["bytes"] -= 60 * 1024 * 1024
        return free["bytes"]

    config = RecorderConfig(disk_check_every=0.2)
    data = speechlike(6.0)
    run = begin_recording(vault, sid, config, source=ArraySource(data, realtime=True), free_space=shrinking)
    deadline = time.monotonic() + 10
    while run.running and time.monotonic() < deadline:
        time.sleep(0.05)
    info = run.stop()
    kinds = [w.kind for w in run.warnings]
    assert "disk_low" in kinds and kinds[-1] == "disk_full"
    assert run.recorder.stopped_for_disk
    out, _ = read_audio(vault, sid)
    assert 0 < len(out) == info.frames < len(data)
    assert np.array_equal(out, data[: len(out)])


def test_recording_continues_a_session_after_a_stop(vault, study_en):
    sid = consented_session(vault, study_en.study)
    a, b = speechlike(2.5, seed=1), speechlike(1.5, seed=2)
    record_array(vault, sid, a).stop()
    record_array(vault, sid, b).stop()
    out, _ = read_audio(vault, sid)
    assert np.array_equal(out, np.concatenate([a, b]))


def test_recovery_after_the_process_vanishes(vault, vault_path, study_en):
    """Simulate the on-disk state a kill leaves: a row still 'recording', a torn last record."""
    sid = consented_session(vault, study_en.study)
    data = speechlike(4.0)
    run = record_array(vault, sid, data)
    run.mark(timeline.QUESTION, question="q1", domain="peers")
    run.recorder.source.stop()
    run.recorder._stop.set()
    run.recorder._queue.put(None)
    run.recorder._worker.join()
    run.recorder.writer.close()
    path = audio_path(vault, sid)
    with open(path, "ab") as f:
        f.write(struct.pack(">I", 5000) + os.urandom(1234))  # a record cut short by the crash
    assert interrupted_sessions(vault) == [sid]
    (r,) = recover_all(vault)
    assert r.chunks == 4 and r.dropped_bytes == 4 + 1234 and r.events == 1
    out, _ = read_audio(vault, sid)
    assert np.array_equal(out, data)
    assert sessions.get_session(vault, sid).status == sessions.RECORDED
    assert [e.kind for e in timeline.events(vault, sid)] == ["question", "recovered"]
    assert vault.audit.entries()[-1].action == "recording.recovered"
    assert interrupted_sessions(vault) == []


def test_a_write_error_stops_recording_with_one_sentence_and_keeps_earlier_audio(vault, study_en, monkeypatch):
    import errno

    from fieldscribe.core.audio import chunkfile
    from fieldscribe.core.errors import RecordingFailed

    sid = consented_session(vault, study_en.study)
    real_append = chunkfile.ChunkWriter.append
    calls = {"n": 0}

    def failing_append(self, frames, payload):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.EIO, "Input/output error")
        return real_append(self, frames, payload)

    monkeypatch.setattr(chunkfile.ChunkWriter, "append", failing_append)
    data = speechlike(5.0)
    run = record_array(vault, sid, data)
    deadline = time.monotonic() + 5
    while run.running and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(RecordingFailed, match=r"could not be written \(Input/output error\); the first 2 s are saved"):
        run.stop()
    assert [w.kind for w in run.warnings][-1] == "write_failed"
    out, _ = read_audio(vault, sid)
    assert np.array_equal(out, data[:32000])
