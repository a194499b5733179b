"""export, bundle keygen/open."""

from __future__ import annotations

from pathlib import Path

import click

from .common import UsablePath, open_vault, vault_option


@click.command("export")
@vault_option
@click.option("--sessions", "session_list", required=True, metavar="S1,S2", help="Reviewed sessions to export.")
@click.option("--to", "out_dir", required=True, type=UsablePath(path_type=Path), help="Folder for the bundle.")
@click.option("--recipient", "recipients", multiple=True, metavar="FILE|age1…",
              help="Analysis-team public key (default: the study file's export recipients).")
@click.option("--with-audio", is_flag=True,
              help="Include the recordings (only with the study's audio-sharing consent from every participant).")
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
    from ..core.export.bundle import keygen

    path, recipient = keygen(out)
    click.echo(recipient)
    click.echo(f"Secret identity in {path} — keep it off field laptops. Put the line above in the study file "
               "under export: recipients:.", err=True)


@bundle.command("open")
@click.argument("bundle_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--identity", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def bundle_open(bundle_path: Path, identity: Path, out: Path) -> None:
    """Decrypt, verify signature and hashes, and unpack a bundle."""
    from ..core.export.bundle import extract, open_bundle

    opened = open_bundle(bundle_path, identity)
    written = extract(opened, out)
    m = opened.manifest
    click.echo(f"Opened {bundle_path.name}: {m['study']['title']} — sessions "
               f"{', '.join(s['id'] for s in m['sessions'])}; signed by device {m['device_public_key'][:16]}…; "
               f"{len(written)} files in {out}.")


COMMANDS = [export, bundle]
