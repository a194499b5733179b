"""speakers (who speaks in a session), voice record/add/list/delete (interviewers' profiles)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import UsablePath, Utf8Text, open_vault, vault_option

if TYPE_CHECKING:
    from ..core.speakers import SessionSpeakers
    from ..core.vault import Vault

HOW = {
    "profile": "recognised by a voice profile",
    "guess": "a guess (no voice profile matched): check it in review",
    "none": "not recognised",
}


def _minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


def describe(vault: Vault, sid: str, found: SessionSpeakers) -> None:
    """One line per voice: its label, how long it speaks, who named it."""
    from ..core.transcripts import speaker_label

    spoken: dict[int, float] = {}
    for s, e, v in found.turns:
        spoken[v] = spoken.get(v, 0.0) + e - s
    method = "by lapel microphone, " if found.channels == 2 else ""
    click.echo(f"{sid}: {len(spoken)} voice(s), found {method}the interviewer {HOW.get(found.interviewer, '')}.")
    for v in sorted(spoken):
        by = " (named in review)" if v in found.named_by_person else ""
        click.echo(f"  voice {v}: {speaker_label(found.names.get(v), v):<14} {_minutes(spoken[v])}{by}")
    unnamed = [v for v in spoken if v not in found.names]
    if unnamed:
        click.echo(f"Name a voice with `fieldscribe speakers {sid} --name {unnamed[0]}=P…` (or in the app's review).")


@click.command()
@vault_option
@click.argument("session")
@click.option("--again", is_flag=True, help="Look at the audio anew (names given in review are kept).")
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="VOICE=WHO",
    help="Name a voice: 0=interviewer, 1=P4 … (every segment it speaks). Repeatable.",
)
@click.pass_context
def speakers(ctx: click.Context, session: str, again: bool, names: tuple[str, ...]) -> None:
    """Find who speaks when in a session's recording and write it into its transcript."""
    from ..core import speakers as core_speakers
    from ..core.errors import InvalidInput
    from ..core.sessions import get_session
    from ..core.transcripts import current_transcript

    parsed: list[tuple[int, str]] = []
    for item in names:
        voice, sep, who = item.partition("=")
        if not sep or not voice.strip().isdigit() or not who.strip():
            raise InvalidInput(f"--name {item!r} is not VOICE=WHO; write e.g. --name 0=interviewer or --name 1=P4.")
        parsed.append((int(voice), who.strip()))
    with open_vault(ctx) as vault:
        sid = get_session(vault, session).id
        found = core_speakers.load(vault, sid)
        if found is None or again:
            found = core_speakers.find(vault, sid)
        if current_transcript(vault, sid) is not None:
            core_speakers.label(vault, sid)
        for number, who in parsed:
            changed = core_speakers.name_voice(vault, sid, number, who)
            click.echo(f"Voice {number} is now {who} in {changed} segment(s).")
        found = core_speakers.load(vault, sid)
        assert found is not None
        describe(vault, sid, found)


@click.group()
def voice() -> None:
    """Interviewers' voice profiles: sealed on this laptop, never exported."""


@voice.command("record")
@vault_option
@click.argument("name", type=Utf8Text())
@click.option("--seconds", type=click.FloatRange(15, 120), default=30.0, show_default=True)
@click.option("--device", help="Input device (see `fieldscribe devices`).")
@click.pass_context
def voice_record(ctx: click.Context, name: str, seconds: float, device: str | None) -> None:
    """Record NAME reading a short text aloud and keep it as their voice profile."""
    from ..core.audio.capture import capture
    from ..core.audio.recorder import RecorderConfig, SoundDeviceSource
    from ..core.diarization.profiles import check_name, enrol_profile, reading
    from ..core.guides import current_guide

    name = check_name(name)
    with open_vault(ctx) as vault:
        language = current_guide(vault).study.study.language
        source = SoundDeviceSource(RecorderConfig(rate=16000, channels=1, device=device))  # refused before reading
        click.echo("Read this aloud, calmly, until the recording stops:\n")
        click.echo(click.wrap_text(reading(language), width=78, initial_indent="  ", subsequent_indent="  "))
        click.echo("")
        if sys.stdin.isatty():
            click.confirm("Ready", default=True, abort=True, err=True)
        cancel = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
        counting = sys.stderr.isatty()  # a script's log gets no counter
        try:
            shown = [0]

            def progress(done: float) -> None:
                if counting and int(done) > shown[0]:
                    shown[0] = int(done)
                    click.echo(f"\r  {shown[0]:>3} / {seconds:.0f} s", nl=False, err=True)

            audio = capture(source, seconds, on_progress=progress, cancel=cancel)
        finally:
            signal.signal(signal.SIGINT, previous)
            if counting:
                click.echo("", err=True)
        if cancel.is_set():
            click.echo("Cancelled; nothing was kept.")
            sys.exit(130)
        profile = enrol_profile(vault, name, audio)
    click.echo(f"Saved the voice profile of {profile.name} ({profile.speech_s:.0f} s of speech), sealed in the vault.")


@voice.command("add")
@vault_option
@click.argument("name", type=Utf8Text())
@click.argument("recording", type=UsablePath(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def voice_add(ctx: click.Context, name: str, recording: Path) -> None:
    """Make NAME's profile from a RECORDING of them alone (any audio file, 15 s of speech or more).
    The file is read, not copied; delete it yourself if it should not stay on the laptop."""
    import numpy as np

    from ..core.audio.importer import decode_file
    from ..core.diarization.profiles import enrol_profile

    blocks = list(decode_file(recording, 16000, 1))
    audio = (np.concatenate(blocks)[:, 0] if blocks else np.zeros(0, dtype=np.int16)).astype(np.float32) / 32768.0
    with open_vault(ctx) as vault:
        profile = enrol_profile(vault, name, audio)
    click.echo(f"Saved the voice profile of {profile.name} ({profile.speech_s:.0f} s of speech), sealed in the vault.")


@voice.command("list")
@vault_option
@click.pass_context
def voice_list(ctx: click.Context) -> None:
    """The voice profiles on this laptop."""
    from ..core.diarization.profiles import list_profiles

    with open_vault(ctx) as vault:
        profiles = list_profiles(vault)
    if not profiles:
        click.echo("No voice profiles yet; record one with `fieldscribe voice record NAME`.")
    for p in profiles:
        click.echo(f"{p.name}  ({p.speech_s:.0f} s of speech, {p.created_at[:10]})")


@voice.command("delete")
@vault_option
@click.argument("name", type=Utf8Text())
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def voice_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Forget NAME's voice profile for good."""
    from ..core.diarization.profiles import check_name, delete_profile, list_profiles
    from ..core.errors import InvalidInput

    name = check_name(name)
    with open_vault(ctx) as vault:
        if name not in {p.name for p in list_profiles(vault)}:
            raise InvalidInput(f"There is no voice profile for {name!r}; `fieldscribe voice list` shows them.")
        if not yes and not click.confirm(f"Delete the voice profile of {name}? It cannot be undone.", err=True):
            click.echo("Nothing was deleted.")
            return
        delete_profile(vault, name)
    click.echo(f"Deleted the voice profile of {name}.")


COMMANDS = [speakers, voice]
