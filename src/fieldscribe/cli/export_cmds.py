"""export, bundle keygen/open."""

from __future__ import annotations

from pathlib import Path

import click

from .common import UsablePath, open_vault, vault_option
from .team_cmds import bundle_trust, team_option


@click.command("export")
@vault_option
@click.option("--sessions", "session_list", required=True, metavar="S1,S2", help="Reviewed sessions to export.")
@click.option("--to", "out_dir", required=True, type=UsablePath(path_type=Path), help="Folder for the bundle.")
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    metavar="FILE|age1…",
    help="Analysis-team public key (default: the study's key from `study recipient set`, else the study file's).",
)
@click.option(
    "--with-audio",
    is_flag=True,
    help="Include the recordings (only with the study's audio-sharing consent from every participant).",
)
@click.pass_context
def export(ctx: click.Context, session_list: str, out_dir: Path, recipients: tuple[str, ...], with_audio: bool) -> None:
    """Export reviewed, de-identified sessions as one bundle only the analysis team can open."""
    from ..core.export.exporter import export_sessions

    ids = [s.strip() for s in session_list.split(",") if s.strip()]
    with open_vault(ctx) as vault:
        out = export_sessions(vault, ids, out_dir, list(recipients), with_audio=with_audio)
    click.echo(str(out))
    click.echo("This laptop cannot open the bundle: only the analysis team's identity can.", err=True)


@click.group()
def bundle() -> None:
    """Analysis-team keys and opening bundles."""


@bundle.command("keygen")
@click.option("--out", required=True, type=UsablePath(dir_okay=False, path_type=Path))
def bundle_keygen(out: Path) -> None:
    """Make an analysis-team key pair: OUT (secret, keep it safe) and OUT.pub (for the study file)."""
    from ..core.export.keys import keygen
    from ..core.sync.trust import receipt_key_hex

    path, recipient = keygen(out)
    click.echo(recipient)
    click.echo(
        f"Secret identity in {path} — keep it off field laptops. Put the line above in the study file "
        "under export: recipients: (or set it on a laptop with `fieldscribe study recipient set`).",
        err=True,
    )
    click.echo(
        f"Receipt key: {receipt_key_hex(path)} — put it in the study file under export: receipt_keys:, "
        "so laptops believe this team's receipts.",
        err=True,
    )


@bundle.command("open")
@click.argument("bundle_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--identity", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@team_option
@click.option(
    "--study",
    "study_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Study file whose export: device_keys: lists the only laptops to accept "
    "(default: trust a device's first key and refuse any other).",
)
def bundle_open(bundle_path: Path, identity: Path, out: Path, team_file: Path | None, study_file: Path | None) -> None:
    """Decrypt, verify signature, signer and hashes, and unpack a bundle."""
    from ..core.export.bundle import extract, open_bundle
    from ..core.sanitise import printable

    trust = bundle_trust(identity, study_file, team_file)
    opened = open_bundle(bundle_path, identity, trusted_devices=trust.listed or None)
    m = opened.manifest
    how = trust.check(
        str(m["study"]["id"]), str(m["device_id"]), str(m["device_public_key"]), what=printable(bundle_path.name)
    )
    written = extract(opened, out)
    trust.pin(str(m["study"]["id"]), str(m["device_id"]), str(m["device_public_key"]))
    if how == "new":
        click.echo(
            f"First bundle from device {printable(str(m['device_id'])[:12])}: its key "
            f"{printable(m['device_public_key'][:16])}… is "
            "now pinned; a bundle from that device signed by any other key will be refused.",
            err=True,
        )
    m = opened.manifest
    click.echo(
        f"Opened {printable(bundle_path.name)}: {printable(m['study']['title'])} — sessions "
        f"{', '.join(printable(s['id']) for s in m['sessions'])}; signed by device "
        f"{printable(m['device_public_key'][:16])}…; {len(written)} files in {printable(out)}."
    )


COMMANDS = [export, bundle]
