"""Real speech for tests: espeak-ng English, resampled to 16 kHz mono with sox.

(espeak-ng's Mandarin is not intelligible to Whisper, so Chinese is tested at the text level
and with real recordings in scripts/bench_transcribe.py where available.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

SENTENCES = [
    "When I first came to the day centre I did not talk to anyone.",
    "Now I help the new members find their way.",
    "That gives me a reason to get up in the morning.",
]


def espeak_wav(folder: Path, text: str, name: str = "speech", gap_s: float = 0.0) -> tuple[Path, np.ndarray]:
    assert shutil.which("espeak-ng") and shutil.which("sox"), "scripts/virtual-mic start installs espeak-ng and sox"
    raw = folder / f"{name}-raw.wav"
    out = folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
    data, rate = sf.read(out, dtype="int16", always_2d=True)
    assert rate == 16000
    return out, data


def sentences_with_pauses(folder: Path, pause_s: float = 2.5) -> tuple[Path, np.ndarray, list[float]]:
    """The three sentences with silent pauses between them; returns where each one starts."""
    parts, starts, pos = [], [], 0
    silence = np.zeros((int(pause_s * 16000), 1), dtype=np.int16)
    for i, sentence in enumerate(SENTENCES):
        _p, data = espeak_wav(folder, sentence, f"s{i}")
        starts.append(pos / 16000)
        parts += [data, silence]
        pos += len(data) + len(silence)
    pcm = np.concatenate(parts)
    out = folder / "sentences.wav"
    sf.write(out, pcm, 16000, subtype="PCM_16")
    return out, pcm, starts
