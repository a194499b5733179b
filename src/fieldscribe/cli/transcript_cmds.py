"""transcribe, transcript show, models list/add/download."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import click

from .common import UsablePath, open_vault, vault_option


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


@click.command()
@vault_option
@click.argument("session")
@click.option("--model", help="Whisper model (see `fieldscribe models list`); default from the study, else base.")
@click.option("--language", type=click.Choice(["en", "zh"]), help="Default: the guide's language.")
@click.option(
    "--final",
    is_flag=True,
    help="The final pass: again with the study's final_model; replaces the transcript unless its review began.",
)
@click.option("--no-speakers", is_flag=True, help="Do not find who speaks when (`fieldscribe speakers` does it later).")
@click.pass_context
def transcribe(
    ctx: click.Context, session: str, model: str | None, language: str | None, final: bool, no_speakers: bool
) -> None:
    """Transcribe a session locally (resumes an interrupted run; Ctrl-C pauses it), then find
    who speaks when and split the transcript into their turns."""
    from ..core import final_pass
    from ..core.batch_transcription import transcribe_session
    from ..core.errors import InvalidInput

    cancel = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with open_vault(ctx) as vault, ExitStack() as stack:
            state: dict = {"last": 0, "bar": None}

            def on_progress(p) -> None:
                # the bar starts with the first progress, so that a refusal (no such session,
                # no audio, no model) is its one error line without a "Transcribing" before it
                if state["bar"] is None:
                    state["bar"] = stack.enter_context(
                        click.progressbar(
                            length=1000,
                            label="Transcribing",
                            file=sys.stderr,
                            show_eta=False,
                            item_show_func=lambda x: x,
                        )
                    )
                target = int(p.fraction * 1000)
                state["bar"].update(target - state["last"], f"{p.done_s:.0f}/{p.total_s:.0f} s, ETA {_eta(p.eta_s)}")
                state["last"] = target

            if final and (model or language):
                raise InvalidInput("--final uses the study's final_model and language; leave out --model/--language.")
            if final:
                t = final_pass.run(vault, session, on_progress=on_progress, cancel=cancel)
            else:
                t = transcribe_session(
                    vault, session, model=model, language=language, on_progress=on_progress, cancel=cancel
                )
            if t.state == "complete" and not no_speakers:
                from ..core import speakers

                found = speakers.run(vault, t.session_id, cancel=cancel)
                if found is not None:
                    from .speaker_cmds import describe

                    describe(vault, t.session_id, found)
    finally:
        signal.signal(signal.SIGINT, previous)
    if t.state == "running":
        click.echo(f"Paused {t.session_id} at {t.done_s:.0f} of {t.total_s:.0f} s; run the same command to resume.")
        ctx.exit(130)
    if t.state == "alternative":
        click.echo(
            f"Transcribed {t.session_id} again (version {t.version}, {t.model}); its review had begun, so the new "
            f"version is kept beside it: compare with `fieldscribe transcript show {t.session_id} --version "
            f"{t.version}`, switch with `fieldscribe transcript use {t.session_id} {t.version}`."
        )
        return
    click.echo(f"Transcribed {t.session_id} (version {t.version}, {t.model}, {t.language}).")


@click.group()
def transcript() -> None:
    """Read transcripts, and choose between versions."""


@transcript.command("versions")
@vault_option
@click.argument("session")
@click.pass_context
def transcript_versions(ctx: click.Context, session: str) -> None:
    """Every transcript version of a session: model, state, how far it got."""
    from ..core.transcripts import list_transcripts

    with open_vault(ctx) as vault:
        versions = list_transcripts(vault, session)
    if not versions:
        click.echo("No transcript yet.")
    for t in versions:
        click.echo(f"{t.version:>3}  {t.model:<12} {t.language:<3} {t.state:<12} {t.done_s:.0f}/{t.total_s:.0f} s")


@transcript.command("use")
@vault_option
@click.argument("session")
@click.argument("version", type=click.IntRange(1, 1_000_000))
@click.pass_context
def transcript_use(ctx: click.Context, session: str, version: int) -> None:
    """Make a finished version the current transcript (its review starts afresh)."""
    from ..core.final_pass import use_version

    with open_vault(ctx) as vault:
        t = use_version(vault, session, version)
    click.echo(f"Version {t.version} ({t.model}) is now the transcript of {t.session_id}; review it before export.")


@transcript.command("show")
@vault_option
@click.argument("session")
@click.option("--plain", is_flag=True, help="Only the text.")
@click.option(
    "--version", "version", type=click.IntRange(1, 1_000_000), help="An earlier version (default: the current one)."
)
@click.pass_context
def transcript_show(ctx: click.Context, session: str, plain: bool, version: int | None) -> None:
    """Print a transcript with times, speakers and guide questions."""
    from ..core import sessions as score
    from ..core.errors import InvalidInput
    from ..core.guides import load_guide
    from ..core.transcription.render import render
    from ..core.transcripts import current_transcript, list_transcripts, load_segments

    with open_vault(ctx) as vault:
        s = score.get_session(vault, session)
        if version is None:
            t = current_transcript(vault, s.id)
        else:
            t = next((x for x in list_transcripts(vault, s.id) if x.version == version), None)
        if t is None:
            raise InvalidInput(f"Session {s.id} has no finished transcript; run `fieldscribe transcribe {s.id}`.")
        segs = load_segments(vault, t)
        study = load_guide(vault, s.guide_sha256).study
    questions = {q.id: q.text for _d, q in study.questions()}
    ts = study.transcription
    for line in render(
        segs, plain=plain, pause_style=ts.pause_marks, pause_threshold=ts.pause_threshold, questions=questions
    ):
        click.echo(line)


@click.group()
def models() -> None:
    """Whisper models available offline."""


@models.command("list")
def models_list() -> None:
    """Models on this laptop (and the ones that can be added): languages, size, speed, source."""
    from ..core.transcription.models import list_models

    for m in list_models():
        size = f"{m.size_bytes / 1e6:.0f} MB" if m.size_bytes else "—"
        click.echo(f"{m.name:<10} {m.languages:<38} {size:>8}  {m.speed}")
        click.echo(f"{'':<10} {m.source}")
        if m.path:
            click.echo(f"{'':<10} {m.path}")


@models.command("add")
@click.argument("path", type=UsablePath(file_okay=False, path_type=Path))
@click.option("--name", help="Name to use (default: the folder name).")
def models_add(path: Path, name: str | None) -> None:
    """Import a CTranslate2 Whisper model folder (e.g. from a USB stick)."""
    from ..core.transcription.models import add_model

    m = add_model(path, name)
    click.echo(f"Added {m.name} ({m.languages}, {m.size_bytes / 1e6:.0f} MB) at {m.path}")


@models.command("export")
@click.argument("name")
@click.argument("dest", type=UsablePath(file_okay=False, path_type=Path))
def models_export(name: str, dest: Path) -> None:
    """Copy an installed model to DEST/NAME with checksums, for `models add` on a laptop offline."""
    from ..core.transcription.models import export_model

    target = export_model(name, dest)
    click.echo(f"Wrote {name} to {target} with SHA256SUMS; on the other laptop: fieldscribe models add {target}")


@models.command("download")
@click.argument("name")
def models_download(name: str) -> None:  # pragma: no cover - needs the network
    """Download a model while online, before fieldwork (needs huggingface_hub)."""
    from ..core.transcription.models import download_model

    m = download_model(name)
    click.echo(f"Downloaded {m.name} to {m.path}")


COMMANDS = [transcribe, transcript, models]
