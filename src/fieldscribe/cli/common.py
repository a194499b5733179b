"""Shared CLI plumbing: choosing the vault, asking for the passphrase, opening it."""

from __future__ import annotations

import errno
import math
import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..core.errors import InvalidInput
from ..core.paths import ENV_PASSPHRASE, ENV_VAULT, resolve_vault_path
from ..core.sanitise import printable

if TYPE_CHECKING:  # loaded by the commands that open a vault, not by `fieldscribe` opening the app
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


def terminal_safe(text: object) -> str:
    """TEXT with every control, format and surrogate character except the newline shown as
    a visible escape (see :func:`core.sanitise.printable`).

    Error messages quote what the user or a file gave (a path, a value, a source name); an
    escape sequence in it must not clear the screen or retitle the terminal, and a byte that
    is not UTF-8 (argv decodes it to a lone surrogate) must not crash the printing itself."""
    return "\n".join(printable(line) for line in str(text).split("\n"))


def vault_path(ctx: click.Context) -> Path:
    """The vault folder chosen by --vault, FIELDSCRIBE_VAULT or the default, refused with one
    sentence when no file operation could use it (a device or file instead of a folder, a
    name too long for the file system, a path through a file)."""
    root = ctx.find_root()
    chosen = (root.obj or {}).get("vault") if isinstance(root.obj, dict) else None
    path = resolve_vault_path(chosen)
    try:
        info = path.stat()
    except FileNotFoundError:
        return path  # `init` creates it; other commands say there is no vault here
    except OSError as exc:
        raise InvalidInput(
            f"The vault path {path} cannot be used ({exc.strerror}); choose another folder with "
            "--vault or FIELDSCRIBE_VAULT."
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidInput(
            f"The vault path {path} is a file, not a folder; a vault is a folder, so choose one with "
            "--vault or FIELDSCRIBE_VAULT."
        )
    return path


@contextmanager
def new_vault_folder(path: Path) -> Iterator[None]:
    """Make the folder a new vault goes in, so that a place where nothing can be created
    (/proc/self/x, a read-only disk) is one sentence; if what follows fails, a folder made
    here is removed again, as long as it is still empty."""
    made = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise  # the disk-full sentence is the CLI's, for every command
        raise InvalidInput(
            f"A vault cannot be created at {path} ({exc.strerror}); choose a folder you can write "
            "to with --vault or FIELDSCRIBE_VAULT."
        ) from None
    try:
        yield
    except BaseException:
        if made:
            with suppress(OSError):  # not empty (partly created) or already gone: leave it
                path.rmdir()
        raise


def read_passphrase(prompt: str = "Vault passphrase", *, confirm: bool = False, env: str = ENV_PASSPHRASE) -> str:
    """From ENV for scripts, else typed at a hidden prompt; text that is not UTF-8 is refused
    here, since no key can be derived from it (the vault's passphrases are UTF-8 bytes)."""
    value = os.environ.get(env)
    if value is None:
        try:
            value = str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
        except click.Abort:
            if sys.stdin.isatty():
                raise
            raise InvalidInput(f"No passphrase given: run this in a terminal, or set {env} for scripts.") from None
    if not is_utf8(value):
        raise InvalidInput(
            f"The {prompt[0].lower() + prompt[1:]} given (typed, or in {env}) is not UTF-8 text; set "
            "the terminal to UTF-8 and give it again."
        )
    return value


@contextmanager
def open_vault(ctx: click.Context, *, unlock: bool = True, recover: bool = True) -> Iterator[Vault]:
    """Open and unlock the vault; first repair any recording a crash interrupted."""
    from ..core.vault import Vault

    vault = Vault.open(vault_path(ctx))
    try:
        if unlock:
            vault.unlock(read_passphrase())
            if recover:
                _recover_interrupted(vault)
        yield vault
    finally:
        vault.close()


def _shown(value: object) -> str:
    """A value as quoted in an error: escaped, and cut short if long."""
    text = str(value)
    return repr(text if len(text) <= 60 else text[:60] + "…")


def is_utf8(text: str) -> bool:
    """False for text decoded from bytes that are not UTF-8: Python turns each such byte of
    argv, the environment or a file name into a lone surrogate, which cannot be stored,
    sealed or printed."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Utf8Text(click.types.StringParamType):
    """Text that is UTF-8, as everything the vault seals, matches and prints must be.

    A terminal set to Latin-1 or GBK hands over bytes that are not UTF-8; without this check
    they would crash deep inside sealing or printing. Every plain-text parameter of every
    command gets this type (see ``cli._register``), so a new option is covered too."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        value = super().convert(value, param, ctx)
        if isinstance(value, str) and not is_utf8(value):
            self.fail(f"{_shown(value)} is not UTF-8 text; set the terminal to UTF-8 and type it again.", param, ctx)
        return value


class UsablePath(click.Path):
    """click.Path that also refuses what no file operation could use, before the command
    starts: an empty value (it would mean the current folder), a name longer than the file
    system allows, a path through a file (``/dev/zero/x``), a name that is not UTF-8."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("the path is empty; give a file or folder name.", param, ctx)
        if isinstance(value, str) and not is_utf8(value):
            self.fail(f"{_shown(value)} is not a UTF-8 file name; rename it (or the folder) and try again.", param, ctx)
        converted = super().convert(value, param, ctx)
        try:
            os.stat(converted)
        except FileNotFoundError:
            pass  # a file still to be created, or checked by the command itself
        except OSError as exc:
            self.fail(f"{_shown(value)} cannot be used ({exc.strerror}); check the path.", param, ctx)
        return converted


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and ±inf.

    click's range check compares, and nan compares as neither below nor above a bound, so
    ``--seconds nan`` would pass and then never be reached by a running clock."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


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
    from ..core.recovery import recover_each

    done, problems = recover_each(vault)  # one that fails is a warning, never a lock-out
    for r in done:
        click.echo(
            f"Note: recording of {r.session_id} was interrupted; recovered {r.seconds:.0f} s in {r.chunks} chunks"
            + (f" (dropped a torn final chunk of {r.dropped_bytes} bytes)" if r.dropped_bytes else "")
            + ".",
            err=True,
        )
    for line in problems:
        click.echo(f"Warning: {terminal_safe(line)}", err=True)


# how a command reaches an SFTP store: the same two options wherever a store is named
store_key_option = click.option(
    "--identity-file", metavar="KEY", help="SSH private key for the store (env FIELDSCRIBE_SSH_KEY)."
)
known_hosts_option = click.option(
    "--known-hosts", metavar="FILE", help="known_hosts holding the store's host key (env FIELDSCRIBE_KNOWN_HOSTS)."
)
