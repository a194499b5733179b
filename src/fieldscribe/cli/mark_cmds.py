"""mark (place or take back a mark after the fact), marks (list a session's marks).

For interviews recorded on a handheld device and brought in with `audio import`: play the
recording (`fieldscribe play S1 --from 12:00`), then say where each guide question began, so
the transcript, its codes and its documents are organised by the guide as a live interview's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .common import Utf8Text, open_vault, vault_option

if TYPE_CHECKING:
    from ..core.timeline import Event


@click.command()
@vault_option
@click.argument("session")
@click.option("--at", "at", metavar="TIME", help="Where on the recording: seconds, mm:ss or hh:mm:ss.")
@click.option("--question", help="The guide question that begins here (e.g. q3).")
@click.option("--probe", type=int, help="The probe (1, 2 …) of the question asked here.")
@click.option("--note", type=Utf8Text(), help="A field note at this moment (or a quick note: laughs, tearful …).")
@click.option("--flag", is_flag=True, help="A sensitive moment here (its words from --note, if given).")
@click.option("--speaker", help="In a group: who speaks from here on (a pseudonym or interviewer).")
@click.option("--remove", type=int, metavar="N", help="Take back mark N (see `fieldscribe marks SESSION`).")
@click.pass_context
def mark(
    ctx: click.Context,
    session: str,
    at: str | None,
    question: str | None,
    probe: int | None,
    note: str | None,
    flag: bool,
    speaker: str | None,
    remove: int | None,
) -> None:
    """Place a mark on a session's recording after the fact (imported audio, a late key):
    where a guide question began, a probe, a note, a sensitive moment, a group's speaker.
    The transcript follows the marks as it follows live ones."""
    from ..core import marking, timeline
    from ..core.errors import InvalidInput

    if remove is not None:
        if any(v is not None for v in (at, question, probe, note, speaker)) or flag:
            raise InvalidInput("--remove takes back one mark; give it alone.")
        with open_vault(ctx) as vault:
            gone = marking.remove_mark(vault, session, remove)
        click.echo(f"Removed mark {remove} ({gone.kind} at {marking.clock(gone.t)}); the transcript follows.")
        return
    if at is None:
        raise InvalidInput("Say where the mark goes with --at, e.g. --at 12:30.")
    wanted: list[tuple[str, dict[str, Any]]] = []
    if question is not None and probe is None:
        wanted.append((timeline.QUESTION, {"question": question}))
    if probe is not None:
        wanted.append((timeline.PROBE, {"question": question, "probe": probe}))
    if flag:
        wanted.append((timeline.FLAG, {"text": note}))
    elif note is not None:
        preset = note.strip() if note.strip() in timeline.NOTE_PRESETS else None
        wanted.append((timeline.NOTE, {"text": note, "preset": preset}))
    if speaker is not None:
        wanted.append((timeline.SPEAKER, {"participant": speaker}))
    if not wanted:
        raise InvalidInput("Say what to mark: --question, --probe, --note, --flag or --speaker.")
    seconds = marking.parse_time(at)
    with open_vault(ctx) as vault:
        for event in marking.add_marks(vault, session, seconds, wanted):  # all or none
            click.echo(f"Mark {event.seq}: {_describe(event)} at {marking.clock(event.t)}.")
    click.echo("The transcript and its exports follow the marks.")


def _describe(event: Event) -> str:
    data = event.data
    if event.kind == "question":
        return f"{data.get('question')} begins"
    if event.kind == "probe":
        return f"probe {data.get('probe')} of {data.get('question')}"
    if event.kind == "speaker":
        return f"{data.get('participant')} speaks"
    label = "sensitive moment" if event.kind == "flag" else "note"
    text = str(data.get("text") or "")
    return f"{label} {text!r}" if text else label


@click.command()
@vault_option
@click.argument("session")
@click.pass_context
def marks(ctx: click.Context, session: str) -> None:
    """List a session's marks (questions, probes, notes, flags, speakers) in time order."""
    from ..core import marking, sessions

    with open_vault(ctx) as vault:
        sid = sessions.get_session(vault, session).id
        found = marking.marks(vault, sid)
    if not found:
        click.echo(f"{sid} has no marks yet; add them with `fieldscribe mark {sid} --at 12:30 --question q3`.")
        return
    for e in found:
        click.echo(f"{e.seq:>4}  {marking.clock(e.t)}  {_describe(e)}")


COMMANDS = [mark, marks]
