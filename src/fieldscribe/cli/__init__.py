"""The headless command line: the core's first client, and what scripts and tests drive.

Every expected failure is a :class:`FieldscribeError` and is printed as its one sentence on
stderr with a non-zero exit code; a traceback means a bug.

The commands' modules (and the core behind them) are loaded the first time a command is
looked up or listed, not when `fieldscribe` opens the app: the unlock screen should cost
Textual and little else (scripts/bench_startup.py).
"""

from __future__ import annotations

import errno
import sys

import click

from ..core.errors import FieldscribeError, InvalidInput
from .common import CONTEXT_SETTINGS, Utf8Text, terminal_safe, vault_option


class FieldscribeGroup(click.Group):
    """The root group; its commands are registered on first use (see the module docstring)."""

    _registered = False

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if not self._registered:
            self._registered = True
            _register(self)
        return self._commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._commands = value

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FieldscribeError as exc:
            # messages quote paths and values as given: escapes in them must not act on the terminal
            click.echo(f"Error: {terminal_safe(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                _disk_full(ctx)
            raise
        except Exception as exc:
            import sqlite3  # here, not at the top: `fieldscribe` opening the app has no use for it

            if isinstance(exc, sqlite3.OperationalError) and ("disk is full" in str(exc) or "disk I/O" in str(exc)):
                _disk_full(ctx)
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                # the schema's own constraints caught a row that fieldscribe never writes: the file
                # was edited (or damaged); the transaction was rolled back, so nothing changed
                click.echo(
                    f"Error: the vault database holds rows fieldscribe did not write ({terminal_safe(exc)}); "
                    "nothing was changed — keep the vault folder as evidence and run `fieldscribe audit verify`.",
                    err=True,
                )
                ctx.exit(2)
            raise


def _disk_full(ctx: click.Context) -> None:
    click.echo(
        "Error: the disk is full; free some space and run the command again "
        "(everything saved before this command is intact).",
        err=True,
    )
    ctx.exit(1)


@click.group(cls=FieldscribeGroup, context_settings=CONTEXT_SETTINGS, invoke_without_command=True)
@vault_option
@click.version_option(package_name="fieldscribe")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """fieldscribe: run qualitative field interviews, encrypted on this laptop.

    Choose the vault with --vault PATH or FIELDSCRIBE_VAULT; scripts can give the
    passphrase in FIELDSCRIBE_PASSPHRASE.
    """
    if ctx.invoked_subcommand is None:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            click.echo(ctx.get_help())  # a script or pipe: the app needs a terminal
            return
        from ..tui import run_app
        from .common import vault_path

        path = vault_path(ctx)
        if not (path / "vault.db").exists():
            raise InvalidInput(
                f"There is no vault at {path}; create one with `fieldscribe init`, or choose one with --vault PATH."
            )
        run_app(path)


def _register(root: click.Group) -> None:
    from . import (
        audio_cmds,
        deid_cmds,
        export_cmds,
        guide_cmds,
        mark_cmds,
        participant_cmds,
        session_cmds,
        speaker_cmds,
        status_cmds,
        sync_cmds,
        team_cmds,
        transcript_cmds,
        vault_cmds,
    )

    for module in (
        vault_cmds,
        guide_cmds,
        participant_cmds,
        session_cmds,
        audio_cmds,
        mark_cmds,
        transcript_cmds,
        speaker_cmds,
        deid_cmds,
        export_cmds,
        sync_cmds,
        team_cmds,
    ):
        for command in module.COMMANDS:
            root.add_command(command)
    for group, command in (deid_cmds.EXTRA | sync_cmds.EXTRA | status_cmds.EXTRA).items():
        root.commands[group].add_command(command)  # type: ignore[attr-defined]
    _require_utf8(root)


def _require_utf8(command: click.Command) -> None:
    """Give every plain-text parameter, in every command, the UTF-8 check (a new option
    declared as plain text gets it without anyone remembering to ask)."""
    for param in command.params:
        if type(param.type) is click.types.StringParamType:
            param.type = Utf8Text()
    for sub in getattr(command, "commands", {}).values():
        _require_utf8(sub)


def main() -> None:
    cli(prog_name="fieldscribe")


if __name__ == "__main__":  # pragma: no cover
    main()
