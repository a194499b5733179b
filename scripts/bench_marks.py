#!/usr/bin/env python3
"""What a mark placed after the fact costs on an hour-long interview: `fieldscribe mark` and the
review's Q re-attribute every transcript version in one transaction (open each segment, seal
again the ones whose question or notes changed). Against baselines measured in the same run
on the same vault: reading the versions' segments (what re-attribution cannot avoid) and one
hand correction of a segment (`edit_segment`, the review's E).

  .venv/bin/python scripts/bench_marks.py [--minutes 60] [--versions 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--versions", type=int, default=2, help="transcript versions (a live one and a final pass)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    from fieldscribe.core import consent, marking, participants, sessions, timeline
    from fieldscribe.core.audio.importer import import_file
    from fieldscribe.core.crypto import KdfParams
    from fieldscribe.core.editing import edit_segment
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import (
        begin_transcript,
        complete_transcript,
        list_transcripts,
        load_segments,
        store_segments,
    )
    from fieldscribe.core.vault import Vault

    seconds = args.minutes * 60
    per_version = int(seconds / 5)  # one ~5 s segment after another
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        vault, _ = Vault.create(tmp_path / "vault", "bench", kdf=KdfParams(8192, 1, 1))
        study_file = load_study(ROOT / "assets" / "guides" / "peer-support-daycare.en.yaml")
        import_guide(vault, study_file)
        pid = participants.enrol(vault, study_file.study, group="service_user")
        consent.record_consent(vault, study_file.study, pid, {c.id: True for c in study_file.study.consent})
        sid = sessions.create_session(vault, [pid])
        wav = tmp_path / "handheld.wav"
        rng = np.random.default_rng(0)
        sf.write(wav, (rng.standard_normal(int(seconds * 16000)) * 300).astype(np.int16), 16000)
        import_file(vault, sid, wav)
        wav.unlink()
        key = sessions.session_key(vault, sid)
        for v in range(args.versions):
            t = begin_transcript(vault, sid, EngineSettings(model=f"bench{v}"), seconds)
            segs = [
                Segment(j * 5.0, j * 5.0 + 4.5, f"Sentence {j} of the interview, as it was said.")
                for j in range(per_version)
            ]
            store_segments(vault, t, key, segs, [], seconds)
            complete_transcript(vault, t)
        versions = list_transcripts(vault, sid)

        read = _median_s(lambda: [load_segments(vault, t, key) for t in versions], args.repeat)
        edits = iter(range(10_000))
        edit = _median_s(lambda: edit_segment(vault, sid, 3, text=f"Corrected words {next(edits)}."), args.repeat)
        # each mark moves where a question begins, so most segments change question (the worst case)
        spots = iter(range(10_000))
        mark = _median_s(
            lambda: marking.add_mark(
                vault, sid, timeline.QUESTION, (next(spots) * 7.3) % seconds, question=f"q{next(spots) % 7 + 1}"
            ),
            args.repeat,
        )
        note = _median_s(lambda: marking.add_mark(vault, sid, timeline.NOTE, seconds / 2, text="laughs"), args.repeat)
        gone = iter([e.seq for e in marking.marks(vault, sid)])
        remove = _median_s(lambda: marking.remove_mark(vault, sid, next(gone)), args.repeat)
        vault.close()

    print(
        f"marks after the fact — {os.cpu_count()} CPUs; {args.minutes:g} min recording, {args.versions} transcript "
        f"version(s) × {per_version} segments; median of {args.repeat}"
    )
    print(f"{'step':<62}{'ms':>9}{'× read':>9}")
    rows = [
        ("baseline: read every version's segments (open, no change)", read),
        ("baseline: correct one segment's words (edit_segment)", edit),
        ("mark a question (re-attribute, re-seal what changed)", mark),
        ("mark a note (re-attribute; one segment changes)", note),
        ("take a mark back", remove),
    ]
    for label, s in rows:
        print(f"{label:<62}{s * 1000:>9.1f}{s / read:>9.2f}")


if __name__ == "__main__":
    main()
