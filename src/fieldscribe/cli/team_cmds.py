"""team request/approve/join/show: a study's laptops, their interviewers and pseudonym blocks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import UsablePath, open_vault, vault_option

if TYPE_CHECKING:
    from ..core.sync.trust import DeviceTrust

team_option = click.option(
    "--team",
    "team_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Team file the study lead approved (`fieldscribe team approve`): only its laptops are accepted.",
)


@click.group()
def team() -> None:
    """The study's team of laptops: join requests, the lead's approval, pseudonym blocks."""


@team.command("request")
@vault_option
@click.option(
    "--interviewer", required=True, metavar="NAME", help="Who uses this laptop (as the study lead knows you)."
)
@click.option("--site", required=True, metavar="CODE", help="The site this laptop works at (the study file's site id).")
@click.option(
    "--out", required=True, type=UsablePath(dir_okay=False, path_type=Path), help="File to write the request to."
)
@click.pass_context
def team_request(ctx: click.Context, interviewer: str, site: str, out: Path) -> None:
    """Write this laptop's request to join the study's team, for the study lead to approve."""
    from ..core.sanitise import printable
    from ..core.sync.membership import fingerprint, make_join_request, write_file_atomic
    from ..core.team import parse_request

    with open_vault(ctx) as vault:
        data = make_join_request(vault, interviewer, site)
    write_file_atomic(out, data, "join request")
    request = parse_request(data)
    click.echo(
        f"Join request for this laptop ({request.device_id[:8]}, {printable(request.interviewer)}, "
        f"{request.site}) written to {printable(out)}."
    )
    click.echo(
        f"Give it to the study lead (USB or the store) and read them this key fingerprint: "
        f"{fingerprint(request.device_key)}. Then take in the team file they send back with "
        "`fieldscribe team join TEAM.json`.",
        err=True,
    )


@team.command("approve")
@click.argument("request_path", metavar="REQUEST", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--team",
    "team_path",
    required=True,
    type=UsablePath(dir_okay=False, path_type=Path),
    help="The team file to add the laptop to (made when it does not exist).",
)
@click.option(
    "--identity",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The team's age identity (from `bundle keygen`): it signs the team file.",
)
@click.option("--block", metavar="P301-P399", help="Pseudonym block to give the laptop (default: the next free one).")
def team_approve(request_path: Path, team_path: Path, identity: Path, block: str | None) -> None:
    """Study lead: add a laptop's join request to the team file and sign it (no vault needed)."""
    from ..core.sanitise import printable
    from ..core.sync.membership import approve, fingerprint, lead_team_file, read_small_file
    from ..core.team import MAX_REQUEST, parse_block, parse_request

    if block is not None:
        parse_block(block)  # the typed value first, then the team file and identity, then the request
    lead_team_file(team_path, identity)
    data = read_small_file(request_path, MAX_REQUEST, "join request")
    signed = approve(data, team_path, identity, block=block)
    member = signed.by_device(parse_request(data).device_id)
    assert member is not None  # approve just put it there
    click.echo(
        f"Approved laptop {member.short_id} ({printable(member.interviewer)}, {member.site}), key fingerprint "
        f"{fingerprint(member.device_key)}: pseudonyms {member.block}."
    )
    click.echo(
        f"Team file version {signed.version} ({len(signed.members)} laptop(s)) written to {printable(team_path)}. "
        "Check the fingerprint with the interviewer, then give the file to every laptop (`fieldscribe team join`) "
        "and pull with `fieldscribe bundle pull --team`.",
        err=True,
    )


@team.command("join")
@vault_option
@click.argument("team_file", metavar="TEAM", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def team_join(ctx: click.Context, team_file: Path) -> None:
    """Take in the team file the study lead approved: this laptop's pseudonym block and team."""
    from ..core.sanitise import printable
    from ..core.sync.membership import join, read_small_file
    from ..core.team import MAX_TEAM_FILE, team

    data = read_small_file(team_file, MAX_TEAM_FILE, "team file")
    with open_vault(ctx) as vault:
        me = join(vault, data)
        held = team(vault)
    assert held is not None  # join keeps it
    click.echo(
        f"This laptop ({me.short_id}, {printable(me.interviewer)}, {me.site}) is in the team "
        f"(team file version {held.version}, {len(held.members)} laptop(s)); new participants get pseudonyms "
        f"{me.block}."
    )


@team.command("show")
@vault_option
@click.pass_context
def team_show(ctx: click.Context) -> None:
    """List the team's laptops: device, interviewer, site, pseudonym block."""
    from ..core.sanitise import printable
    from ..core.team import team

    with open_vault(ctx) as vault:
        held = team(vault)
        device = vault.device_id
    if held is None:
        click.echo(
            "This laptop has not joined a team: pseudonyms are P1, P2, … (`fieldscribe team request` to join one)."
        )
        return
    click.echo(f"Team of study {held.study}, team file version {held.version}:")
    width = max((len(printable(m.interviewer)) for m in held.members), default=0)
    for m in held.members:
        earlier = f"  (earlier: {', '.join(str(b) for b in m.earlier_blocks)})" if m.earlier_blocks else ""
        mark = "  ← this laptop" if m.device_id == device else ""
        click.echo(
            f"  {m.short_id}  {printable(m.interviewer).ljust(width)}  {m.site:<12}  {m.block!s:<14}{earlier}{mark}"
        )


def bundle_trust(identity: Path, study_file: Path | None, team_file: Path | None) -> DeviceTrust:
    """The laptops `bundle pull` and `bundle open` accept: the team file's (verified against
    the team's identity), else the study file's export: device_keys:, else each device
    folder's first key. With both files, a laptop must be in both."""
    from ..core.study import load_study
    from ..core.sync.trust import DeviceTrust

    listed = set(load_study(study_file).study.export.device_keys) if study_file else set()
    if team_file is None:
        return DeviceTrust(listed)
    from ..core.sync.membership import team_trust

    return team_trust(team_file, identity, listed or None)


COMMANDS = [team]
