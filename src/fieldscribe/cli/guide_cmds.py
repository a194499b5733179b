"""guide check / import / list."""

from __future__ import annotations

import click

from ..core.guides import import_guide, list_guides
from ..core.study import load_study
from .common import UsablePath, open_vault, vault_option


@click.group()
def guide() -> None:
    """Validate and import study files (interview guides)."""


@guide.command("check")
@click.argument("file", type=UsablePath(dir_okay=False))
def guide_check(file: str) -> None:
    """Validate FILE and list every problem with its line."""
    sf = load_study(file)
    s = sf.study
    n_questions = sum(len(d.questions) for d in s.guide.domains)
    click.echo(
        f"OK: {s.study.title} [{s.study.language}] — {len(s.guide.domains)} domains, {n_questions} questions, "
        f"{len(s.consent)} consent items, {len(s.questionnaire)} questionnaire fields; version {sf.version}"
    )


@guide.command("import")
@vault_option
@click.argument("file", type=UsablePath(dir_okay=False))
@click.pass_context
def guide_import(ctx: click.Context, file: str) -> None:
    """Freeze FILE into the vault; sessions created afterwards use it."""
    sf = load_study(file)
    with open_vault(ctx) as vault:
        info, new = import_guide(vault, sf)
    state = "Imported" if new else "Already imported"
    click.echo(f"{state}: {info.title} [{info.language}] version {info.version}")


@guide.command("list")
@vault_option
@click.pass_context
def guide_list(ctx: click.Context) -> None:
    """Show the guide versions frozen in this vault (newest last = current)."""
    with open_vault(ctx) as vault:
        guides = list_guides(vault)
    for g in guides:
        click.echo(f"{g.version}  {g.language}  {g.imported_at}  {g.title}")


COMMANDS = [guide]
