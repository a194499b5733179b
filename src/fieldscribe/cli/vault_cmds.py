"""init, passphrase change, audit verify."""

from __future__ import annotations

import click

from ..core.errors import InvalidInput
from ..core.guides import import_guide
from ..core.study import load_study
from ..core.vault import Vault
from .common import (
    UsablePath,
    new_vault_folder,
    open_vault,
    read_passphrase,
    terminal_safe,
    vault_option,
    vault_path,
)

# how the command line words core.overview's attention items (tampered ones carry their own sentence)
_STATUS_ATTENTION = {
    "interrupted": "{0}: a recording was interrupted — it is recovered the next time the vault is opened",
    "consent": "{0}: consent incomplete",
    "recorded": "{0}: recorded, not transcribed yet — `fieldscribe transcribe {0}`",
    "transcribed": "{0}: transcript waiting for review — `fieldscribe redact {0}`",
    "exported": "{0}: exported, not synced to the study store — `fieldscribe sync`",
    "received": "{0}: received by the analysis team — raw data can go: `fieldscribe purge --received`",
}


@click.command()
@vault_option
@click.option("--guide", "guide_file", type=UsablePath(dir_okay=False), help="Import this study file straight away.")
@click.pass_context
def init(ctx: click.Context, guide_file: str | None) -> None:
    """Create a new encrypted vault and print its recovery key (shown once)."""
    path = vault_path(ctx)
    study_file = load_study(guide_file) if guide_file else None  # validate before creating anything
    passphrase = read_passphrase("Choose a vault passphrase", confirm=True)
    with new_vault_folder(path):
        vault, recovery = Vault.create(path, passphrase)
    with vault:
        if study_file is not None:
            import_guide(vault, study_file)
    click.echo(f"Created vault at {path}")
    if study_file is not None:
        click.echo(f"Imported guide {study_file.study.study.title} ({study_file.version})")
    click.echo("")
    click.echo("RECOVERY KEY — write it on paper and keep it apart from this laptop.")
    click.echo("It resets a forgotten passphrase; it is shown only now.")
    click.echo("")
    click.echo(f"    {recovery}")
    click.echo("")


@click.group()
def passphrase() -> None:
    """Change the vault passphrase (or reset it with the recovery key)."""


@passphrase.command("change")
@vault_option
@click.option(
    "--recovery-key", "use_recovery", is_flag=True, help="Unlock with the recovery key instead of the passphrase."
)
@click.pass_context
def passphrase_change(ctx: click.Context, use_recovery: bool) -> None:
    """Set a new passphrase; the data and the recovery key stay as they are."""
    with open_vault(ctx, unlock=False) as vault:
        if use_recovery:
            key = read_passphrase("Recovery key", env="FIELDSCRIBE_RECOVERY_KEY")
            vault.unlock_with_recovery_key(key)
        else:
            vault.unlock(read_passphrase("Current passphrase"))
        new = read_passphrase("New passphrase", confirm=True, env="FIELDSCRIBE_NEW_PASSPHRASE")
        if not new:
            raise InvalidInput("The new passphrase is empty; nothing was changed.")
        vault.change_passphrase(new)
    click.echo("Passphrase changed.")


@click.group()
def audit() -> None:
    """Inspect the tamper-evident audit log."""


@audit.command("verify")
@vault_option
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check that no audit entry was edited, deleted or rewritten, and that every participant's
    and session's history is the one the log vouches for."""
    from ..core import ledger
    from ..core.audio.store import verify_audio

    with open_vault(ctx, recover=False) as vault:  # the tool to investigate must open whatever happened
        report = vault.audit.verify()
        findings = ledger.verify_all(vault)
        findings += [f for f in verify_audio(vault) if f not in findings]
    if report.ok and not findings:
        # the same line as before histories were checked: scripts and tests read it
        click.echo(f"Audit log intact: {report.entries} entries, anchored at entry {report.anchored_seq}.")
        return
    for problem in report.problems + findings:
        click.echo(f"  {problem}", err=True)
    click.echo(
        f"Error: the audit log or the vault was tampered with ({len(report.problems) + len(findings)} problem(s) "
        "above); "
        "keep this vault as evidence and report it to the study lead.",
        err=True,
    )
    ctx.exit(2)


@audit.command("show")
@vault_option
@click.option(
    "--last", type=click.IntRange(1, 1_000_000), default=30, show_default=True, help="How many recent entries to show."
)
@click.pass_context
def audit_show(ctx: click.Context, last: int) -> None:
    """List recent audit entries (pseudonyms and actions only)."""
    with open_vault(ctx, recover=False) as vault:
        entries = vault.audit.entries()[-last:]
    for e in entries:
        # the history digests (details["ledger"]) are for `audit verify`, not for reading
        detail = " ".join(f"{k}={v}" for k, v in e.details.items() if k != "ledger")
        click.echo(f"{e.seq:>5}  {e.ts}  {e.actor:<12} {e.action:<24} {e.subject:<6} {detail}".rstrip())


@click.command()
@vault_option
@click.pass_context
def status(ctx: click.Context) -> None:
    """The study at a glance: guides, participants, consent and sessions, and what needs attention."""
    from ..core.guides import current_guide, list_guides
    from ..core.overview import TAMPERED, WITHDRAWN, overview

    with open_vault(ctx) as vault:
        guides = list_guides(vault)
        study = current_guide(vault).study if guides else None
        view = overview(vault, study) if study else None
        audit_ok = vault.audit.verify().ok
    if study is None or view is None:
        click.echo("No study imported yet; run `fieldscribe guide import FILE`.")
        return
    click.echo(f"{study.study.title}")
    click.echo(
        f"Ethics reference {study.study.ethics_reference}; guides: "
        + ", ".join(f"{g.language} {g.version}" for g in guides)
    )
    active = [p for p in view.people if p.consent != WITHDRAWN]
    click.echo(f"Participants: {len(active)} enrolled, {len(view.people) - len(active)} withdrawn")
    for p in view.people:
        state = {WITHDRAWN: "withdrawn", TAMPERED: "TAMPERED", "complete": "consent complete"}.get(
            p.consent, "consent INCOMPLETE"
        )
        click.echo(f"  {p.id:<5} {p.group:<14} {p.site or '':<26} {state}")
    click.echo(f"Sessions: {len(view.sessions)}")
    for s in view.sessions:
        status_text = "TAMPERED" if s.status == TAMPERED else s.status
        click.echo(f"  {s.id:<5} {s.kind:<12} wave {s.wave}  {','.join(s.participants):<12} {status_text}")
    attention = [
        terminal_safe(a.detail) if a.kind == TAMPERED else _STATUS_ATTENTION[a.kind].format(a.subject)
        for a in view.attention
    ]
    if not audit_ok:
        attention.append("audit log failed verification — run `fieldscribe audit verify`")
    if attention:
        click.echo("Needs attention:")
        for a in attention:
            click.echo(f"  - {a}")


@click.command()
@vault_option
@click.option(
    "--study",
    "study_files",
    multiple=True,
    required=True,
    type=UsablePath(dir_okay=False),
    help="Study file(s) to load; the first becomes the current guide.",
)
@click.pass_context
def demo(ctx: click.Context, study_files: tuple[str, ...]) -> None:
    """Create a demo vault with fictional participants (only if it does not exist yet)."""
    from ..core.demo import build_demo

    path = vault_path(ctx)
    studies = [load_study(f) for f in study_files]
    passphrase = read_passphrase("Demo vault passphrase", confirm=True)
    with new_vault_folder(path):
        created = build_demo(path, passphrase, studies)
    click.echo(("Created demo vault at " if created else "Using demo vault at ") + str(path), err=True)


COMMANDS = [init, passphrase, audit, status, demo]
