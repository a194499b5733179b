"""Shared CLI plumbing: choosing the vault, asking for the passphrase, opening it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from ..core.errors import InvalidInput
from ..core.paths import ENV_PASSPHRASE, ENV_VAULT, resolve_vault_path
from ..core.vault import Vault

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
F = TypeVar("F", bound=Callable[..., Any])


def _store_vault(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        # stored on the root so that `fieldscribe --vault X cmd` and `fieldscribe cmd --vault X`
        # both work; subcommand options are parsed later, so the innermost one wins
        ctx.find_root().ensure_object(dict)["vault"] = value
    return value


def vault_option(f: F) -> F:
    """--vault may be given before or after the subcommand; the innermost one wins."""
    return click.option(
        "--vault",
        metavar="PATH",
        expose_value=False,
        is_eager=True,
        callback=_store_vault,
        help=f"Vault folder (default: ${ENV_VAULT}, else your user data folder).",
    )(f)


def vault_path(ctx: click.Context) -> Path:
    root = ctx.find_root()
    chosen = (root.obj or {}).get("vault") if isinstance(root.obj, dict) else None
    return resolve_vault_path(chosen)


def read_passphrase(prompt: str = "Vault passphrase", *, confirm: bool = False, env: str = ENV_PASSPHRASE) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    try:
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
    except click.Abort:
        if sys.stdin.isatty():
            raise
        raise InvalidInput(f"No passphrase given: run this in a terminal, or set {env} for scripts.") from None


@contextmanager
def open_vault(ctx: click.Context, *, unlock: bool = True, recover: bool = True) -> Iterator[Vault]:
    """Open and unlock the vault; first repair any recording a crash interrupted."""
    vault = Vault.open(vault_path(ctx))
    try:
        if unlock:
            vault.unlock(read_passphrase())
            if recover:
                _recover_interrupted(vault)
        yield vault
    finally:
        vault.close()


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, str]:
    """KEY=VALUE options, as typed on a command line."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{what} {pair!r} should look like KEY=VALUE, e.g. age=34.")
        out[key.strip()] = value.strip()
    return out


YES = {"y", "yes", "true", "1", "met", "given", "是"}
NO = {"n", "no", "false", "0", "not-met", "refused", "否"}


def parse_bool(text: str, what: str) -> bool:
    low = text.strip().lower()
    if low in YES:
        return True
    if low in NO:
        return False
    raise InvalidInput(f"{what}: {text!r} should be yes or no.")


def _recover_interrupted(vault: Vault) -> None:
    from ..core.recovery import interrupted_sessions, recover_all

    if not interrupted_sessions(vault):
        return
    for r in recover_all(vault):
        click.echo(
            f"Note: recording of {r.session_id} was interrupted; recovered {r.seconds:.0f} s in {r.chunks} chunks"
            + (f" (dropped a torn final chunk of {r.dropped_bytes} bytes)" if r.dropped_bytes else "") + ".",
            err=True,
        )
