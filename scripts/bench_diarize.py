#!/usr/bin/env python3
"""Diarization: DER (0.25 s collar) and seconds per minute of audio on this machine.

Conversations with known turns are made with espeak-ng voices (tests/conversation.py): a
one-to-one interview (two voices, a few 0.5 s overlaps) and a three-voice group. Each is
diarized told the number of voices and left to count them. The baseline measured in the same
run is the cheapest possible answer — one voice for all speech — so the ratio shows what the
model adds on the same audio.

Not yet here (issue 16): the speaker model's own reference pipeline side by side, real
recordings with reference turns, and an interviewer profile.

  .venv/bin/python scripts/bench_diarize.py [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from fieldscribe.core.diarization.pipeline import diarize, speech_regions
    from tests.conversation import INTERVIEW, VOICES, conversation, der, interview

    sets = {
        "interview (2 voices)": (interview(seed=0), 2),
        "group (3 voices)": (
            conversation(
                INTERVIEW[:9],
                ["Interviewer", "P1", "P2"] * 3,
                {"Interviewer": VOICES[0], "P1": VOICES[1], "P2": VOICES[2]},
                seed=1,
            ),
            3,
        ),
    }
    print(f"diarization benchmark — {os.cpu_count()} CPUs, {args.threads} thread(s); DER with a 0.25 s collar")
    print(f"{'audio':<22}{'minutes':>8}  {'setting':<18}{'voices':>7}{'DER':>8}{'s/min':>8}{'× audio':>9}")
    for name, ((audio, ref), count) in sets.items():
        minutes = len(audio) / 16000 / 60
        regions = speech_regions(audio)
        one = [(s, e, "one") for s, e in regions]
        print(f"{name:<22}{minutes:>8.2f}  {'baseline: 1 voice':<18}{1:>7}{der(ref, one):>8.3f}{'–':>8}{'–':>9}")
        for label, voices in (("told the count", count), ("counting", None)):
            started = time.perf_counter()
            turns = diarize(audio, voices=voices, threads=args.threads)
            spent = time.perf_counter() - started
            hyp = [(t.start, t.end, str(t.voice)) for t in turns]
            found = len({t.voice for t in turns})
            print(
                f"{'':<22}{'':>8}  {label:<18}{found:>7}{der(ref, hyp):>8.3f}"
                f"{spent / minutes:>8.2f}{spent / (minutes * 60):>9.3f}"
            )
    print("goal (issue 16): DER under 0.10 on the synthetic set; at most 0.3× the audio's duration")


if __name__ == "__main__":
    main()
