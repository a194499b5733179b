#!/usr/bin/env python3
"""Sync throughput to a real OpenSSH server on loopback, against OpenSSH's own `sftp` and
`scp` moving the same files in the same run.

A throwaway sshd (Debian's openssh-server, tests/sync_servers.py) is started on a loopback
port; N random "bundles" of S MiB (random bytes look like age ciphertext) are registered in a
fresh vault's outbox and uploaded with `fieldscribe sync`'s core (temporary name, SHA-256
read back from the server, rename). The baselines copy the same files with `sftp -b` and
`scp` to fresh folders. fieldscribe does more work than they do — it reads every byte back
to verify it — so a ratio below 2 means the verification is the only overhead.

  .venv/bin/python scripts/bench_sync.py [--bundles 5] [--mib 20] [--runs 2]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=5)
    parser.add_argument("--mib", type=int, default=20)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    from fieldscribe.core.export.outbox import record_export
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study
    from fieldscribe.core.sync.push import sync
    from fieldscribe.core.sync.store import Credentials, connect
    from fieldscribe.core.vault import Vault
    from tests.conftest import FAST_KDF, STUDY_EN
    from tests.sync_servers import start_sshd

    work = Path(tempfile.mkdtemp(prefix="fs-bench-sync-"))
    server = start_sshd(work / "sshd")
    try:
        files = []
        for i in range(args.bundles):
            f = work / f"bundle-{i}.fsbundle.age"
            f.write_bytes(os.urandom(args.mib * 2**20))
            files.append(f)
        total = sum(f.stat().st_size for f in files)
        creds = Credentials(identity_file=str(server.user_key), known_hosts=str(server.known_hosts))
        opts = [
            "-i",
            str(server.user_key),
            "-o",
            f"UserKnownHostsFile={server.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
        ]
        target = f"{server.user}@127.0.0.1"
        results: dict[str, list[float]] = {"fieldscribe sync": [], "sftp -b (put)": [], "scp": []}
        for run in range(args.runs):
            vault_dir = work / f"vault-{run}"
            v, _ = Vault.create(vault_dir, "bench", kdf=FAST_KDF)
            with v:
                import_guide(v, load_study(STUDY_EN))
                for f in files:
                    record_export(v, f, "0" * 64, [])
                url = f"sftp://{server.user}@127.0.0.1:{server.port}{server.root}/fs-{run}"

                def ours(url: str = url, v: Vault = v) -> None:
                    store = connect(url, creds)
                    try:
                        report = sync(v, store)
                    finally:
                        store.close()
                    assert len(report.uploaded) == len(files)

                results["fieldscribe sync"].append(timed(ours))
            dest = server.root / f"sftp-{run}"
            dest.mkdir()
            batch = work / f"batch-{run}"
            batch.write_text("".join(f"put {f} {dest}/{f.name}\n" for f in files))
            results["sftp -b (put)"].append(
                timed(
                    lambda batch=batch: subprocess.run(
                        ["sftp", "-q", "-b", str(batch), "-P", str(server.port), *opts, target],
                        check=True,
                        stdout=subprocess.DEVNULL,
                    )
                )
            )
            dest = server.root / f"scp-{run}"
            dest.mkdir()
            results["scp"].append(
                timed(
                    lambda dest=dest: subprocess.run(
                        ["scp", "-q", "-P", str(server.port), *opts, *map(str, files), f"{target}:{dest}/"], check=True
                    )
                )
            )
        best = {k: min(v) for k, v in results.items()}
        print(
            f"fieldscribe sync benchmark — {os.cpu_count()} CPUs; loopback OpenSSH sshd; {args.bundles} bundles × "
            f"{args.mib} MiB = {total / 2**20:.0f} MiB; best of {args.runs} runs"
        )
        print(f"{'method':<22}{'best s':>9}{'MiB/s':>9}   all runs")
        for name, times in results.items():
            print(
                f"{name:<22}{best[name]:>9.2f}{total / 2**20 / best[name]:>9.1f}   "
                + ", ".join(f"{t:.2f}" for t in times)
            )
        print(
            f"ratio fieldscribe / sftp: {best['fieldscribe sync'] / best['sftp -b (put)']:.2f}   "
            f"fieldscribe / scp: {best['fieldscribe sync'] / best['scp']:.2f}   "
            "(fieldscribe also reads every byte back to verify its SHA-256)"
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
