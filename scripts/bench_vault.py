#!/usr/bin/env python3
"""Vault speed: unlock time and the cost of sealing/opening 10,000 records.

Machines here are noisy, so every figure is printed with a baseline measured in the same
run on the same machine:
  * unlock            vs. one bare Argon2id derivation with the same parameters
  * seal+store 10k    vs. storing the same 10k JSON documents in plaintext with sqlite-utils
  * read+open 10k     vs. reading those plaintext documents back
  * history check / seal of a 700-segment interview (core/ledger.py)
                      vs. reading and opening those 700 segments
Run: .venv/bin/python scripts/bench_vault.py [--records N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import sqlite_utils

from fieldscribe.core import crypto
from fieldscribe.core.crypto import KdfParams
from fieldscribe.core.vault import Vault


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_history(v: Vault) -> tuple[float, float, float]:
    """What the history ledger adds to a long interview: a full (uncached) check of a session
    with 700 sealed segments, and re-sealing it after a change, against reading and opening
    those segments once (which any transcript view does anyway)."""
    from fieldscribe.core import consent, ledger, participants, sessions
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import (
        begin_transcript,
        complete_transcript,
        store_segments,
    )

    study = load_study(Path(__file__).resolve().parents[1] / "assets" / "guides" / "peer-support-daycare.en.yaml")
    import_guide(v, study)
    pid = participants.enrol(v, study.study, group="service_user", name="Bench Person")
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    sid = sessions.create_session(v, [pid])
    run = begin_transcript(v, sid, EngineSettings(model="tiny.en"), 3600.0)
    key = sessions.session_key(v, sid)
    text = "and then we talked about what the day centre means to me and to the people I met there " * 2
    store_segments(v, run, key, [Segment(i * 5.0, i * 5.0 + 4.5, text) for i in range(700)], [], 3600.0)
    complete_transcript(v, run)
    tid = v.db.execute("SELECT id FROM transcripts WHERE session_id = ?", (sid,)).fetchone()[0]

    def read_segments() -> None:
        for idx, sealed in v.db.execute("SELECT idx, sealed FROM transcript_segments WHERE transcript_id = ?", (tid,)):
            v.open_json(key, sealed, "segment", sid, "1", str(idx))

    check = timed(lambda: ledger.verify_all(v))  # verify_all never answers from the cache
    seal = timed(lambda: ledger.update_session(v, sid))
    return check, seal, timed(read_segments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    n = args.records
    docs = [{"name": f"Participant {i}", "contact": f"5555 {i:04d}", "notes": "x" * 200} for i in range(n)]
    params = KdfParams()
    print(
        f"fieldscribe vault benchmark — {os.cpu_count()} CPUs, {n} records, "
        f"Argon2id m={params.memory_kib // 1024} MiB t={params.iterations} p={params.lanes}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        vault, _ = Vault.create(tmp_path / "vault", "benchmark passphrase")
        vault.close()

        salt = crypto.random_salt()
        kdf = timed(lambda: crypto.passphrase_key("benchmark passphrase", salt, params))

        def unlock() -> None:
            v = Vault.open(tmp_path / "vault")
            v.unlock("benchmark passphrase")
            v.close()

        unlock_t = timed(unlock)

        plain = sqlite_utils.Database(tmp_path / "plain.db")
        plain.execute("PRAGMA journal_mode = WAL")
        plain.execute("PRAGMA synchronous = FULL")

        def store_plain() -> None:
            plain["docs"].drop(ignore=True)
            with plain.atomic():
                plain["docs"].insert_all(({"id": i, "doc": json.dumps(d)} for i, d in enumerate(docs)), pk="id")

        store_plain_t = timed(store_plain, 3)
        read_plain_t = timed(lambda: [json.loads(r["doc"]) for r in plain["docs"].rows], 3)

        v = Vault.open(tmp_path / "vault")
        v.unlock("benchmark passphrase")
        key = v.study_key

        def store_sealed() -> None:
            v.db["bench"].drop(ignore=True)
            with v.db.atomic():
                v.db["bench"].insert_all(
                    ({"id": i, "sealed": v.seal_json(key, d, "bench", str(i))} for i, d in enumerate(docs)), pk="id"
                )

        def read_sealed() -> None:
            for row in v.db["bench"].rows:
                v.open_json(key, row["sealed"], "bench", str(row["id"]))

        store_sealed_t = timed(store_sealed, 3)
        read_sealed_t = timed(read_sealed, 3)
        check_t, seal_t, segments_t = bench_history(v)
        v.close()

    rows = [
        ("unlock (open + Argon2id + unwrap + audit check)", unlock_t, "bare Argon2id derivation", kdf),
        (f"seal + store {n} records", store_sealed_t, "plaintext store", store_plain_t),
        (f"read + open {n} records", read_sealed_t, "plaintext read", read_plain_t),
        ("check history, 700-segment interview", check_t, "read + open its segments", segments_t),
        ("seal history + audit entry, same interview", seal_t, "read + open its segments", segments_t),
    ]
    print(f"{'measurement':<50}{'time':>10}   {'baseline':<26}{'time':>10}{'ratio':>8}")
    for name, t, base_name, base in rows:
        print(f"{name:<50}{t * 1000:>8.1f}ms   {base_name:<26}{base * 1000:>8.1f}ms{t / base:>7.2f}x")
    per_record_us = (store_sealed_t + read_sealed_t) / n * 1e6
    print(f"sealing+opening costs {per_record_us:.1f} µs per record round trip")
    print(f"unlock under one second: {'yes' if unlock_t < 1.0 else 'NO'} ({unlock_t:.3f} s)")


if __name__ == "__main__":
    main()
