"""redact, transcript review, participant identifiers, study identifiers, study assemble."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import open_vault, vault_option

if TYPE_CHECKING:
    from ..core.export.assemble import Assembly


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
    from ..core.deid.lists import add_participant_identifiers
    from ..core.deid.lists import participant_identifiers as listing

    with open_vault(ctx) as vault:
        if entries:
            add_participant_identifiers(vault, pseudonym, list(entries))
        items = listing(vault, pseudonym)
    for i in items:
        click.echo(f"{i.text!r:<30} → {i.descriptor}")


@click.group()
def study() -> None:
    """Study-wide settings, and the whole study in one project."""


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
    from ..core.deid.lists import add_study_identifiers
    from ..core.deid.lists import study_identifiers as listing

    with open_vault(ctx) as vault:
        if entries:
            add_study_identifiers(vault, list(entries))
        items = listing(vault)
    for i in items:
        click.echo(f"{i.text!r:<30} → {i.descriptor}")


@study.group("recipient")
def study_recipient() -> None:
    """The analysis team's key that bundles are encrypted to, for every session of the study."""


_SOURCES = {
    "vault": "set for the study",
    "study_file": "from the study file",
    "older_study_file": "only in an older study file",
}


@study_recipient.command("set")
@vault_option
@click.argument("key", metavar="AGE1…|FILE")
@click.pass_context
def study_recipient_set(ctx: click.Context, key: str) -> None:
    """Encrypt every export to KEY (the team's age1… key, or their .pub file), whichever study
    version a session was planned with; replaces a key set before. Sealed in the vault, audited."""
    from ..core.export.recipients import set_study_recipients

    with open_vault(ctx) as vault:
        keys = set_study_recipients(vault, key)
    for k in keys:
        click.echo(k)
    click.echo("Exports are now encrypted to this key, for every session.", err=True)


@study_recipient.command("show")
@vault_option
@click.pass_context
def study_recipient_show(ctx: click.Context) -> None:
    """Every key known, where it comes from, and which one exports use."""
    from ..core.export.recipients import known_recipients

    with open_vault(ctx) as vault:
        known = known_recipients(vault)
    rows = (
        [(k, "vault") for k in known.vault]
        + [(k, "study_file") for k in known.study_file]
        + [(k, "older_study_file") for k in known.older_study_files]
    )
    for k, source in rows:
        mark = "*" if source == known.source else " "
        click.echo(f"{mark} {k}  ({_SOURCES[source]})")
    if known.source is None:
        click.echo(
            "No key for new exports: set the analysis team's key with `fieldscribe study recipient set AGE1…|FILE`.",
            err=True,
        )


@study_recipient.command("clear")
@vault_option
@click.pass_context
def study_recipient_clear(ctx: click.Context) -> None:
    """Forget the key set for the study (exports fall back to the study file's); audited."""
    from ..core.export.recipients import clear_study_recipients

    with open_vault(ctx) as vault:
        cleared = clear_study_recipients(vault)
    click.echo("The study's key was cleared." if cleared else "No key was set for the study; nothing changed.")


@study.command("assemble")
@click.argument("folder", metavar="DIR", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--study",
    "study_files",
    required=True,
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The study file (its guide is the codebook); again for each older guide version in use.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The project: STUDY.qdpx.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sheet of cases and sessions (default: beside --out, named …-cases.csv).",
)
@click.option("--with-audio", is_flag=True, help="Carry the recordings bundles have (makes a large project).")
@click.option(
    "--team",
    "team_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The team file the study lead approved: the sheet names each laptop's site and interviewer (needs --identity).",
)
@click.option(
    "--identity",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The analysis team's age identity, to believe the team file.",
)
def study_assemble(
    folder: Path,
    study_files: tuple[Path, ...],
    out: Path,
    csv_path: Path | None,
    with_audio: bool,
    team_file: Path | None,
    identity: Path | None,
) -> None:
    """Analysis side: every pulled bundle of the study (all laptops, all waves) in one REFI-QDA project.

    DIR is the folder `bundle pull --out` wrote. Run it again after new bundles arrive: the
    same things keep the same GUIDs, so a project imported again keeps the coding done in it."""
    from ..core.errors import InvalidInput
    from ..core.export.assemble import write_assembly
    from ..core.study import load_study

    laptops = None
    if team_file is not None:
        if identity is None:
            raise InvalidInput("--team needs the team's identity to believe it: give --identity too.")
        from ..core.sync.membership import analysis_team

        laptops = {m.device_id: (m.site, m.interviewer) for m in analysis_team(team_file, identity).members}
    result, sheet = write_assembly(
        folder, [load_study(f) for f in study_files], out, csv_path, with_audio=with_audio, laptops_of=laptops
    )
    echo_assembly(result, out, sheet)


def echo_assembly(result: Assembly, out: Path, sheet: Path) -> None:
    """What an assembly made and left out, for `study assemble` and `bundle pull --assemble`."""
    from ..core.sanitise import printable

    c = result.content
    click.echo(
        f"Wrote {printable(str(out))}: {len(c.cases)} case(s), {len(c.sessions)} session(s) from "
        f"{result.bundles} bundle(s); the sheet is {printable(str(sheet))}."
    )
    if result.superseded:
        click.echo(f"{result.superseded} session(s) exported more than once: the newest copy of each is used.")
    if result.withdrawn:
        click.echo(
            f"Left out {', '.join(map(printable, result.withdrawn))} (withdrawn) and {result.withdrawn_sessions} "
            "session(s) of theirs that remained on disk."
        )
    if result.unknown_guides:
        click.echo(
            f"Warning: guide version(s) {', '.join(map(printable, result.unknown_guides))} are not among the "
            "--study files; their questions come from the bundles' own codebooks and probe notes may read "
            "'probe N' — give those study files too.",
            err=True,
        )


COMMANDS = [redact, study]
EXTRA = {"transcript": transcript_review, "participant": participant_identifiers}
