"""redact, transcript review, participant identifiers, study identifiers."""

from __future__ import annotations

import click

from .common import open_vault, vault_option


def _clock(t: float) -> str:
    return f"{int(t) // 3600:d}:{int(t) % 3600 // 60:02d}:{int(t) % 60:02d}"


@click.command()
@vault_option
@click.argument("session")
@click.option(
    "--accept",
    multiple=True,
    type=click.IntRange(1, 1_000_000),
    metavar="N",
    help="Accept suggestion N: every occurrence, in every transcript of the study.",
)
@click.option(
    "--reject",
    multiple=True,
    type=click.IntRange(1, 1_000_000),
    metavar="N",
    help="Reject suggestion N (not an identifier), for the whole study.",
)
@click.option("--edit", "edits", multiple=True, metavar="N=DESCRIPTOR", help="Accept N with another descriptor.")
@click.option("--all-occurrences", "show_all", is_flag=True, help="List every occurrence with its time.")
@click.option("--accept-all", is_flag=True, help="Accept every undecided suggestion (for scripts).")
@click.pass_context
def redact(
    ctx: click.Context,
    session: str,
    accept: tuple[int, ...],
    reject: tuple[int, ...],
    edits: tuple[str, ...],
    accept_all: bool,
    show_all: bool,
) -> None:
    """List identifier suggestions in a transcript, one line per distinct name, number or
    place with all its occurrences, and accept, reject or edit them once for the study.

    Each line says which layer found it: "list" (typed in, or decided earlier), "rule" (a
    format, a title, a suffix) or "model" (offline name finder) — look twice at "?" lines."""
    from ..core.deid import ner
    from ..core.deid.review import decide, groups, suggestions
    from ..core.errors import InvalidInput

    edit: dict[int, str] = {}
    for e in edits:
        n, sep, desc = e.partition("=")
        # isdecimal, not isdigit: int() refuses digits such as "²" that isdigit accepts
        if not sep or not n.strip().isdecimal() or len(n.strip()) > 7:
            raise InvalidInput(f"--edit {e!r} should look like N=DESCRIPTOR, e.g. 3=[sister].")
        edit[int(n)] = desc
    from ..core import sessions as score
    from ..core import timeline

    with open_vault(ctx) as vault:
        if accept or reject or edit or accept_all:
            items = decide(vault, session, accept=list(accept), reject=list(reject), edit=edit, accept_all=accept_all)
        else:
            items = suggestions(vault, session)
        flags = [e for e in timeline.events(vault, score.get_session(vault, session).id) if e.kind == timeline.FLAG]
    for f in flags:
        click.echo(
            f"  sensitive moment flagged at {_clock(f.t)}{': ' + f.data['text'] if f.data.get('text') else ''}"
            " — read this part closely",
            err=True,
        )
    for problem in ner.missing_layers():
        click.echo(problem, err=True)
    if not items:
        click.echo(
            "No identifiers found. Add names or places with `fieldscribe participant identifiers` or "
            "`fieldscribe study identifiers`, then check again."
        )
        return
    for g in groups(items):
        first = g.occurrences[0]
        mark = "?" if g.weak else " "
        click.echo(
            f"{g.n:>3}.{mark}{g.original!r:<30} → {g.descriptor:<22} {g.kind:<12} ×{len(g.occurrences):<3} "
            f"{g.layer:<5} {g.status:<9} first at {_clock(first.t)}"
        )
        if show_all:
            for s in g.occurrences:
                click.echo(f"       [{_clock(s.t)}] segment {s.segment} ({s.source})")
    pending = sum(1 for g in groups(items) if g.status == "suggested")
    click.echo(
        f"{pending} undecided."
        if pending
        else "All decided; mark the transcript reviewed with "
        f"`fieldscribe transcript review {session.upper()} --done`.",
        err=True,
    )


@click.command("review")
@vault_option
@click.argument("session")
@click.option("--done", is_flag=True, required=True, help="Mark the transcript reviewed (required to export).")
@click.pass_context
def transcript_review(ctx: click.Context, session: str, done: bool) -> None:
    """Mark a transcript as reviewed for identifiers."""
    from ..core.deid.review import mark_reviewed

    with open_vault(ctx) as vault:
        mark_reviewed(vault, session)
    click.echo(f"{session.upper()} reviewed.")


@click.command("identifiers")
@vault_option
@click.argument("pseudonym")
@click.option(
    "--add",
    "entries",
    multiple=True,
    metavar="TEXT[=DESCRIPTOR]",
    help="A name, nickname, relative, place … (e.g. 'Mary=sister').",
)
@click.pass_context
def participant_identifiers(ctx: click.Context, pseudonym: str, entries: tuple[str, ...]) -> None:
    """Identifiers of one participant to find in their transcripts (sealed; never exported)."""
    from ..core.deid.review import add_participant_identifiers
    from ..core.deid.review import participant_identifiers as listing

    with open_vault(ctx) as vault:
        if entries:
            add_participant_identifiers(vault, pseudonym, list(entries))
        items = listing(vault, pseudonym)
    for i in items:
        click.echo(f"{i.text!r:<30} → {i.descriptor}")


@click.group()
def study() -> None:
    """Study-wide settings."""


@study.command("identifiers")
@vault_option
@click.option(
    "--add",
    "entries",
    multiple=True,
    metavar="TEXT[=DESCRIPTOR]",
    help="A site, staff member or local place (e.g. 'Riverside Day Centre=day-care centre').",
)
@click.pass_context
def study_identifiers(ctx: click.Context, entries: tuple[str, ...]) -> None:
    """Identifiers to find in every transcript of the study."""
    from ..core.deid.review import add_study_identifiers
    from ..core.deid.review import study_identifiers as listing

    with open_vault(ctx) as vault:
        if entries:
            add_study_identifiers(vault, list(entries))
        items = listing(vault)
    for i in items:
        click.echo(f"{i.text!r:<30} → {i.descriptor}")


COMMANDS = [redact, study]
EXTRA = {"transcript": transcript_review, "participant": participant_identifiers}
