"""remote set/show, sync, purge --received, bundle pull."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..core.errors import InvalidInput
from .common import known_hosts_option, open_vault, read_passphrase, store_key_option, terminal_safe, vault_option
from .team_cmds import bundle_trust, team_option


@click.group()
def remote() -> None:
    """The study store this laptop syncs to."""


@remote.command("set")
@vault_option
@click.argument("url")
@store_key_option
@known_hosts_option
@click.option(
    "--password",
    "ask_password",
    is_flag=True,
    help="Ask for a WebDAV password and keep it sealed in the vault (env FIELDSCRIBE_STORE_PASSWORD).",
)
@click.pass_context
def remote_set(
    ctx: click.Context, url: str, identity_file: str | None, known_hosts: str | None, ask_password: bool
) -> None:
    """Set the store: sftp://user@host/path, webdav(s)://user@host/path or file:///folder."""
    from ..core.sync.settings import ENV_PASSWORD, save_remote

    password = read_passphrase("Store password", env=ENV_PASSWORD) if ask_password else None
    with open_vault(ctx) as vault:
        save_remote(vault, url, identity_file=identity_file, known_hosts=known_hosts, password=password)
    click.echo(f"Sync will go to {url}.")


@remote.command("show")
@vault_option
@click.pass_context
def remote_show(ctx: click.Context) -> None:
    """Show where sync goes (never the password)."""
    from ..core.sync.settings import resolve
    from ..core.sync.store import parse_address

    with open_vault(ctx) as vault:
        url, creds = resolve(vault)
    click.echo(f"store: {parse_address(url).display}")
    click.echo(f"ssh key: {creds.identity_file or '(agent / ~/.ssh defaults)'}")
    click.echo(f"known_hosts: {creds.known_hosts or '~/.ssh/known_hosts'}")
    click.echo(f"password: {'set (sealed)' if creds.password else 'none'}")


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


@click.command("sync")
@vault_option
@click.option(
    "--to", "url", metavar="URL", help="Store address (default: `fieldscribe remote set`, then the study file)."
)
@store_key_option
@known_hosts_option
@click.pass_context
def sync_cmd(ctx: click.Context, url: str | None, identity_file: str | None, known_hosts: str | None) -> None:
    """Upload exported bundles to the study store and collect the analysis team's receipts."""
    import time

    from ..core.handover import exchange
    from ..core.sync.push import sync
    from ..core.sync.settings import resolve
    from ..core.sync.store import connect

    with open_vault(ctx) as vault:
        url, creds = resolve(vault, url, identity_file, known_hosts)
        started = time.monotonic()
        store = connect(url, creds, timeout=5.0)
        last = {"t": 0.0}

        def progress(p) -> None:
            now = time.monotonic()
            if now - last["t"] < 0.5 and p.done < p.total:
                return
            last["t"] = now
            eta = f", about {p.eta_s:.0f} s left" if p.eta_s is not None else ""
            line = f"{_size(p.done)} of {_size(p.total)} ({100 * p.done / max(p.total, 1):.0f}%){eta}"
            if sys.stderr.isatty():
                click.echo("\r" + line.ljust(60), nl=False, err=True)
            else:
                click.echo(line, err=True)

        try:
            report = sync(vault, store, on_progress=progress)
            # participants handed over between laptops: a withdrawal on one reaches the other
            peers = exchange(vault, store)
        finally:
            store.close()
    if sys.stderr.isatty():
        click.echo("", err=True)
    for name in report.missing:
        click.echo(
            f"Warning: the bundle {name} is no longer where it was exported; export again or put it back.", err=True
        )
    for name in report.changed:
        click.echo(
            f"Warning: the bundle {name} was altered after export and was not uploaded; export those sessions again.",
            err=True,
        )
    for name, had in report.resumed.items():
        click.echo(f"Resumed {name} ({_size(had)} were already on the store).", err=True)
    for name in report.notices_sent:
        click.echo(f"Sent the withdrawal notice {name} to the analysis team.", err=True)
    for name in peers.handed:
        click.echo(f"Put the hand-over {name} in the receiving laptop's inbox on the store.", err=True)
    for got in peers.received:
        how = "hand-back" if got.handed_back else "hand-over"
        click.echo(f"Received {got.participant} from laptop {got.from_device[:8]} ({how}).", err=True)
    for name, why in peers.refused:
        click.echo(
            f"Warning: the hand-over {name} in this laptop's inbox on the store was refused (it is left there "
            f"and not tried again unless the team file changes): {terminal_safe(why)}",
            err=True,
        )
    for name in peers.sent:
        click.echo(f"Sent the withdrawal notice {name} to the team's other laptops.", err=True)
    for pid in peers.withdrawn:
        click.echo(f"{pid} withdrew on another laptop of the team; their data on this laptop was destroyed.", err=True)
    for name in peers.ignored:
        click.echo(
            f"Warning: the withdrawal notice {name} is not signed by a laptop of the team; it was ignored.", err=True
        )
    for name in report.notices_restored:
        click.echo(
            f"Warning: the withdrawal notice {name} had been deleted from the store; it was sent again "
            "(tell whoever runs the store).",
            err=True,
        )
    for name in report.rejected:
        click.echo(
            f"Warning: the receipt for {name} is not signed by a receipt key the study file lists; it was "
            "ignored (ask the analysis team, and check export: receipt_keys:).",
            err=True,
        )
    if report.no_receipt_key:
        click.echo(
            "Warning: the analysis team has written receipts, but the study file lists no receipt key "
            "(export: receipt_keys:, printed by `fieldscribe bundle keygen`), so none can be believed; add "
            "it, import the study file again and sync.",
            err=True,
        )
    click.echo(
        f"Uploaded {len(report.uploaded)} bundle(s) ({_size(report.bytes_sent)} in "
        f"{time.monotonic() - started:.1f} s); {len(report.already_there)} already on the store; "
        f"{len(report.received)} newly confirmed received by the analysis team."
    )


@click.command("purge")
@vault_option
@click.option(
    "--received",
    is_flag=True,
    required=True,
    help="Purge sessions the analysis team confirmed it received (required, to be explicit).",
)
@click.option("--confirm", "confirmation", metavar="TEXT", help="The confirmation phrase, for scripts.")
@click.pass_context
def purge(ctx: click.Context, received: bool, confirmation: str | None) -> None:
    """Delete the raw audio and transcripts of received sessions for good (crypto-shredding)."""
    from ..core.sync.purge import confirmation_phrase, purge_received, purgeable

    with open_vault(ctx) as vault:
        ids = purgeable(vault)
        if not ids:
            raise InvalidInput(
                "No session has been confirmed as received by the analysis team yet; run "
                "`fieldscribe sync` first. Nothing was purged."
            )
        phrase = confirmation_phrase(ids)
        if confirmation is None:
            click.echo(
                f"This permanently deletes the audio, timeline and transcripts of {', '.join(ids)} from this "
                "laptop (the analysis team holds the de-identified export; the audit trail is kept).",
                err=True,
            )
            confirmation = click.prompt(f'Type "{phrase}" to confirm', default="", show_default=False)
        done = purge_received(vault, confirmation)
    click.echo(f"Purged {', '.join(done)}: their keys are destroyed and the audio files deleted.")


@click.command("pull")
@click.argument("store_url", metavar="STORE")
@click.option(
    "--identity",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The analysis team's age identity.",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@team_option
@click.option(
    "--study",
    "study_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Study file whose export: device_keys: lists the only laptops to accept "
    "(default: trust each device folder's first key and refuse any other).",
)
@click.option(
    "--assemble",
    "assemble_to",
    metavar="STUDY.qdpx",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Then write the whole study (every bundle pulled so far) as one project, with a "
    "…-cases.csv beside it; needs --study (see `fieldscribe study assemble`).",
)
@store_key_option
@known_hosts_option
def bundle_pull(
    store_url: str,
    identity: Path,
    out: Path,
    team_file: Path | None,
    study_file: Path | None,
    assemble_to: Path | None,
    identity_file: str | None,
    known_hosts: str | None,
) -> None:
    """Analysis side: fetch, verify and unpack new bundles, and write signed receipts back."""

    if assemble_to is not None and study_file is None:
        raise InvalidInput("--assemble needs the study file: give --study too.")

    from ..core.sync.receipts import pull
    from ..core.sync.settings import credentials_without_vault
    from ..core.sync.store import connect

    creds = credentials_without_vault(identity_file, known_hosts)
    from ..core.sanitise import printable

    trust = bundle_trust(identity, study_file, team_file)
    store = connect(store_url, creds)
    try:
        report = pull(store, identity, out, trust=trust)
    finally:
        store.close()
    for w in report.withdrawals:
        where = f"{printable(w.study)}/{printable(w.device[:12])}"
        if w.error:
            click.echo(f"Warning: {where}: {printable(w.error)}.", err=True)
            continue
        click.echo(
            f"{printable(w.participant)} withdrew from the study ({where}): deleted "
            f"{len(w.deleted)} unpacked bundle folder(s); {len(w.bundles)} bundle(s) will not be unpacked "
            "again. Delete their interviews from any QDA project you imported them into."
        )
    bad = 0
    for r in report.bundles:
        where = f"{printable(r.study)}/{printable(r.device[:12])}/{printable(r.bundle)}"
        if r.error:
            bad += 1
            click.echo(f"Refused {where}: {printable(r.error)}", err=True)
        else:
            new = " (first bundle from this device: its key is now pinned)" if r.trust == "new" else ""
            click.echo(f"Received {where} → {printable(r.folder)}{new}")
    click.echo(f"{len(report.bundles) - bad} bundle(s) received and acknowledged; {bad} refused.", err=True)
    if assemble_to is not None and study_file is not None:
        # after the withdrawals were applied, so the project never has what they took out
        from ..core.export.assemble import write_assembly
        from ..core.study import load_study
        from .deid_cmds import echo_assembly

        laptops = None
        if team_file is not None:  # verified above by bundle_trust: name each laptop's site and interviewer
            from ..core.sync.membership import analysis_team

            laptops = {m.device_id: (m.site, m.interviewer) for m in analysis_team(team_file, identity).members}
        result, sheet = write_assembly(out, [load_study(study_file)], assemble_to, laptops_of=laptops)
        echo_assembly(result, assemble_to, sheet)
    if bad:
        sys.exit(2)


COMMANDS = [remote, sync_cmd, purge]
EXTRA = {"bundle": bundle_pull}
