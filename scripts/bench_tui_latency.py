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

Then (c), the review screen of a one-hour transcript (the annotated English interview turns
of tests/data/deid/dev_en.jsonl cycled to ~9,000 words, each segment made unique): A and R
alternately on segments with suggested redactions. Saving a decision re-reads and re-checks
the whole transcript, so it runs in a worker; what counts is how long the UI thread (the
event loop Textual draws from) is held, from the key until the decision shows: sampled by a
1 ms ticker on that loop, the longest stall per press. The baseline in the same run is a
cursor move (↓) on the same screen, and the worker's time is printed beside it: what one
key held the UI for when decisions were saved on the UI thread.

With --while-diarizing, (d): session S3 recorded with live transcription off while speaker
diarization (fieldscribe.core.diarization.pipeline.diarize, as the app runs it in a worker
after a stop) loops over an eight-minute synthetic two-voice interview in a background thread
of the same process; the same →/← presses, compared with (a) in the same run.

(Pilot.press itself is not the stopwatch: after each key it waits until the *process* looks
idle — process CPU time, which counts the transcriber's thread — so with live transcription
it would time the transcriber, up to a second a key, not the interface.)

  .venv/bin/python scripts/bench_tui_latency.py [--presses 40] [--gap 0.3] [--model base]
      [--only interview|review] [--decisions 30] [--while-diarizing]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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


class Diarizing:
    """Speaker diarization looping in a background thread, as the app's worker would run it."""

    def __init__(self, minutes: float = 8.0) -> None:
        from tests.conversation import interview

        audio, _ = interview(seed=0)  # about two minutes, two voices
        self.audio = np.tile(audio, int(np.ceil(minutes * 60 * RATE / len(audio))))
        self.stop = threading.Event()
        self.runs: list[float] = []  # seconds per whole diarization
        self.thread = threading.Thread(target=self._loop, name="diarization", daemon=True)

    def _loop(self) -> None:
        from fieldscribe.core.diarization.pipeline import diarize

        while not self.stop.is_set():
            started = time.perf_counter()
            diarize(self.audio, voices=2, threads=1)
            self.runs.append(time.perf_counter() - started)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def minutes(self) -> float:
        return len(self.audio) / RATE / 60


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
    return int(screen.live_segments)


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
    sid: str | None = None,
) -> dict:
    from fieldscribe.tui.screens.home import HomeScreen
    from fieldscribe.tui.screens.interview import InterviewScreen

    app = pilot.app
    assert isinstance(app.screen, HomeScreen), app.screen
    old = app.settings  # frozen: a new one
    from fieldscribe.tui.settings import Settings

    app.settings = Settings(
        idle_lock_s=old.idle_lock_s, live_transcription=live, language=old.language, keymap=old.keymap
    )
    table = app.screen.query_one("#sessions")
    table.move_cursor(row=row)
    await pilot.pause()
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, InterviewScreen), screen
    assert sid is None or screen.sid == sid, (screen.sid, sid)
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


class LoopStalls:
    """How long the event loop was held at a stretch: a ticker that sleeps 1 ms and notes when
    it woke. A gap much longer than 1 ms is time the loop (the UI thread) spent elsewhere."""

    def __init__(self) -> None:
        self.wakes: list[float] = []
        self.task: asyncio.Task | None = None

    async def _tick(self) -> None:
        while True:
            self.wakes.append(time.perf_counter())
            await asyncio.sleep(0.001)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._tick())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def longest(self, t0: float, t1: float) -> float:
        """The longest stall (ms) overlapping [t0, t1], less the ticker's own 1 ms sleep."""
        gaps = [b - a for a, b in itertools.pairwise(self.wakes) if b >= t0 and a <= t1]
        return max(0.0, (max(gaps, default=0.0) - 0.001) * 1000)


def hour_transcript() -> list[str]:
    """The annotated English interview turns cycled to an hour of talk (~9,000 words), cut at
    sentence ends into segments of Whisper's usual length (a dozen words or so)."""
    import re

    from fieldscribe.core.deid.evaluation import load

    turns = [t.text for t in load(ROOT / "tests" / "data" / "deid" / "dev_en.jsonl") if t.text.strip()]
    sentences = [part for text in turns for part in re.split(r"(?<=[.?!])\s+", text.strip()) if part]
    lines: list[str] = []
    words = 0
    while words < 9000:
        text = sentences[len(lines) % len(sentences)]
        lines.append(f"({len(lines) + 1}) {text}")  # unique, so no cache helps
        words += len(text.split())
    return lines


async def review_phase(pilot, *, decisions: int, rng: random.Random) -> dict:
    """(c): A/R on an hour-long transcript; the UI thread's longest stall per key."""
    from textual import events

    from fieldscribe.tui.screens.home import HomeScreen
    from fieldscribe.tui.screens.review import ReviewScreen

    app = pilot.app
    assert isinstance(app.screen, HomeScreen), app.screen
    table = app.screen.query_one("#sessions")
    table.move_cursor(row=table.row_count - 1)  # the transcribed session, planned last
    await pilot.pause()
    opened = time.perf_counter()
    await pilot.press("v")
    deadline = time.monotonic() + 300
    while not (isinstance(app.screen, ReviewScreen) and not app.screen.finding):
        assert time.monotonic() < deadline, "the review screen did not finish looking for suggestions"
        await asyncio.sleep(0.05)
    screen = app.screen
    ready_s = time.perf_counter() - opened
    rows = {s.segment: i for i, s in enumerate(screen.suggested)}  # any order; mapped to rows below
    row_of = {seg.idx: i for i, seg in enumerate(screen.segments)}
    with_suggestions = sorted({row_of[s.segment] for s in screen.suggested if s.segment in row_of})
    assert with_suggestions, f"no suggestions in {len(screen.segments)} segments ({len(rows)})"
    saved: list[float] = []  # when the screen applied each saved decision
    applied = ReviewScreen.on_decision_saved

    def on_saved(self, message) -> None:
        applied(self, message)
        saved.append(time.perf_counter())

    ReviewScreen.on_decision_saved = on_saved
    stalls = LoopStalls()
    stalls.start()
    grid = screen.query_one("#segments")

    async def key(name: str) -> float:
        event = events.Key(name, None)
        event.set_sender(app)
        started = time.perf_counter()
        app._driver.send_message(event)
        return started

    moves: list[float] = []
    decided: list[float] = []
    worker_ms: list[float] = []
    for i in range(decisions):
        target = with_suggestions[rng.randrange(len(with_suggestions))]
        grid.move_cursor(row=target - 1 if target else 1)
        await asyncio.sleep(0.2)
        t0 = await key("down" if target else "up")  # baseline: a cursor move onto it (the detail is redrawn)
        await asyncio.sleep(0.2)
        moves.append(stalls.longest(t0, time.perf_counter()))
        saved_before = len(saved)
        t0 = await key("a" if i % 2 == 0 else "r")
        deadline = time.monotonic() + 60
        while len(saved) == saved_before:  # the worker's result has been applied
            assert time.monotonic() < deadline, (
                f"a decision was not saved: {screen.finding=} {app.screen=} {[n.message for n in app._notifications]}"
            )
            await asyncio.sleep(0.002)
        t1 = saved[-1]
        await asyncio.sleep(0.05)  # and drawn
        decided.append(stalls.longest(t0, time.perf_counter()))
        worker_ms.append((t1 - t0) * 1000)
    stalls.stop()
    ReviewScreen.on_decision_saved = applied
    await pilot.press("escape")
    await pilot.pause()
    return {
        "move": moves,
        "decide": decided,
        "worker": worker_ms,
        "segments": len(screen.segments),
        "suggestions": len(screen.suggested),
        "ready_s": ready_s,
    }


def add_hour_transcript(vault: Path) -> str:
    """A third session holding an hour-long stored transcript (no audio: review needs none)."""
    from fieldscribe.core.study import load_study
    from fieldscribe.core.vault import Vault
    from tests.conftest import PASSPHRASE, STUDY_EN
    from tests.test_deidentify import transcript_session

    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        _pid, sid = transcript_session(v, load_study(STUDY_EN).study, "Ann Lee", hour_transcript())
    finally:
        v.close()
    return sid


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
        s3 = sessions.create_session(v, [pids[0]], wave=3) if args.while_diarizing else None  # S3: (d)
    finally:
        v.close()
    if args.only != "interview":
        add_hour_transcript(vault)
    pcm, once = speech(folder, 300) if args.only != "review" else (np.zeros((RATE, 1), dtype="int16"), 0.0)
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
            if args.only != "review":
                results["baseline"] = await phase(pilot, probe, busy, row=1, live=False, **common)
                results["live"] = await phase(pilot, probe, busy, row=0, live=True, **common)
                if s3 is not None:
                    diarizing = Diarizing()
                    diarizing.start()
                    try:
                        results["diarizing"] = await phase(pilot, probe, busy, row=2, live=False, sid=s3, **common)
                    finally:
                        diarizing.finish()
                    results["diarizing"]["runs"] = diarizing.runs
                    results["diarizing"]["audio_min"] = diarizing.minutes
            if args.only != "interview":
                results["review"] = await review_phase(pilot, decisions=args.decisions, rng=rng)
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
    parser.add_argument("--only", choices=("interview", "review"), help="run one part only")
    parser.add_argument("--decisions", type=int, default=30, help="review: A/R presses on an hour's transcript")
    parser.add_argument(
        "--while-diarizing",
        action="store_true",
        help="(d): the interview screen again while diarization loops in a background thread",
    )
    args = parser.parse_args()
    os.environ.setdefault("FIELDSCRIBE_MODELS_DIR", str(Path(tempfile.gettempdir()) / "fieldscribe-bench-models"))

    folder = Path(tempfile.mkdtemp(prefix="fs-bench-tui-"))
    try:
        r = asyncio.run(bench(args, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if "review" in r:
        print_review(r["review"])
    if args.only == "review":
        return
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
    if "diarizing" in r:
        labels["diarizing"] = "(d) live off, diarization running"
        rows["diarizing"] = r["diarizing"]["lat"]
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
    if "diarizing" in stats:
        dm, dp, dx = stats["diarizing"]
        runs = r["diarizing"]["runs"]
        print(f"ratio (d)/(a): median {dm / bm:.2f}, p95 {dp / bp:.2f}, max {dx / bx:.2f}")
        print(
            f"diarizing: {len(runs)} whole runs over {r['diarizing']['audio_min']:.1f} min of audio finished during "
            f"(d), {statistics.median(runs) if runs else float('nan'):.1f} s each (median); "
            f"p95 < 100 ms while diarizing: {'yes' if dp < 100 else 'NO'} ({dp:.1f} ms)"
        )
    busy_p95 = stats["busy"][1] if "busy" in stats else float("nan")
    print(
        f"p95 < 100 ms: live {'yes' if lp < 100 else 'NO'} ({lp:.1f} ms); during transcription "
        f"{'yes' if busy_p95 < 100 else 'NO'} ({busy_p95:.1f} ms); baseline {'yes' if bp < 100 else 'NO'} "
        f"({bp:.1f} ms)"
    )


def print_review(r: dict) -> None:
    print(
        f"review-screen benchmark — {os.cpu_count()} CPUs; an hour-long English transcript "
        f"({r['segments']} segments, {r['suggestions']} suggested redactions, ready {r['ready_s']:.1f} s after V); "
        "longest UI-thread stall per key, from the key until the result is drawn"
    )
    print(f"{'key':<48}{'presses':>8}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}")
    rows = {
        "(c0) ↓/↑ cursor move (baseline)": r["move"],
        "(c) A / R: accept or reject a segment's": r["decide"],
        "    …the worker saving it (was on the UI thread)": r["worker"],
    }
    stats = {}
    for label, values in rows.items():
        stats[label] = (statistics.median(values), percentile(values, 0.95), max(values))
        med, p95, mx = stats[label]
        print(f"{label:<48}{len(values):>8}{med:>10.1f}{p95:>9.1f}{mx:>9.1f}")
    (bm, bp, _bx), (dm, dp, dx), (wm, _wp, _wx) = stats.values()
    print(
        f"ratio (c)/(c0): median {dm / max(bm, 0.1):.2f}, p95 {dp / max(bp, 0.1):.2f}; worker/(c) median {wm / max(dm, 0.1):.1f}"
    )
    print(f"A/R under 50 ms on the UI thread: {'yes' if dx < 50 else 'NO'} (max {dx:.1f} ms, p95 {dp:.1f} ms)")


if __name__ == "__main__":
    main()
