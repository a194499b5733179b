"""The real recorder on a real (virtual) microphone, driven through the real CLI.

scripts/virtual-mic gives PortAudio a clocked PulseAudio source; we play espeak-ng speech into
it while `fieldscribe record` runs in its own process, then decrypt the session from the vault
and align it with the source by cross-correlation: FLAC must match sample for sample.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.store import read_audio
from fieldscribe.core.vault import Vault

from .conftest import PASSPHRASE, STUDY_EN

pytestmark = pytest.mark.skipif(
    os.environ.get("FIELDSCRIBE_SKIP_AUDIO_E2E") == "1", reason="FIELDSCRIBE_SKIP_AUDIO_E2E=1"
)

SPEECH = (
    "When I first came to the day centre I did not talk to anyone. "
    "Now I help the new members find their way, and that gives me a reason to get up in the morning."
)


def speech_wav(tmp: Path, channels: int = 1) -> tuple[Path, np.ndarray]:
    raw = tmp / "espeak.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), SPEECH], check=True)
    out = tmp / f"speech{channels}.wav"
    if channels == 1:
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    else:
        # left: the speech; right: the same speech reversed — two different lapel microphones
        left = tmp / "left.wav"
        right = tmp / "right.wav"
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(left)], check=True)
        subprocess.run(["sox", str(left), str(right), "reverse"], check=True)
        subprocess.run(["sox", "-M", str(left), str(right), str(out)], check=True)
    data, rate = sf.read(out, dtype="int16", always_2d=True)
    assert rate == 16000
    return out, data


def align(recorded: np.ndarray, source: np.ndarray) -> int:
    """Lag of `source` inside `recorded` (FFT cross-correlation on the first channel)."""
    a = recorded[:, 0].astype(np.float64)
    b = source[:, 0].astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    return int(np.argmax(corr[: len(a)]))


def prepared_vault(path: Path) -> str:
    from fieldscribe.core.crypto import KdfParams
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study

    study_file = load_study(STUDY_EN)
    v, _ = Vault.create(path, PASSPHRASE, kdf=KdfParams(memory_kib=8192, iterations=1, lanes=1))
    with v:
        import_guide(v, study_file)
        pid = participants.enrol(v, study_file.study, group="service_user")
        consent.record_consent(v, study_file.study, pid, {c.id: True for c in study_file.study.consent})
        return sessions.create_session(v, [pid])


def start_record(env: dict, vault: Path, sid: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "fieldscribe"),
            "--vault",
            str(vault),
            "record",
            sid,
            "--device",
            "pulse",
            *args,
        ],
        env={**env, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    assert line.startswith("Recording"), line + proc.stderr.read()
    return proc


def play(env: dict, sink: str, wav: Path) -> None:
    subprocess.run(["paplay", "-d", sink, str(wav)], env=env, check=True, timeout=120)


def test_recorded_speech_matches_the_source_sample_for_sample(virtual_mic, tmp_path):
    vault = tmp_path / "vault"
    sid = prepared_vault(vault)
    wav, source = speech_wav(tmp_path)
    duration = len(source) / 16000
    proc = start_record(virtual_mic, vault, sid, "--seconds", f"{duration + 3:.1f}", "--commands")
    time.sleep(0.5)
    proc.stdin.write("next\nnote laughs\n")
    proc.stdin.flush()
    play(virtual_mic, "vmic_in", wav)
    proc.stdin.write("flag\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"Saved {sid}" in out and "Traceback" not in err

    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        recorded, rate = read_audio(v, sid)
        events = timeline.events(v, sid)
    finally:
        v.close()
    assert rate == 16000 and len(recorded) >= len(source)
    lag = align(recorded, source)
    segment = recorded[lag : lag + len(source)]
    assert len(segment) == len(source)
    exact = np.count_nonzero(segment[:, 0] == source[:, 0])
    assert exact == len(source), f"{len(source) - exact} of {len(source)} samples differ (lag {lag})"
    kinds = [e.kind for e in events]
    assert kinds == ["question", "note", "flag"]
    assert events[0].data["question"] == "q1"
    assert events[0].t < lag / 16000 + 0.5 < events[2].t


def test_two_lapel_microphones_keep_their_channels(virtual_mic, tmp_path):
    vault = tmp_path / "vault"
    sid = prepared_vault(vault)
    wav, source = speech_wav(tmp_path, channels=2)
    env = {**virtual_mic, "PULSE_SOURCE": "vmic2"}
    proc = start_record(env, vault, sid, "--channels", "2", "--seconds", f"{len(source) / 16000 + 3:.1f}")
    time.sleep(0.5)
    play(virtual_mic, "vmic2_in", wav)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        recorded, _ = read_audio(v, sid)
    finally:
        v.close()
    assert recorded.shape[1] == 2
    lag = align(recorded, source)
    segment = recorded[lag : lag + len(source)]
    assert np.array_equal(segment, source)


def test_sigkill_during_a_real_recording_keeps_all_but_the_last_second(virtual_mic, tmp_path):
    vault = tmp_path / "vault"
    sid = prepared_vault(vault)
    wav, source = speech_wav(tmp_path)
    proc = start_record(virtual_mic, vault, sid, "--commands")
    proc.stdin.write("next\n")
    proc.stdin.flush()
    player = subprocess.Popen(["paplay", "-d", "vmic_in", str(wav)], env=virtual_mic)
    started = time.monotonic()
    time.sleep(4.0)
    proc.send_signal(signal.SIGKILL)
    killed_after = time.monotonic() - started
    proc.wait(10)
    player.wait(60)

    env = {**virtual_mic, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    fs = str(Path(sys.executable).parent / "fieldscribe")
    rec = subprocess.run([fs, "--vault", str(vault), "recover"], env=env, capture_output=True, text=True, timeout=60)
    assert rec.returncode == 0, rec.stderr
    assert f"Recovered {sid}" in rec.stdout
    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        recorded, _ = read_audio(v, sid)
        events = timeline.events(v, sid)
        assert sessions.get_session(v, sid).status == sessions.RECORDED
    finally:
        v.close()
    # the recording began ~0.5 s before playback; all but about the last second survived
    assert len(recorded) / 16000 >= killed_after - 1.5
    lag = align(recorded, source)
    kept = recorded[lag:, 0]
    assert len(kept) > 16000 * 2
    assert np.array_equal(kept, source[: len(kept), 0])
    assert [e.kind for e in events] == ["question", "recovered"]


def test_record_refuses_without_audio_consent(virtual_mic, tmp_path):
    vault = tmp_path / "vault"
    sid = prepared_vault(vault)
    v = Vault.open(vault)
    v.unlock(PASSPHRASE)
    from fieldscribe.core.guides import current_guide

    consent.record_consent(v, current_guide(v).study, "P1", {"audio_recording": False})
    v.close()
    fs = str(Path(sys.executable).parent / "fieldscribe")
    env = {**virtual_mic, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    r = subprocess.run(
        [fs, "--vault", str(vault), "record", sid, "--seconds", "1", "--device", "pulse"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and r.stderr.startswith("Error: Audio-recording consent is missing for P1")
    assert not (vault / "blobs" / f"{sid}.audio").exists()


def test_devices_lists_the_virtual_microphone(virtual_mic):
    fs = str(Path(sys.executable).parent / "fieldscribe")
    r = subprocess.run([fs, "devices"], env=virtual_mic, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert re.search(r"\bpulse\b", r.stdout), r.stdout


def test_tools_present():
    assert shutil.which("espeak-ng") and shutil.which("sox") and shutil.which("paplay")


def test_playback_through_the_speakers_is_the_recorded_audio(virtual_mic, tmp_path, monkeypatch):
    """Play a session out through PortAudio into the virtual sink, and record that sink's
    microphone into a second session: what comes back is what was played, sample for sample."""
    import threading

    from fieldscribe.core.audio.devices import list_inputs
    from fieldscribe.core.audio.importer import import_file
    from fieldscribe.core.audio.playback import play as play_audio
    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core.recording import begin_recording

    monkeypatch.setenv("XDG_RUNTIME_DIR", virtual_mic["XDG_RUNTIME_DIR"])
    list_inputs(refresh=True)  # PortAudio may have been initialised before the server started
    vault = tmp_path / "vault"
    first = prepared_vault(vault)
    wav, source = speech_wav(tmp_path)
    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        import_file(v, first, wav)
        pid = v.db.execute("SELECT participant_id FROM session_participants WHERE session_id = ?", (first,)).fetchone()[
            0
        ]
        second = sessions.create_session(v, [pid], wave=2)
        run = begin_recording(v, second, RecorderConfig(device="pulse"))
        time.sleep(0.3)
        played = {}
        t = threading.Thread(target=lambda: played.setdefault("s", play_audio(v, first, 1.0, 4.0, device="pulse")))
        t.start()
        t.join(30)
        time.sleep(2.5)  # the sound server's buffers drain after the stream reports done
        run.stop()
        looped, _ = read_audio(v, second)
    finally:
        v.close()
    assert played["s"] == pytest.approx(3.0, abs=0.01)
    expected = source[16000:64000]
    lag = align(looped, expected)
    got = looped[lag : lag + len(expected)]
    assert len(got) == len(expected)
    same = np.count_nonzero(got[:, 0] == expected[:, 0])
    bad = np.flatnonzero(got[:, 0] != expected[:, 0])
    assert same == len(expected), (
        f"{len(bad)} samples differ, first at {bad[:5]}, last at {bad[-5:]}: {got[bad[:5], 0]} vs {expected[bad[:5], 0]}"
    )
