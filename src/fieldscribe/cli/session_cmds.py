"""session create / list / cancel."""

from __future__ import annotations

import click

from ..core import sessions as score
from ..core.errors import FieldscribeError
from ..core.vault import Vault
from .common import open_vault, terminal_safe, vault_option


@click.group()
def session() -> None:
    """Plan interviews and focus groups."""


@session.command("create")
@vault_option
@click.option(
    "--participant", "participants", multiple=True, required=True, metavar="PSEUDONYM", help="Repeat for a focus group."
)
@click.option(
    "--wave",
    type=click.IntRange(1, 999),
    default=None,
    help="Wave of a longitudinal study (1 to 999; default: one past the participant's latest wave).",
)
@click.option("--date", "planned_date", metavar="YYYY-MM-DD", help="The date the session is planned for (sealed).")
@click.option("--site", metavar="SITE", help="One of the study's sites, by id or name (sealed).")
@click.option("--guide", "guide_ref", help="Guide version or language (default: current).")
@click.option(
    "--kind",
    type=click.Choice([score.INTERVIEW, score.FOCUS_GROUP]),
    help="Default: interview for one participant, focus_group for several.",
)
@click.pass_context
def session_create(
    ctx: click.Context,
    participants: tuple[str, ...],
    wave: int | None,
    planned_date: str | None,
    site: str | None,
    guide_ref: str | None,
    kind: str | None,
) -> None:
    """Plan a session and print its id. A returning participant's session gets their next wave
    unless --wave says otherwise."""
    with open_vault(ctx) as vault:
        suggested = max((score.next_wave(vault, p) for p in participants), default=1)
        chosen = wave if wave is not None else suggested
        sid = score.create_session(
            vault, list(participants), wave=chosen, guide_ref=guide_ref, kind=kind, date=planned_date, site=site
        )
    click.echo(sid)
    if wave is None and chosen > 1:
        click.echo(f"Planned as wave {chosen}, after their earlier sessions; use --wave to change it.", err=True)


def _plan(vault: Vault, sid: str) -> score.SessionPlan:
    """The session's date and site; "?" for one whose sealed plan cannot be read (its sentence
    goes to stderr), so one damaged row does not hide the others."""
    try:
        return score.session_plan(vault, sid)
    except FieldscribeError as exc:
        click.echo(f"Warning: {terminal_safe(exc)}", err=True)
        return score.SessionPlan("?", "?")


@session.command("list")
@vault_option
@click.pass_context
def session_list(ctx: click.Context) -> None:
    """Every session with its participants, wave, planned date and site, guide version and status."""
    with open_vault(ctx) as vault:
        sessions = score.list_sessions(vault)
        plans = {s.id: _plan(vault, s.id) for s in sessions}
    if not sessions:
        click.echo("No sessions yet; plan one with `fieldscribe session create --participant P1`.")
        return
    # the DATE and SITE columns appear once any session was planned with them
    planned = any(p.date or p.site for p in plans.values())
    plan_head = f"{'DATE':<12}{'SITE':<16}" if planned else ""
    click.echo(f"{'ID':<6}{'KIND':<13}{'WAVE':<6}{'PARTICIPANTS':<20}{plan_head}{'GUIDE':<14}STATUS")
    for s in sessions:
        plan = plans[s.id]
        cells = f"{plan.date or '—':<12}{terminal_safe(plan.site or '—'):<16}" if planned else ""
        click.echo(
            f"{s.id:<6}{s.kind:<13}{s.wave:<6}{','.join(s.participants):<20}{cells}{s.guide_sha256[:12]:<14}{s.status}"
        )


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
