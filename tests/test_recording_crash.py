"""kill -9 in the middle of an interview: at most ~1 s is lost, every earlier chunk
decrypts and decodes, and the session comes back with its timeline.

The recording runs in a separate process with a real-time scripted source (the same
Recorder, worker thread, chunk file and fsync as with a microphone); tests/test_e2e_record.py
repeats the kill with the real recorder on the virtual microphone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.store import read_audio
from fieldscribe.core.recovery import interrupted_sessions
from fieldscribe.core.vault import Vault

from .audio_fakes import speechlike
from .conftest import PASSPHRASE, ROOT

CHILD = textwrap.dedent(
    """
    import sys, time
    from fieldscribe.core.vault import Vault
    from fieldscribe.core.recording import begin_recording
    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core import timeline
    from tests.audio_fakes import ArraySource, speechlike

    vault = Vault.open(sys.argv[1]); vault.unlock(sys.argv[2])
    run = begin_recording(vault, sys.argv[3], RecorderConfig(),
                          source=ArraySource(speechlike(60.0), block=4000, realtime=True))
    run.mark(timeline.QUESTION, question="q1", domain="peers")
    marked = False
    while True:
        time.sleep(0.05)
        run.poll()
        if run.position >= 2.0 and not marked:
            run.mark(timeline.NOTE, text="tearful", preset="tearful")
            run.mark(timeline.QUESTION, question="q2", domain="peers")
            marked = True
        print(f"{run.recorder.writer.next_frame} {run.position:.3f}", flush=True)
    """
)


def test_sigkill_mid_interview_loses_at_most_about_a_second(vault, vault_path, study_en):
    study = study_en.study
    pid = participants.enrol(vault, study, group="service_user")
    consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
    sid = sessions.create_session(vault, [pid])
    vault.close()

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(vault_path), PASSPHRASE, sid],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    captured = 0.0
    written = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(proc.stderr.read())
            written, position = int(line.split()[0]), float(line.split()[1])
            if position >= 4.6:
                captured = position
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    # the next start of fieldscribe (any command) finds and repairs the interrupted recording
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    v = Vault.open(vault_path)
    v.unlock(PASSPHRASE)
    assert interrupted_sessions(v) == [sid]
    v.close()
    result = CliRunner().invoke(
        cli, ["--vault", str(vault_path), "session", "list"], env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    )
    assert result.exit_code == 0, result.output
    assert f"Note: recording of {sid} was interrupted; recovered" in result.stderr
    assert f"{sid}    interview" in result.stdout and "recorded" in result.stdout

    v = Vault.open(vault_path)
    try:
        v.unlock(PASSPHRASE)
        assert interrupted_sessions(v) == []
        (report,) = [r for r in _recovered(v) if r.session_id == sid]
        # every sealed chunk written before the kill is kept; what was lost is at most the
        # last unsealed second plus one block in flight
        assert report.seconds >= written / 16000
        assert captured - report.seconds <= 1.0 + 0.25 + 0.1, (captured, report.seconds)
        out, _ = read_audio(v, sid)
        source = speechlike(60.0)
        assert len(out) == report.seconds * 16000
        assert np.array_equal(out, source[: len(out)])
        kinds = [(e.kind, e.data.get("question") or e.data.get("preset")) for e in timeline.events(v, sid)]
        assert kinds[:4] == [("question", "q1"), ("note", "tearful"), ("question", "q2"), ("recovered", None)]
        assert sessions.get_session(v, sid).status == sessions.RECORDED
        assert any(e.action == "recording.recovered" and e.subject == sid for e in v.audit.entries())
    finally:
        v.close()


def test_no_plaintext_audio_on_disk_after_recording(vault, vault_path, study_en):
    """Scan the vault and the temp folder for stretches of the raw PCM that was recorded."""
    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core.recording import begin_recording

    from .audio_fakes import ArraySource

    study = study_en.study
    pid = participants.enrol(vault, study, group="service_user")
    consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
    sid = sessions.create_session(vault, [pid])
    data = speechlike(4.0, seed=11)
    started = time.time()
    source = ArraySource(data)
    run = begin_recording(vault, sid, RecorderConfig(), source=source)
    source.done.wait(30)
    run.stop()
    pcm = data.tobytes()
    needles = [pcm[i : i + 32] for i in range(1000, len(pcm) - 64, len(pcm) // 50)]
    needles = [n for n in needles if len(set(n)) > 8]  # skip near-silent stretches
    assert len(needles) > 20
    tmp = Path(tempfile.gettempdir())
    candidates = [p for p in vault_path.rglob("*") if p.is_file()]
    candidates += [p for p in _files_under(tmp) if _recent(p, started) and not p.is_relative_to(vault_path)]
    for path in candidates:
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        assert not any(n in blob for n in needles), f"plaintext audio found in {path}"
    # the scan would find it: the PCM is really these bytes
    assert needles[0] in pcm


def _recovered(v: Vault):
    """What recovery recorded, read back from the audit log."""
    from fieldscribe.core.recovery import Recovered

    return [
        Recovered(e.subject, e.details["chunks"], e.details["seconds"], e.details["dropped_bytes"], e.details["events"])
        for e in v.audit.entries()
        if e.action == "recording.recovered"
    ]


def _files_under(root: Path) -> list[Path]:
    """Every file below `root`. The temp folder is shared with other programs, whose folders come
    and go during the walk: os.walk skips one that vanished (Path.rglob raised)."""
    return [Path(folder, name) for folder, _dirs, names in os.walk(root) for name in names]


def _recent(path: Path, since: float) -> bool:
    try:
        return path.stat().st_mtime >= since - 1
    except OSError:
        return False
