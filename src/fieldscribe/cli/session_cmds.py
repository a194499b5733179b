"""session create / list / show."""

from __future__ import annotations

import click

from ..core import sessions as score
from .common import open_vault, vault_option


@click.group()
def session() -> None:
    """Plan interviews and focus groups."""


@session.command("create")
@vault_option
@click.option(
    "--participant", "participants", multiple=True, required=True, metavar="PSEUDONYM", help="Repeat for a focus group."
)
@click.option(
    "--wave", type=click.IntRange(1, 999), default=1, show_default=True, help="Wave of a longitudinal study (1 to 999)."
)
@click.option("--guide", "guide_ref", help="Guide version or language (default: current).")
@click.option(
    "--kind",
    type=click.Choice([score.INTERVIEW, score.FOCUS_GROUP]),
    help="Default: interview for one participant, focus_group for several.",
)
@click.pass_context
def session_create(
    ctx: click.Context, participants: tuple[str, ...], wave: int, guide_ref: str | None, kind: str | None
) -> None:
    """Plan a session and print its id."""
    with open_vault(ctx) as vault:
        sid = score.create_session(vault, list(participants), wave=wave, guide_ref=guide_ref, kind=kind)
    click.echo(sid)


@session.command("list")
@vault_option
@click.pass_context
def session_list(ctx: click.Context) -> None:
    """Every session with its participants, wave, guide version and status."""
    with open_vault(ctx) as vault:
        sessions = score.list_sessions(vault)
    if not sessions:
        click.echo("No sessions yet; plan one with `fieldscribe session create --participant P1`.")
        return
    click.echo(f"{'ID':<6}{'KIND':<13}{'WAVE':<6}{'PARTICIPANTS':<20}{'GUIDE':<14}STATUS")
    for s in sessions:
        click.echo(f"{s.id:<6}{s.kind:<13}{s.wave:<6}{','.join(s.participants):<20}{s.guide_sha256[:12]:<14}{s.status}")


@session.command("cancel")
@vault_option
@click.argument("session_id", metavar="SESSION")
@click.pass_context
def session_cancel(ctx: click.Context, session_id: str) -> None:
    """Cancel a planned session that has no audio (it stays listed as cancelled)."""
    with open_vault(ctx) as vault:
        s = score.cancel_session(vault, session_id)
    click.echo(f"Cancelled {s.id}.")


COMMANDS = [session]
