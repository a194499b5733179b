"""study status: the study lead's view of the store, per laptop (registered into `study`)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import known_hosts_option, store_key_option

if TYPE_CHECKING:
    from ..core.sync.status import DeviceStatus, StudyStatus


@click.command("status")
@click.argument("store_url", metavar="STORE")
@click.option(
    "--identity",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The analysis team's age identity: only receipts its receipt key signed count as received.",
)
@click.option(
    "--team",
    "team_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Team file the study lead approved: rows name interviewer and site, and laptops that never synced show.",
)
@click.option("--study", "study_id", metavar="ID", help="Only this study's folder (default: every study on the store).")
@store_key_option
@known_hosts_option
def study_status_cmd(
    store_url: str,
    identity: Path,
    team_file: Path | None,
    study_id: str | None,
    identity_file: str | None,
    known_hosts: str | None,
) -> None:
    """Study lead: each laptop's last upload, bundles, received, outstanding and withdrawals,
    read from the store alone (nothing is decrypted, nothing is written).

    "last sync" is the newest file the laptop uploaded; a sync with nothing new leaves no
    trace on the store. With --team, rows name the interviewer and site, laptops of the team
    that never synced are listed, and other folders are flagged."""
    from ..core.sync.settings import credentials_without_vault
    from ..core.sync.status import study_status
    from ..core.sync.store import connect

    creds = credentials_without_vault(identity_file, known_hosts)
    store = connect(store_url, creds)
    try:
        status = study_status(store, identity, study=study_id, team=team_file)
    finally:
        store.close()
    echo_status(status, datetime.now(UTC))


def ago(when: datetime, now: datetime) -> str:
    seconds = max(0, int((now - when).total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day ago" if days == 1 else f"{days} days ago"


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _notes(d: DeviceStatus) -> list[str]:
    from ..core.sync.status import REFUSED, UNCHECKED

    notes = []
    if d.in_team is False:
        notes.append("not in the team")
    if d.not_team_receipts:
        notes.append(f"{len(d.not_team_receipts)} receipt(s) not signed by the team: not counted")
    if d.withdrawn:
        notes.append(f"{len(d.withdrawn)} bundle(s) withdrawn")
    unchecked = sum(1 for n in d.notices if n.state == UNCHECKED)
    if unchecked:
        notes.append(f"{unchecked} notice(s) not yet checked (no key known for this laptop)")
    refused = sum(1 for n in d.notices if n.state == REFUSED)
    if refused:
        notes.append(f"{refused} notice(s) not signed by this laptop: ignored")
    if d.unfinished:
        notes.append(f"{d.unfinished} upload(s) unfinished")
    return notes


def echo_status(status: StudyStatus, now: datetime) -> None:
    header = ("laptop", "last sync", "bundles", "received", "outstanding", "withdrawals", "notes")
    for study in status.studies:
        rows = [d for d in status.devices if d.study == study]
        rows.sort(key=lambda d: (not d.synced, d.label))
        table: list[tuple[str, ...]] = [header]
        for d in rows:
            when = (
                f"{d.last_upload:%Y-%m-%d %H:%M} UTC ({ago(d.last_upload, now)})"
                if d.last_upload
                else ("never" if not d.synced or not d.bundles else "?")
            )
            counts = (len(d.bundles), len(d.received), len(d.outstanding), d.withdrawals)
            table.append((d.label, when, *(str(n) for n in counts), "; ".join(_notes(d))))
        widths = [max(_width(r[i]) for r in table) for i in range(len(header) - 1)]
        click.echo(f"Study {study} on {status.store}:")
        for r in table:
            cells = [_pad(c, w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
            click.echo(("  " + "  ".join(cells) + ("  " + r[-1] if r[-1] else "")).rstrip())
    synced = [d for d in status.devices if d.synced]
    never = len(status.devices) - len(synced)
    flags = sum(len(d.not_team_receipts) for d in status.devices)
    strangers = sum(1 for d in status.devices if d.in_team is False)
    click.echo(
        f"{len(status.devices)} laptop(s), {len(synced)} synced"
        + (f", {never} never" if never else "")
        + f": {sum(len(d.bundles) for d in status.devices)} bundle(s), "
        f"{sum(len(d.received) for d in status.devices)} received, "
        f"{sum(len(d.outstanding) for d in status.devices)} outstanding, "
        f"{sum(d.withdrawals for d in status.devices)} withdrawal(s)"
        + (f"; {flags} receipt(s) not the team's" if flags else "")
        + (f"; {strangers} folder(s) not in the team" if strangers else "")
        + "."
    )


EXTRA = {"study": study_status_cmd}
