"""How long `fieldscribe` takes to show its unlock screen, next to the floor Python and
Textual set on this machine, measured in the same run.

    .venv/bin/python scripts/bench_startup.py [--runs N] [--goal 0.5]

It makes a demo vault from the bundled example study in a temporary folder (passphrase
"demo", fictional participants; nothing of the user's is read), then launches the real
console script `.venv/bin/fieldscribe --vault ...` N times inside a pseudo-terminal of
100×30 and measures the wall time from exec until the unlock screen's title is in what the
app has drawn (escape sequences stripped); it then quits the app with Ctrl+Q. In the same
run it times `python -c "pass"`, `python -c "import textual"` and `python -c "import
textual.app"` (what any Textual app pays before drawing anything). It prints a table (median
and min of each) and the ratios, and exits 1 when the median start-up is over --goal seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FIELDSCRIBE = BIN / "fieldscribe"
PYTHON = BIN / "python"
STUDIES = [ROOT / "assets/guides/peer-support-daycare.en.yaml", ROOT / "assets/guides/peer-support-daycare.zh.yaml"]
TITLES = ("Unlock the study vault", "解锁研究数据库")  # tui/strings.py "unlock.title", both languages
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P^_].*?\x1b\\|\x1b[@-Z\\-_]")


def make_demo_vault(folder: Path) -> Path:
    vault = folder / "vault"
    env = {**os.environ, "FIELDSCRIBE_VAULT": str(vault), "FIELDSCRIBE_PASSPHRASE": "demo"}
    args = [str(FIELDSCRIBE), "demo"]
    for study in STUDIES:
        args += ["--study", str(study)]
    made = subprocess.run(args, env=env, capture_output=True, text=True)
    if made.returncode:
        raise SystemExit(f"`fieldscribe demo` failed:\n{made.stderr}")
    return vault


MINIMAL_APP = """
from textual.app import App
from textual.widgets import Label
class Minimal(App):
    def compose(self):
        yield Label("Unlock the study vault")
Minimal().run()
"""


def time_first_screen(args: list[str], timeout: float = 30.0) -> float:
    """Seconds from exec of ARGS in a fresh 100×30 pty until the unlock title is drawn."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSCRIBE_")}
    env.update(TERM="xterm-256color", COLUMNS="100", LINES="30", FIELDSCRIBE_IDLE_LOCK="0")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    seen = b""
    try:
        while True:
            left = started + timeout - time.perf_counter()
            if left <= 0:
                tail = _ESCAPES.sub(b"", seen)[-600:].decode("utf-8", "replace")
                raise SystemExit(f"no unlock title within {timeout:.0f} s; the terminal showed:\n{tail}")
            ready, _, _ = select.select([master], [], [], min(left, 0.5))
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the app ended (EIO on Linux)
                data = b""
            if not data:
                tail = _ESCAPES.sub(b"", seen)[-600:].decode("utf-8", "replace")
                raise SystemExit(f"{args[0]} ended before drawing the unlock title:\n{tail}")
            seen += data
            text = _ESCAPES.sub(b"", seen).decode("utf-8", "replace")
            if any(title in text for title in TITLES):
                return time.perf_counter() - started
    finally:
        _quit(proc, master)


def _quit(proc: subprocess.Popen, master: int) -> None:
    with contextlib.suppress(OSError):
        os.write(master, b"\x11")  # Ctrl+Q, as a user would
    deadline = time.monotonic() + 5
    while proc.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            try:
                os.read(master, 65536)  # keep the pty drained so the app can write its goodbye
            except OSError:
                break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(5)
    os.close(master)


def time_command(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each (default 9)")
    parser.add_argument("--goal", type=float, default=0.5, help="seconds the median must stay under (default 0.5)")
    opts = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="fieldscribe-bench-startup-"))
    try:
        vault = make_demo_vault(folder)
        cases = {
            'python -c "pass"': lambda: time_command([str(PYTHON), "-c", "pass"]),
            'python -c "import textual"': lambda: time_command([str(PYTHON), "-c", "import textual"]),
            'python -c "import textual.app"': lambda: time_command([str(PYTHON), "-c", "import textual.app"]),
            "minimal Textual app → first frame": lambda: time_first_screen([str(PYTHON), "-c", MINIMAL_APP]),
            "fieldscribe → unlock screen": lambda: time_first_screen([str(FIELDSCRIBE), "--vault", str(vault)]),
        }
        for measure in cases.values():  # warm the page cache and the bytecode once
            measure()
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(opts.runs):  # interleaved, so a busy moment hits every case alike
            for name, measure in cases.items():
                times[name].append(measure())
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"start-up, {opts.runs} runs each, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{'':34} {'median':>8} {'min':>8} {'max':>8}")
    for name, values in times.items():
        print(f"{name:34} {statistics.median(values):8.3f} {min(values):8.3f} {max(values):8.3f}")
    app = statistics.median(times["fieldscribe → unlock screen"])
    for base in [name for name in times if not name.startswith("fieldscribe")]:
        floor = statistics.median(times[base])
        print(f"unlock screen / {base:32} {app / floor:5.2f}×  (+{app - floor:.3f} s)")
    ok = app <= opts.goal
    print(f"goal: unlock screen within {opts.goal:.2f} s (median): {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
