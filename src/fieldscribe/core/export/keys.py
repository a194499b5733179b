"""Keys around a bundle: the analysis team's age key pair (made by `bundle keygen`, its
recipient listed in the study file), reading recipients and identities as bounded regular
files, and this laptop's Ed25519 signing key, made on first export and sealed in the vault.

Kept apart from the bundle format (bundle.py) because the team's receipts and the laptop's
withdrawal notices use the same keys without touching an archive.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import ledger
from ..audit import now_iso
from ..errors import FieldscribeError, InvalidInput, NoRecipient
from ..sanitise import printable
from ..vault import Vault

MAX_IDENTITY = 64 * 1024  # an age identity or recipient file is a few hundred bytes


def open_regular(path: Path, cap: int, error: type[FieldscribeError], what: str) -> tuple[BinaryIO, int]:
    """Open PATH for reading only if it is a regular file of at most CAP bytes.

    O_NONBLOCK keeps a FIFO from blocking the open itself; the checks run on the opened
    descriptor (fstat), so the file cannot be swapped for a device between check and read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise error(f"The {what} '{printable(path)}' cannot be read ({exc.strerror}).") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(
                f"The {what} '{printable(path)}' is not a regular file (a folder, device or pipe); give the path of a file."
            )
        if st.st_size > cap:
            raise error(
                f"The {what} '{printable(path)}' is larger ({st.st_size:,} bytes) than any fieldscribe writes; refused."
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def keygen(out: Path) -> tuple[Path, str]:
    """An analysis-team key pair: OUT holds the secret identity, OUT.pub the recipient.

    The secret is created with O_CREAT|O_EXCL and mode 0600 in one step, so it is never
    readable by others, not even for a moment, and never replaces an existing file. A path
    that cannot hold a file (a folder, /proc, a read-only place) is one sentence, and a
    failure part-way leaves neither file behind."""
    from pyrage import x25519

    pub = out.with_name(out.name + ".pub")
    for path in (out, pub):
        if os.path.lexists(path):
            raise InvalidInput(
                f"{printable(path)} already exists; choose a new path (an identity is never overwritten)."
            )
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    made: list[Path] = []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(out, flags, 0o600)
        made.append(out)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"# created: {now_iso()}\n# public key: {recipient}\n{identity}\n")
            f.flush()
            os.fsync(f.fileno())
        fd = os.open(pub, flags, 0o644)
        made.append(pub)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(recipient + "\n")
    except OSError as exc:
        for path in made:
            with contextlib.suppress(OSError):  # best effort: the sentence below is what matters
                path.unlink()
        raise InvalidInput(
            f"The identity cannot be written to {printable(out)} ({exc.strerror or exc}); choose a "
            "file path in a folder you can write to."
        ) from None
    return out, recipient


def parse_recipients(text: str, *, where: str = "the study file or --recipient") -> list[str]:
    """The age recipients (age1…) in TEXT, one a line, '#' comments and blank lines skipped,
    each checked and returned in its canonical form. Touches no file: a stored or typed value
    is read as text only. An empty result is the caller's to refuse (or not)."""
    from pyrage import RecipientError, x25519

    out: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line and not line.startswith("#"):
            try:
                out.append(str(x25519.Recipient.from_str(line)))
            except RecipientError:
                raise InvalidInput(f"{printable(line[:20])}… is not an age recipient (age1…); check {where}.") from None
    return out


def names_a_file(value: str | Path) -> bool:
    """Whether VALUE is the path of a file here. A value too long or odd to be a path (a pasted
    key, 100 000 characters of garbage) is simply not one: the OS's ENAMETOOLONG is no crash."""
    try:
        return Path(value).expanduser().is_file()
    except (OSError, ValueError):
        return False


def read_recipients(values: list[str], *, files: bool = True) -> list[Any]:  # pyrage recipients (untyped)
    """Each value an age1… key or (when FILES) the path of a file holding such keys (a .pub
    file). Keys kept in the vault are read with FILES off: text only, whatever lies on disk."""
    from pyrage import x25519

    out = []
    for value in values:
        text = value
        if files and names_a_file(value):
            text = read_recipient_file(Path(value))
        out += [x25519.Recipient.from_str(r) for r in parse_recipients(text)]
    if not out:
        raise NoRecipient()
    return out


def read_recipient_file(path: Path) -> str:
    """The text of a recipient file (a .pub file from `bundle keygen`), read as a bounded
    regular file."""
    f, _size = open_regular(path, MAX_IDENTITY, InvalidInput, "recipient file")
    try:
        with f:
            return f.read(MAX_IDENTITY).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise InvalidInput(
            f"The recipient file {printable(path)} cannot be read as text; give the "
            "analysis team's age1… key or a file holding it."
        ) from None


def identity_secret(path: Path) -> str:
    """The AGE-SECRET-KEY line of the identity file PATH, read like a bundle: a regular file
    of bounded size, so `--identity /dev/zero` is a sentence rather than a hang."""
    f, _size = open_regular(path, MAX_IDENTITY, InvalidInput, "identity file")
    try:
        with f:
            text = f.read(MAX_IDENTITY).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidInput(f"The identity file {printable(path)} cannot be read ({why}).") from None
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("AGE-SECRET-KEY-"):
            return line
    raise InvalidInput(f"{printable(path)} holds no age identity (AGE-SECRET-KEY-…).")


def read_identity(path: Path) -> Any:  # a pyrage identity (untyped)
    """The team's age identity in PATH, ready to decrypt with."""
    from pyrage import IdentityError, x25519

    try:
        return x25519.Identity.from_str(identity_secret(path))
    except IdentityError:
        raise InvalidInput(f"{printable(path)} holds a damaged age identity; check the file.") from None


def device_key(vault: Vault) -> Ed25519PrivateKey:
    """This laptop's signing key, made on first export, sealed in the vault."""
    row = vault.db.execute("SELECT sealed FROM study_records WHERE name = 'device_signing_key'").fetchone()
    if row:
        raw = bytes.fromhex(vault.open_json(vault.study_key, row[0], "study", "device_signing_key"))
        return Ed25519PrivateKey.from_private_bytes(raw)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    ledger.check_study(vault)
    with vault.db.atomic():
        vault.db.table("study_records").insert(
            {
                "name": "device_signing_key",
                "updated_at": now_iso(),
                "sealed": vault.seal_json(vault.study_key, raw.hex(), "study", "device_signing_key"),
            }
        )
        ledger.update_study(vault, "export.device_key", "", public_key=public_hex(key))
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
