"""devices, record, play, recover, audio import/export."""

from __future__ import annotations

import math
import queue
import signal
import sys
import threading
import time
from pathlib import Path

import click

from ..core.errors import InvalidInput
from .common import FiniteFloatRange, UsablePath, open_vault, vault_option


def _clock(seconds: float) -> str:
    """How every command shows a place on a recording ("0:12:30"; loaded when first used)."""
    from ..core.marking import clock

    return clock(seconds)


def parse_time(text: str | None) -> float | None:
    """Seconds, mm:ss or hh:mm:ss (None stays None)."""
    from ..core.marking import parse_time as parse

    return None if text is None else parse(text)


@click.command()
@click.option("--refresh", is_flag=True, help="Re-scan (after plugging a microphone in).")
def devices(refresh: bool) -> None:
    """List the microphones (input devices) PortAudio can see."""
    from ..core.audio.devices import list_inputs

    inputs = list_inputs(refresh=refresh)
    if not inputs:
        click.echo(
            "No microphone found: plug one in, check it is not disabled, then run `fieldscribe devices --refresh`."
        )
        return
    for d in inputs:
        mark = "*" if d.is_default else " "
        click.echo(f"{mark}{d.index:>3}  {d.name}  ({d.channels} ch, {d.default_rate:.0f} Hz)")


class _Commands:
    """Headless interview control: one command per line on stdin (see `record --help`)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="fieldscribe-stdin").start()

    def _read(self) -> None:
        for line in sys.stdin:
            self.queue.put(line.strip())
        self.queue.put("eof")


def _apply(run, command: str, questions: list, state: dict) -> bool:
    """Apply one typed command; return False to stop recording."""
    from ..core import timeline

    verb, _, rest = command.partition(" ")
    verb = verb.lower()
    if verb in ("stop", "eof"):
        return verb == "eof" and state.get("keep_on_eof", False)
    if verb in ("next", "prev", "q"):
        if verb == "q":
            ids = [q.id for _d, q in questions]
            if rest not in ids:
                raise InvalidInput(f"Unknown question {rest!r}; this guide has {', '.join(ids)}.")
            state["i"] = ids.index(rest)
        else:
            state["i"] = min(len(questions) - 1, max(0, state.get("i", -1) + (1 if verb == "next" else -1)))
        domain, question = questions[state["i"]]
        run.mark(timeline.QUESTION, question=question.id, domain=domain.id)
        click.echo(f"[{_clock(run.position)}] {question.id}: {question.text}", err=True)
    elif verb == "probe":
        _d, question = questions[max(0, state.get("i", 0))]
        run.mark(timeline.PROBE, question=question.id, probe=int(rest or 0))
    elif verb == "note":
        preset = rest if rest in timeline.NOTE_PRESETS else None
        run.mark(timeline.NOTE, text=rest, preset=preset)
    elif verb == "flag":
        run.mark(timeline.FLAG, text=rest)
    elif verb == "pause":
        run.pause()
        click.echo(f"[{_clock(run.position)}] paused", err=True)
    elif verb == "resume":
        run.resume()
        click.echo(f"[{_clock(run.position)}] recording", err=True)
    elif verb == "speaker":
        run.mark(timeline.SPEAKER, participant=rest.upper())
    elif verb:
        click.echo(
            f"Unknown command {verb!r}: use next, prev, q ID, probe N, note TEXT, flag, pause, resume, "
            "speaker P2, stop.",
            err=True,
        )
    return True


@click.command()
@vault_option
@click.argument("session")
@click.option("--device", help="Input device number or name (see `fieldscribe devices`).")
@click.option(
    "--seconds",
    type=FiniteFloatRange(0, 24 * 3600, min_open=True),
    help="Stop after this many seconds, at most a day (default: until Ctrl-C).",
)
@click.option(
    "--codec",
    type=click.Choice(["flac", "opus"]),
    default="flac",
    show_default=True,
    help="FLAC is lossless; Opus keeps ~5–10x less.",
)
@click.option(
    "--rate",
    type=click.IntRange(8000, 192000),
    default=16000,
    show_default=True,
    help="Sample rate in Hz (8000 to 192000).",
)
@click.option(
    "--channels", type=click.IntRange(1, 8), default=1, show_default=True, help="2 for two lapel microphones."
)
@click.option("--live", is_flag=True, help="Transcribe while recording, so the transcript is ready at stop.")
@click.option("--model", help="Whisper model for --live (default: the study's, else base).")
@click.option(
    "--commands",
    is_flag=True,
    help="Read interview commands from stdin, one per line: next, prev, q ID, probe N, note TEXT, "
    "flag [TEXT], pause, resume, speaker P2, stop.",
)
@click.pass_context
def record(
    ctx: click.Context,
    session: str,
    device: str | None,
    seconds: float | None,
    codec: str,
    rate: int,
    channels: int,
    live: bool,
    model: str | None,
    commands: bool,
) -> None:
    """Record a session into the vault (sealed ~1 s chunks; refuses without audio consent)."""
    from ..core import sessions as score
    from ..core.audio.recorder import RecorderConfig
    from ..core.guides import load_guide
    from ..core.participants import list_participants
    from ..core.recording import begin_recording

    config = RecorderConfig(rate=rate, channels=channels, device=device, codec=codec)
    interactive = sys.stdout.isatty()
    last_level = {"db": -math.inf}

    def on_level(level) -> None:
        last_level["db"] = max(level.rms_db)

    # SIGTERM (a shutdown, a kill) stops as cleanly as Ctrl-C
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with open_vault(ctx) as vault:
            s = score.get_session(vault, session)
            study = load_guide(vault, s.guide_sha256).study
            groups = {p.id: p.group for p in list_participants(vault)}
            questions = study.questions(groups.get(s.participants[0]))
            run = begin_recording(vault, s.id, config, on_level=on_level, live=live, live_model=model)
            reader = _Commands() if commands else None
            state: dict = {"keep_on_eof": seconds is not None}
            click.echo(
                f"Recording {s.id} ({codec}, {rate} Hz, {channels} ch). "
                + ("Ctrl-C to stop." if seconds is None else f"Stopping after {seconds:g} s."),
                err=True,
            )
            start = run.position
            last_print = 0.0
            try:
                while run.running:
                    time.sleep(0.1)
                    for w in run.poll():
                        click.echo(f"Warning [{_clock(w.t)}]: {w.message}", err=True)
                    if reader is not None:
                        keep = True
                        while keep:
                            try:
                                keep = _apply(run, reader.queue.get_nowait(), questions, state)
                            except queue.Empty:
                                break
                            except InvalidInput as exc:
                                click.echo(f"Error: {exc}", err=True)
                        if not keep:
                            break
                    elapsed = run.position - start
                    if seconds is not None and elapsed >= seconds:
                        break
                    now = time.monotonic()
                    if interactive or now - last_print >= 5:
                        last_print = now
                        db = last_level["db"]
                        meter = (
                            "paused"
                            if run.recorder.paused
                            else (
                                f"level {db:6.1f} dBFS " + "#" * max(0, int((db + 60) / 3))
                                if db > -math.inf
                                else "level  silent"
                            )
                        )
                        line = f"{_clock(run.position)}  {meter}"
                        click.echo(("\r" + line.ljust(60)) if interactive else line, nl=not interactive, err=True)
            except KeyboardInterrupt:  # Ctrl-C (or SIGTERM) is how a recording is stopped
                click.echo("\nStopping: saving everything recorded so far.", err=True)
            if interactive:
                click.echo("", err=True)
            if live:
                click.echo("Finishing the transcript…", err=True)
            info = run.stop()
            if run.finish_seconds is not None:
                click.echo(
                    f"Transcript ready {run.finish_seconds:.1f} s after stop (`fieldscribe transcript show {s.id}`).",
                    err=True,
                )
            if run.recorder.stopped_for_disk:
                click.echo(
                    "Recording stopped early because the disk is nearly full; everything recorded is saved.", err=True
                )
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"Saved {s.id}: {_clock(info.seconds)} of audio in {info.chunks} sealed chunks.")


@click.command()
@vault_option
@click.argument("session")
@click.option("--from", "start", help="Start time (seconds or mm:ss).")
@click.option("--to", "end", help="End time (seconds or mm:ss).")
@click.option("--device", help="Output device number or name.")
@click.pass_context
def play(ctx: click.Context, session: str, start: str | None, end: str | None, device: str | None) -> None:
    """Play part of a session through the speakers (decrypted in memory only)."""
    from ..core.audio.playback import play as play_audio

    t0, t1 = parse_time(start) or 0.0, parse_time(end)
    if t1 is not None and t1 <= t0:
        raise InvalidInput("--to must be later than --from.")
    with open_vault(ctx) as vault:
        played = play_audio(vault, session, t0, t1, device=int(device) if device and device.isdecimal() else device)
    click.echo(f"Played {_clock(played)}.")


@click.command()
@vault_option
@click.pass_context
def recover(ctx: click.Context) -> None:
    """Repair recordings interrupted by a crash, kill or power cut."""
    with open_vault(ctx, recover=False) as vault:
        from ..core.recovery import recover_all

        done = recover_all(vault)
    if not done:
        click.echo("Nothing to recover: no recording was interrupted.")
    for r in done:
        click.echo(
            f"Recovered {r.session_id}: {_clock(r.seconds)} in {r.chunks} chunks kept"
            + (f", a torn final chunk ({r.dropped_bytes} bytes) dropped" if r.dropped_bytes else "")
            + f"; {r.events} timeline events intact."
        )


@click.group()
def audio() -> None:
    """Bring audio in from a handheld recorder, or export a plaintext copy."""


@audio.command("import")
@vault_option
@click.argument("session")
@click.argument("file", type=UsablePath(dir_okay=False, path_type=Path))
@click.option("--codec", type=click.Choice(["flac", "opus"]), default="flac", show_default=True)
@click.option("--channels", type=click.IntRange(1, 2), default=1, show_default=True)
@click.pass_context
def audio_import(ctx: click.Context, session: str, file: Path, codec: str, channels: int) -> None:
    """Seal a WAV/FLAC/MP3/M4A file into a session (the original is left untouched)."""
    from ..core.audio.importer import import_file

    with open_vault(ctx) as vault:
        seconds = import_file(vault, session, file, codec=codec, channels=channels)
    click.echo(f"Imported {_clock(seconds)} of audio into {session.upper()}.")
    click.echo(
        f"The original {file} is still unencrypted on disk: delete it securely "
        f"(e.g. `shred -u '{file}'`) once you have checked the import.",
        err=True,
    )


@audio.command("export")
@vault_option
@click.argument("session")
@click.argument("out", type=UsablePath(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def audio_export(ctx: click.Context, session: str, out: Path, yes: bool) -> None:
    """Write an UNENCRYPTED WAV copy of a session (audited)."""
    from ..core.audio.store import export_wav

    if out.exists():
        raise InvalidInput(f"{out} already exists; choose a new file name.")
    if not yes and not click.confirm(
        f"This writes the interview as an unencrypted file {out}. Anyone with the file can listen to it. Continue?",
        default=False,
    ):
        click.echo("Nothing exported.")
        return
    with open_vault(ctx) as vault:
        seconds = export_wav(vault, session, out)
    click.echo(f"Exported {_clock(seconds)} to {out} (unencrypted — delete it when done).")


COMMANDS = [devices, record, play, recover, audio]
