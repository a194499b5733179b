"""Interviews from a handheld recorder come in sealed; plaintext goes out only on purpose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from fieldscribe.cli import cli
from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.audio.store import read_audio
from fieldscribe.core.errors import ConsentMissing, InvalidInput
from fieldscribe.core.recordings import audio_path

from .audio_fakes import speechlike


def session_with_consent(vault, study, audio=True) -> str:
    pid = participants.enrol(vault, study, group="service_user")
    consent.record_consent(vault, study, pid, {c.id: (audio or c.id != "audio_recording") for c in study.consent})
    return sessions.create_session(vault, [pid])


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = (np.sin(2 * np.pi * freq * t) * 12000).astype(np.int16)
    return np.stack([x] * channels, axis=1)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(float)))
    return float(np.argmax(spectrum) * rate / len(x))


def write_m4a(path: Path, pcm: np.ndarray, rate: int) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        for i in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[i : i + 1024, 0].reshape(1, -1), format="s16", layout="mono")
            frame.rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_16k_wav_imports_sample_for_sample(vault, study_en, tmp_path):
    sid = session_with_consent(vault, study_en.study)
    data = speechlike(3.3)
    src = tmp_path / "handheld.wav"
    sf.write(src, data, 16000, subtype="PCM_16")
    before = src.read_bytes()
    seconds = import_file(vault, sid, src)
    assert seconds == pytest.approx(3.3, abs=0.001)
    out, _ = read_audio(vault, sid)
    assert np.array_equal(out, data)
    assert src.read_bytes() == before, "the original must be left untouched"
    assert sessions.get_session(vault, sid).status == sessions.RECORDED
    assert vault.audit.entries()[-1].action == "audio.import"


@pytest.mark.parametrize("kind", ["wav44k-stereo", "flac48k", "mp3", "m4a"])
def test_other_formats_and_rates_are_resampled(vault, study_en, tmp_path, kind):
    sid = session_with_consent(vault, study_en.study)
    if kind == "wav44k-stereo":
        path, rate = tmp_path / "a.wav", 44100
        sf.write(path, tone(4.0, rate, channels=2), rate)
    elif kind == "flac48k":
        path, rate = tmp_path / "a.flac", 48000
        sf.write(path, tone(4.0, rate), rate)
    elif kind == "mp3":
        path, rate = tmp_path / "a.mp3", 44100
        sf.write(path, tone(4.0, rate), rate, format="MP3")
    else:
        path, rate = tmp_path / "a.m4a", 44100
        write_m4a(path, tone(4.0, rate), rate)
    seconds = import_file(vault, sid, path)
    assert seconds == pytest.approx(4.0, abs=0.1)
    out, out_rate = read_audio(vault, sid)
    assert out_rate == 16000 and out.shape[1] == 1
    assert dominant_hz(out[:, 0], 16000) == pytest.approx(440, abs=2)


def test_import_refuses_without_consent_and_bad_files_store_nothing(vault, study_en, tmp_path):
    no_audio = session_with_consent(vault, study_en.study, audio=False)
    src = tmp_path / "x.wav"
    sf.write(src, speechlike(1.0), 16000)
    with pytest.raises(ConsentMissing):
        import_file(vault, no_audio, src)
    sid = session_with_consent(vault, study_en.study)
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"definitely not audio" * 50)
    with pytest.raises(InvalidInput, match="could not be read as audio"):
        import_file(vault, sid, junk)
    with pytest.raises(InvalidInput, match="does not exist"):
        import_file(vault, sid, tmp_path / "missing.wav")
    assert not audio_path(vault, sid).exists()
    assert not list(vault.blob_dir.glob("*.partial"))
    assert sessions.get_session(vault, sid).status == sessions.PLANNED
    import_file(vault, sid, src)  # and then a good file works
    with pytest.raises(InvalidInput, match="already has audio"):
        import_file(vault, sid, src)


def _cli_vault(vault, study_en, tmp_path):
    sid = session_with_consent(vault, study_en.study)
    data = speechlike(2.0)
    src = tmp_path / "in.wav"
    sf.write(src, data, 16000, subtype="PCM_16")
    path = str(vault.path)
    vault.close()
    return path, sid, src, data


def test_cli_import_reminds_to_delete_and_export_asks_first(vault, study_en, tmp_path):
    from .conftest import PASSPHRASE

    path, sid, src, data = _cli_vault(vault, study_en, tmp_path)
    env = {"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    runner = CliRunner()
    r = runner.invoke(cli, ["--vault", path, "audio", "import", sid, str(src)], env=env)
    assert r.exit_code == 0, r.output
    assert "delete it securely" in r.stderr and src.exists()

    out = tmp_path / "copy.wav"
    r = runner.invoke(cli, ["--vault", path, "audio", "export", sid, str(out)], env=env, input="n\n")
    assert r.exit_code == 0 and not out.exists() and "Nothing exported" in r.stdout
    r = runner.invoke(cli, ["--vault", path, "audio", "export", sid, str(out), "--yes"], env=env)
    assert r.exit_code == 0, r.output
    back, rate = sf.read(out, dtype="int16", always_2d=True)
    assert rate == 16000 and np.array_equal(back, data)
    r = runner.invoke(cli, ["--vault", path, "audit", "show"], env=env)
    assert "audio.export_plaintext" in r.stdout and "copy.wav" not in r.stdout
    r = runner.invoke(cli, ["--vault", path, "audio", "export", sid, str(out), "--yes"], env=env)
    assert r.exit_code != 0 and "already exists" in r.stderr


def test_devices_without_portaudio_says_what_to_install():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sounddevice'] = None\n"
        "from fieldscribe.cli import main; sys.argv = ['fieldscribe', 'devices']; main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("Error: The PortAudio sound library is not installed")
    assert "apt-get install libportaudio2" in proc.stderr and "Traceback" not in proc.stderr
