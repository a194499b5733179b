#!/usr/bin/env python3
"""Export cost for a whole study: 40 one-hour interviews (~700 segments each), reviewed and
exported into one bundle — against the baseline of rendering the same formats from the same
de-identified content already in memory (no vault, no decryption, no signing, no age) in the
same run.

  .venv/bin/python scripts/bench_export.py [--sessions 40] [--minutes 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "When I first came to the centre I did not talk to anyone, I just sat by the window.",
    "Mary from the kitchen asked me to help with lunch and that is how it started.",
    "Sometimes I call 9123 4567 when I feel bad, it is the number of my friend.",
    "The doctor at Harbour View changed my tablets in March and I felt better after a while.",
    "We go to the park on Sundays, four or five of us, and we talk about the week.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()

    from fieldscribe.core import consent, participants, sessions
    from fieldscribe.core.crypto import KdfParams
    from fieldscribe.core.deid.lists import add_study_identifiers
    from fieldscribe.core.deid.review import decide, mark_reviewed
    from fieldscribe.core.export.content import gather
    from fieldscribe.core.export.exporter import build_files, export_sessions
    from fieldscribe.core.export.keys import keygen
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments
    from fieldscribe.core.vault import Vault

    per_session = int(args.minutes * 60 / 5)  # one ~5 s segment after another
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        vault, _ = Vault.create(tmp_path / "vault", "bench", kdf=KdfParams(8192, 1, 1))
        sf = load_study(ROOT / "assets" / "guides" / "peer-support-daycare.en.yaml")
        import_guide(vault, sf)
        add_study_identifiers(vault, ["Harbour View=day-care centre", "Mary=staff member"])
        ids = []
        t0 = time.perf_counter()
        for i in range(args.sessions):
            pid = participants.enrol(
                vault,
                sf.study,
                group="service_user",
                name=f"Person Number{i}",
                baseline={"age": 20 + i % 45, "gender": "female"},
            )
            consent.record_consent(vault, sf.study, pid, {c.id: True for c in sf.study.consent})
            sid = sessions.create_session(vault, [pid])
            sessions.start_recording(vault, sid)  # recorded (without audio); transcribed on completion
            sessions.set_status(vault, sid, sessions.RECORDED)
            t = begin_transcript(vault, sid, EngineSettings(model="bench"), per_session * 5.0)
            key = sessions.session_key(vault, sid)
            segs = [Segment(j * 5.0, j * 5.0 + 4.5, SENTENCES[j % len(SENTENCES)]) for j in range(per_session)]
            store_segments(vault, t, key, segs, [], per_session * 5.0)
            complete_transcript(vault, t)
            ids.append(sid)
        setup = time.perf_counter() - t0
        t0 = time.perf_counter()
        for sid in ids:
            decide(vault, sid, accept_all=True)
            mark_reviewed(vault, sid)
        review = time.perf_counter() - t0
        _key, recipient = keygen(tmp_path / "team.key")

        t0 = time.perf_counter()
        out = export_sessions(vault, ids, tmp_path / "out", [recipient])
        export = time.perf_counter() - t0

        content = gather(vault, ids)  # the same content, already decrypted and de-identified
        t0 = time.perf_counter()
        files = build_files(content)
        render = time.perf_counter() - t0
        vault.close()
        size = out.stat().st_size
    words = args.sessions * per_session * 15
    print(
        f"fieldscribe export benchmark — {os.cpu_count()} CPUs; {args.sessions} sessions × {args.minutes:g} min "
        f"({per_session} segments each, ~{words:,} words)"
    )
    print(f"  (setup: storing transcripts {setup:.1f} s; redaction review accept-all {review:.1f} s)")
    print(f"{'step':<58}{'seconds':>9}")
    print(f"{'baseline: render all formats from in-memory content':<58}{render:>9.2f}")
    print(f"{'fieldscribe export (decrypt, de-identify, render, sign, age)':<58}{export:>9.2f}")
    print(f"ratio export / render: {export / render:.2f}; bundle {size / 1e6:.1f} MB, {len(files)} files")


if __name__ == "__main__":
    main()
