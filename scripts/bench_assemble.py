#!/usr/bin/env python3
"""What assembling the whole study costs the analysis team: LAPTOPS laptops × SESSIONS one-hour
interviews each, exported, synced to a folder store and pulled; then `study assemble` (read
every bundle's export.json, check it against its signed manifest, pick the newest copy of each
session, render one .qdpx and the sheet) — against the baseline of rendering the same content,
already in memory, into a .qdpx, measured in the same run.

  .venv/bin/python scripts/bench_assemble.py [--laptops 3] [--sessions 8] [--minutes 60]
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
    "The cook asked me to help with lunch and that is how it started.",
    "We go to the park on Sundays, four or five of us, and we talk about the week.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--laptops", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()

    from fieldscribe.core import consent, participants, sessions, timeline
    from fieldscribe.core.crypto import KdfParams
    from fieldscribe.core.deid.review import decide, mark_reviewed
    from fieldscribe.core.export.assemble import assemble
    from fieldscribe.core.export.exporter import export_sessions
    from fieldscribe.core.export.keys import keygen
    from fieldscribe.core.export.qdpx import build_qdpx
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study, parse_study
    from fieldscribe.core.sync.push import sync
    from fieldscribe.core.sync.receipts import pull
    from fieldscribe.core.sync.store import Credentials, connect
    from fieldscribe.core.sync.trust import receipt_key_hex
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments
    from fieldscribe.core.vault import Vault

    per_session = int(args.minutes * 60 / 5)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        identity, recipient = keygen(tmp_path / "team.key")
        base = load_study(ROOT / "assets" / "guides" / "peer-support-daycare.en.yaml")
        study = parse_study(base.text.rstrip("\n") + f"\nexport:\n  receipt_keys: [{receipt_key_hex(identity)}]\n")
        store_dir = tmp_path / "store"
        store_dir.mkdir()
        url = f"file://{store_dir}"
        t0 = time.perf_counter()
        for n in range(args.laptops):
            v, _ = Vault.create(tmp_path / f"laptop{n}", "bench", kdf=KdfParams(8192, 1, 1))
            import_guide(v, study)
            sids = []
            for i in range(args.sessions):
                pid = participants.enrol(v, study.study, group="service_user", baseline={"age": 20 + i})
                consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
                sid = sessions.create_session(v, [pid])
                sessions.start_recording(v, sid)
                sessions.set_status(v, sid, sessions.RECORDED)
                # the guide's questions marked through the interview, so every turn is coded
                marks = [
                    timeline.insert_event(
                        v, sid, timeline.QUESTION, k * per_session * 5.0 / 7, None, {"question": q, "domain": d}
                    )
                    for k, (d, q) in enumerate((d.id, q.id) for d, q in study.study.questions())
                ]
                t = begin_transcript(v, sid, EngineSettings(model="bench"), per_session * 5.0)
                segs = [Segment(j * 5.0, j * 5.0 + 4.5, f"{SENTENCES[j % 3]} ({j})") for j in range(per_session)]
                store_segments(v, t, sessions.session_key(v, sid), segs, marks, per_session * 5.0)
                complete_transcript(v, t)
                decide(v, sid, accept_all=True)
                mark_reviewed(v, sid)
                sids.append(sid)
            export_sessions(v, sids, tmp_path / f"outbox{n}", [recipient])
            store = connect(url, Credentials())
            sync(v, store)
            store.close()
            v.close()
        store = connect(url, Credentials())
        pull(store, identity, tmp_path / "pulled")
        store.close()
        setup = time.perf_counter() - t0

        t0 = time.perf_counter()
        result = assemble(tmp_path / "pulled", [study])
        whole = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_qdpx(result.content)
        render = time.perf_counter() - t0

    print(
        f"study assemble benchmark — {os.cpu_count()} CPUs; {args.laptops} laptops × {args.sessions} sessions × "
        f"{args.minutes:g} min ({per_session} segments each); setup (export, sync, pull) {setup:.1f} s"
    )
    print(f"{'step':<64}{'seconds':>9}")
    print(f"{'baseline: render the same content into one .qdpx (in memory)':<64}{render:>9.2f}")
    print(f"{'study assemble (read, check, choose, render .qdpx and sheet)':<64}{whole:>9.2f}")
    segments = sum(len(s.segments) for s in result.content.sessions)
    print(f"ratio assemble / render: {whole / render:.2f}; {len(result.content.sessions)} sessions, {segments} segments, "
          f"{len(result.qdpx) / 1e6:.2f} MB project")  # fmt: skip


if __name__ == "__main__":
    main()
