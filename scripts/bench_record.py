#!/usr/bin/env python3
"""Recording cost: CPU time to encode + seal + append + fsync one minute of audio, and bytes
per minute, for FLAC and Opus chunks — against writing a plain WAV of the same audio in the
same run (the baseline: what any recorder must at least do).

Audio: real speech from espeak-ng if it is installed (scripts/virtual-mic installs it),
else a deterministic speech-like signal. Run: .venv/bin/python scripts/bench_record.py [--minutes N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fieldscribe.core import crypto
from fieldscribe.core.audio import codec
from fieldscribe.core.audio.chunkfile import AudioFormat, ChunkWriter

RATE = 16000
TEXT = (
    "In the day centre I met people who understood what I was going through. At first I kept to myself, "
    "but after a few months we started having lunch together and talking about our week. "
)


def speech(minutes: float) -> tuple[np.ndarray, str]:
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "s.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), TEXT * 6], check=True)
            data, rate = sf.read(wav, dtype="int16")
        # resample espeak's 22050 Hz to 16 kHz (linear is fine for a cost benchmark)
        idx = np.arange(0, len(data) * RATE // rate) * rate / RATE
        data = np.interp(idx, np.arange(len(data)), data).astype(np.int16)
        source = "espeak-ng speech"
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.audio_fakes import speechlike

        data = speechlike(60, RATE)[:, 0]
        source = "synthetic speech-like signal"
    need = int(minutes * 60 * RATE)
    reps = -(-need // len(data))
    return np.tile(data, reps)[:need].reshape(-1, 1), source


def cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    pcm, source = speech(args.minutes)
    minutes = len(pcm) / RATE / 60
    key = crypto.random_key()
    aad = lambda *parts: "/".join(parts).encode()  # noqa: E731
    print(f"fieldscribe recording benchmark — {os.cpu_count()} CPUs, {minutes:.1f} min of {source}, 16 kHz mono")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "plain.wav"

        def write_wav() -> None:
            # the baseline recorder: one plain WAV, written in the same 1 s pieces, fsync'd at the end
            with sf.SoundFile(wav_path, "w", RATE, 1, subtype="PCM_16", format="WAV") as f:
                for i in range(0, len(pcm), RATE):
                    f.write(pcm[i : i + RATE])
            fd = os.open(wav_path, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)

        results["plain WAV (baseline)"] = (cpu(write_wav), wav_path.stat().st_size)
        for name in ("flac", "opus"):
            path = Path(tmp) / f"{name}.audio"

            def record(name=name, path=path) -> None:
                w = ChunkWriter(path, "S1", AudioFormat(name, RATE, 1), key, aad)
                for i in range(0, len(pcm), RATE):
                    block = pcm[i : i + RATE]
                    w.append(len(block), codec.encode(block, RATE, name))
                w.close()

            results[f"{name.upper()} chunks, sealed, fsync each"] = (cpu(record), path.stat().st_size)

    base_cpu, base_bytes = results["plain WAV (baseline)"]
    print(f"{'writer':<34}{'CPU s/min':>11}{'x WAV':>8}{'KiB/min':>10}{'x WAV':>8}{'% of one core':>15}")
    for name, (c, size) in results.items():
        per_min = c / minutes
        print(
            f"{name:<34}{per_min:>11.3f}{c / base_cpu:>8.1f}{size / 1024 / minutes:>10.0f}"
            f"{size / base_bytes:>8.2f}{per_min / 60 * 100:>14.2f}%"
        )


if __name__ == "__main__":
    main()
