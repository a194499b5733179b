#!/usr/bin/env python3
"""Opening a bundle on the analysis side: `open_bundle` (age decrypted as a stream into a
bounded tar stream, signature checked first, every member checked and hashed) against the
baseline of plain age decryption of the same file into memory (pyrage.decrypt), in the same
run. Peak memory is reported too: the stream should not hold the whole archive twice.

  .venv/bin/python scripts/bench_bundle_open.py [--mb 200] [--files 50]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CHILD = """
import resource, sys, time
from pathlib import Path
mode, bundle, identity = sys.argv[1:4]
t = time.perf_counter()
if mode == "baseline":
    import pyrage
    from pyrage import x25519
    secret = next(l for l in Path(identity).read_text().splitlines() if l.startswith("AGE-SECRET-KEY-"))
    data = pyrage.decrypt(Path(bundle).read_bytes(), [x25519.Identity.from_str(secret)])
    n = len(data)
else:
    from fieldscribe.core.export.bundle import open_bundle
    opened = open_bundle(Path(bundle), Path(identity))
    n = sum(len(v) for v in opened.files.values())
print(time.perf_counter() - t, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""

MAKE = """
import os, sys
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fieldscribe.core.export.bundle import write_bundle
from fieldscribe.core.export.keys import read_recipients
out, recipient, mb, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = {f"audio/S{i}.flac": os.urandom(mb * 1024 * 1024 // n) for i in range(n)}
write_bundle(files, {"study": {"id": "bench", "title": "bench", "ethics_reference": "x"},
                     "device_id": "bench-device", "sessions": []},
             Ed25519PrivateKey.generate(), read_recipients([recipient]), Path(out))
"""


def run(mode: str, bundle: Path, identity: Path) -> tuple[float, int, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(bundle), str(identity)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    secs, n, rss = out.stdout.split()
    return float(secs), int(n), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--files", type=int, default=50)
    args = ap.parse_args()
    from fieldscribe.core.export.keys import keygen

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        identity, recipient = keygen(tmp_path / "team.key")
        bundle = tmp_path / "b.fsbundle.age"
        # made in a child: Linux carries a parent's peak memory over fork into the children
        subprocess.run(
            [sys.executable, "-c", MAKE, str(bundle), recipient, str(args.mb), str(args.files)],
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        print(
            f"fieldscribe bundle-open benchmark — {os.cpu_count()} CPUs; bundle {bundle.stat().st_size / 1e6:.0f} MB, "
            f"{args.files} files"
        )
        base = min((run("baseline", bundle, identity) for _ in range(2)), key=lambda r: r[0])
        ours = min((run("open", bundle, identity) for _ in range(2)), key=lambda r: r[0])
        print(f"{'step':<58}{'seconds':>9}{'peak MB':>10}")
        print(f"{'baseline: age-decrypt into memory (pyrage.decrypt)':<58}{base[0]:>9.2f}{base[2]:>10.0f}")
        print(f"{'open_bundle (stream, verify signature first, hash)':<58}{ours[0]:>9.2f}{ours[2]:>10.0f}")
        print(f"ratio open / decrypt: {ours[0] / base[0]:.2f}; peak memory ratio {ours[2] / base[2]:.2f}")


if __name__ == "__main__":
    main()
