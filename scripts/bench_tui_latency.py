#!/usr/bin/env python3
"""Keypress-to-screen latency of the interview screen while live transcription runs.

The real app (Textual, headless at 100×30) on a real vault records from a clocked array of
real speech (espeak-ng reading assets/bench/interview-en.txt, 16 kHz), so the live
transcriber really transcribes on its own thread while the interviewer presses keys. In one
run, one after the other:
  (a) baseline: session S2 recorded with live transcription off;
  (b) live: session S1 recorded with live transcription on, measured once a couple of live
      segments have arrived (the model is loaded and windows are being transcribed).
Each phase presses → and ← alternately, 0.15–0.45 s apart (a question change: the guide
redraws and the question is stamped on the timeline in SQLite). A press is timed from the
moment the key event is handed to the app, as Pilot.press does, until the first screen update
drawn after the #domain label shows the new question number. Transcribing a window takes
about a second in every eight or more, so the live phase presses on until enough presses
(--busy) overlapped one; those are reported on their own line too.

(Pilot.press itself is not the stopwatch: after each key it waits until the *process* looks
idle — process CPU time, which counts the transcriber's thread — so with live transcription
it would time the transcriber, up to a second a key, not the interface.)

  .venv/bin/python scripts/bench_tui_latency.py [--presses 40] [--gap 0.3] [--model base]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 16000


def speech(folder: Path, seconds: float) -> tuple[np.ndarray, float]:
    """The English bench text spoken by espeak-ng at 16 kHz, repeated to `seconds`."""
    import soundfile as sf

    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        sys.exit("espeak-ng and sox are needed (scripts/virtual-mic start installs them)")
    text = (ROOT / "assets" / "bench" / "interview-en.txt").read_text().strip()
    raw, wav = folder / "en-raw.wav", folder / "en.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    data, rate = sf.read(wav, dtype="int16", always_2d=True)
    assert rate == RATE
    once = len(data) / RATE
    need = int(seconds * RATE)
    return np.tile(data, (-(-need // len(data)), 1))[:need], once


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class BusyWindows:
    """When the live transcriber was transcribing a window (patched in around its method)."""

    def __init__(self) -> None:
        from fieldscribe.core.live_transcription import LiveTranscriber

        self.spans: list[tuple[float, float]] = []
        self.current: float | None = None
        original = LiveTranscriber.transcribe_window
        busy = self

        def transcribe(transcriber, cut: int) -> None:
            busy.current = time.perf_counter()
            try:
                original(transcriber, cut)
            finally:
                busy.spans.append((busy.current, time.perf_counter()))
                busy.current = None

        LiveTranscriber.transcribe_window = transcribe

    def during(self, t0: float, t1: float) -> bool:
        """Did a window's transcription overlap [t0, t1]?"""
        spans = self.spans + ([(self.current, float("inf"))] if self.current is not None else [])
        return any(a <= t1 and b >= t0 for a, b in spans)


class ScreenProbe:
    """Times from a key event to the first screen update that shows the expected text."""

    def __init__(self, app) -> None:
        self.app = app
        self.expect: str | None = None
        self.shown = asyncio.Event()
        self.shown_at = 0.0
        self.started_at = 0.0
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if self.expect is not None and renderable is not None and self.expect in self.label_text():
                self.shown_at = time.perf_counter()
                self.expect = None
                self.shown.set()

        app._display = display  # called by the screen with each compositor update

    def label_text(self) -> str:
        from textual.css.query import NoMatches

        try:
            return str(self.app.screen.query_one("#domain").content)
        except NoMatches:  # a screen without the domain label (between screens)
            return ""

    async def press(self, key: str, expect: str, timeout: float = 10.0) -> float:
        from textual import events

        self.expect, self.shown_at = expect, 0.0
        self.shown.clear()
        event = events.Key(key, None)
        event.set_sender(self.app)
        self.started_at = time.perf_counter()
        self.app._driver.send_message(event)  # what Pilot.press does first
        await asyncio.wait_for(self.shown.wait(), timeout)
        return (self.shown_at - self.started_at) * 1000


def live_lines(screen) -> int:
    """Live segments shown so far: one line each in the screen's live-transcript log.

    (Counted on screen: the App keeps no record of the LiveSegment messages.)"""
    from textual.widgets import Log

    return screen.query_one("#live", Log).line_count


def question_stamps(app, sid: str) -> int:
    from fieldscribe.core import timeline

    return sum(1 for e in timeline.events(app.services.vault, sid) if e.kind == timeline.QUESTION)


async def phase(
    pilot,
    probe: ScreenProbe,
    busy: BusyWindows,
    *,
    row: int,
    live: bool,
    presses: int,
    gap: float,
    warmup: int,
    min_segments: int,
    min_busy: int,
    rng: random.Random,
) -> dict:
    from fieldscribe.tui.screens.home import HomeScreen
    from fieldscribe.tui.screens.interview import InterviewScreen

    app = pilot.app
    assert isinstance(app.screen, HomeScreen), app.screen
    app.settings.live_transcription = live
    table = app.screen.query_one("#sessions")
    table.move_cursor(row=row)
    await pilot.pause()
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, InterviewScreen), screen
    await pilot.press("r")
    deadline = time.monotonic() + 120
    while screen.state != "recording":
        assert time.monotonic() < deadline, "the recording did not start"
        await asyncio.sleep(0.05)
    waited = time.monotonic()
    if live:
        deadline = time.monotonic() + 180
        while live_lines(screen) < min_segments:
            assert time.monotonic() < deadline, "no live segments arrived"
            await asyncio.sleep(0.1)
    waited = time.monotonic() - waited
    total = len(screen.questions)
    latencies: list[float] = []
    overlapped: list[float] = []  # presses while a window was being transcribed
    segments_before = live_lines(screen)
    stamps_before = question_stamps(app, screen.sid)
    started = time.monotonic()
    i = 0
    # live: go on until enough presses landed while a window was being transcribed (a window
    # takes about a second in every eight or more), at most three minutes
    while i < warmup + presses or (live and len(overlapped) < min_busy and time.monotonic() - started < 180):
        i += 1
        key = "right" if screen.index == 0 else "left"
        target = screen.index + (1 if key == "right" else -1)
        ms = await probe.press(key, f"Q {target + 1}/{total}")
        if i > warmup:
            latencies.append(ms)
            if busy.during(probe.started_at, probe.shown_at):
                overlapped.append(ms)
        await asyncio.sleep(gap * (0.5 + rng.random()))  # presses land at every phase of a window
    measured_s = time.monotonic() - started
    segments = live_lines(screen) - segments_before
    stamps = question_stamps(app, screen.sid) - stamps_before
    assert stamps == i, f"{stamps} question stamps for {i} presses"
    # stop (it asks first), wait for the transcript to be finished, back to the study
    await pilot.press("s")
    await pilot.press("y")
    deadline = time.monotonic() + 120
    while screen.state != "stopped":
        assert time.monotonic() < deadline, "the recording did not stop"
        await asyncio.sleep(0.1)
    total_segments = live_lines(screen)
    await pilot.press("escape")
    await pilot.pause()
    return {
        "lat": latencies,
        "busy": overlapped,
        "segments": segments,
        "seconds": measured_s,
        "waited": waited,
        "live_total": total_segments,
    }


async def bench(args, folder: Path) -> dict:
    from fieldscribe.core import sessions
    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core.study import load_study
    from fieldscribe.core.vault import Vault
    from fieldscribe.services import Services
    from fieldscribe.tui.app import FieldscribeApp
    from fieldscribe.tui.settings import Settings
    from tests.audio_fakes import ArraySource
    from tests.conftest import PASSPHRASE, STUDY_EN
    from tests.tui_helpers import make_vault, unlock

    vault = folder / "vault"
    pids = make_vault(vault, load_study(STUDY_EN))  # S1, for the live phase
    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        sessions.create_session(v, [pids[0]], wave=2)  # S2, for the baseline
    finally:
        v.close()
    pcm, once = speech(folder, 300)
    services = Services(
        vault,
        source_factory=lambda: ArraySource(pcm, realtime=True),
        recorder_config=lambda: RecorderConfig(device=None, codec="flac"),
        live_model=args.model,
    )
    app = FieldscribeApp(services, Settings(idle_lock_s=0, live_transcription=True, language="en"))
    rng = random.Random(7)
    results = {}
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            probe = ScreenProbe(app)
            busy = BusyWindows()
            await unlock(pilot)
            common = {
                "presses": args.presses,
                "gap": args.gap,
                "warmup": args.warmup,
                "min_segments": args.segments,
                "min_busy": args.busy,
                "rng": rng,
            }
            results["baseline"] = await phase(pilot, probe, busy, row=1, live=False, **common)
            results["live"] = await phase(pilot, probe, busy, row=0, live=True, **common)
            await app.action_quit()
    finally:
        services.close()
    results["speech_once"] = once
    results["windows"] = [b - a for a, b in busy.spans]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=40, help="measured key presses per phase")
    parser.add_argument("--warmup", type=int, default=4, help="unmeasured presses before them")
    parser.add_argument("--gap", type=float, default=0.3, help="mean seconds between presses")
    parser.add_argument(
        "--busy",
        type=int,
        default=20,
        help="live: press on until this many presses overlapped a window's transcription",
    )
    parser.add_argument("--segments", type=int, default=2, help="live segments to wait for before measuring")
    parser.add_argument("--model", default=None, help="live model (default: the study's, else base)")
    args = parser.parse_args()
    os.environ.setdefault("FIELDSCRIBE_MODELS_DIR", str(Path(tempfile.gettempdir()) / "fieldscribe-bench-models"))

    folder = Path(tempfile.mkdtemp(prefix="fs-bench-tui-"))
    try:
        r = asyncio.run(bench(args, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    model = args.model or "study default (base)"
    print(
        f"fieldscribe interview-screen latency benchmark — {os.cpu_count()} CPUs; Textual headless 100×30; "
        f"espeak-ng English ({r['speech_once']:.0f} s, looped) as the microphone; live model {model}, 1 thread; "
        f"→/← alternately, {args.gap:g} s apart on average: {args.presses} presses per phase, live on until "
        f"{args.busy} of them overlap a window's transcription"
    )
    print(f"{'phase':<40}{'presses':>8}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}{'secs':>7}{'live segs':>10}")
    labels = {
        "baseline": "(a) live transcription off",
        "live": "(b) live transcription on, all presses",
        "busy": "(b') …those during a window's transcr.",
    }
    rows = {"baseline": r["baseline"]["lat"], "live": r["live"]["lat"], "busy": r["live"]["busy"]}
    stats = {}
    for k, lat in rows.items():
        if not lat:
            print(f"{labels[k]:<40}{0:>8}{'—':>10}{'—':>9}{'—':>9}")
            continue
        stats[k] = (statistics.median(lat), percentile(lat, 0.95), max(lat))
        med, p95, mx = stats[k]
        secs = f"{r[k]['seconds']:>7.1f}{r[k]['segments']:>10d}" if k in r else ""
        print(f"{labels[k]:<40}{len(lat):>8}{med:>10.1f}{p95:>9.1f}{mx:>9.1f}{secs}")
    (bm, bp, bx), (lm, lp, lx) = stats["baseline"], stats["live"]
    print(f"ratio (b)/(a): median {lm / bm:.2f}, p95 {lp / bp:.2f}, max {lx / bx:.2f}")
    if "busy" in stats:
        om, op, ox = stats["busy"]
        print(f"ratio (b')/(a): median {om / bm:.2f}, p95 {op / bp:.2f}, max {ox / bx:.2f}")
    windows = r["windows"]
    print(
        f"live: {r['live']['segments']} segments arrived during the measured presses ({r['live']['live_total']} in "
        f"all; measuring began {r['live']['waited']:.1f} s into the recording, once {args.segments} had arrived); "
        f"{len(windows)} windows transcribed, "
        f"{statistics.median(windows) if windows else 0:.1f} s each (median)"
    )
    busy_p95 = stats["busy"][1] if "busy" in stats else float("nan")
    print(
        f"p95 < 100 ms: live {'yes' if lp < 100 else 'NO'} ({lp:.1f} ms); during transcription "
        f"{'yes' if busy_p95 < 100 else 'NO'} ({busy_p95:.1f} ms); baseline {'yes' if bp < 100 else 'NO'} "
        f"({bp:.1f} ms)"
    )


if __name__ == "__main__":
    main()
