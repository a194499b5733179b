"""The study store: an SFTP server, a WebDAV share or a folder, behind one small interface.

fsspec does the protocols (sshfs/asyncssh for SFTP, webdav4 for WebDAV, the local
filesystem for mounted shares and USB drives); this module adds what sync needs on top:
uploads under a temporary name renamed only once verified, resuming a partial upload, and
errors that say in one sentence what happened. Host keys are checked against known_hosts
by asyncssh and an unknown or changed key is refused — there is no "accept" path.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from ..errors import HostKeyRejected, InvalidInput, StoreRefused, StoreUnreachable

CHUNK = 1 << 20
SCHEMES = ("sftp", "webdav", "webdavs", "file")

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class StoreAddress:
    scheme: str
    host: str
    port: int | None
    user: str | None
    path: str

    @property
    def display(self) -> str:
        """The address without any password, for messages and the audit log."""
        if self.scheme == "file":
            return f"file://{self.path}"
        who = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{who}{self.host}{port}{self.path}"


def parse_address(url: str) -> StoreAddress:
    parts = urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        raise InvalidInput(
            f"{url!r} is not a store address fieldscribe knows; use sftp://user@host/path, "
            "webdavs://host/path or file:///mounted/folder."
        )
    if parts.password:
        raise InvalidInput("Do not put a password in the store address; give it with --password (it is kept sealed).")
    if parts.scheme == "file":
        if not parts.path.startswith("/"):
            raise InvalidInput(f"{url!r}: a folder store needs an absolute path, e.g. file:///media/usb/study.")
        return StoreAddress("file", "", None, None, unquote(parts.path))
    if not parts.hostname:
        raise InvalidInput(f"{url!r} names no host; e.g. sftp://fieldwork@store.example.ac.uk/studies.")
    return StoreAddress(
        parts.scheme,
        parts.hostname,
        parts.port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.path or "/"),
    )


@dataclass(frozen=True)
class Entry:
    """One name in a store folder, as the store describes it (nothing is opened)."""

    name: str
    kind: str  # "file", "directory", or anything else (a link, a device): never a file we wrote
    size: int | None
    modified: datetime | None  # UTC; None where the store does not say


def _modified(info: dict[str, Any]) -> datetime | None:
    """The modification time in an fsspec info dict: a POSIX time (local), a datetime (sftp, WebDAV)."""
    value = info.get("mtime", info.get("modified"))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


@dataclass(frozen=True)
class Credentials:
    identity_file: str | None = None  # SSH private key (else the agent and ~/.ssh defaults)
    known_hosts: str | None = None  # else ~/.ssh/known_hosts
    password: str | None = None  # WebDAV (or an SSH password, discouraged)


class Store:
    """One connected store; paths are POSIX paths below the store's root folder."""

    def __init__(self, fs: Any, root: str, address: StoreAddress) -> None:
        self.fs = fs  # an fsspec AbstractFileSystem (fsspec ships no types)
        self.root = root.rstrip("/") or "/"
        self.address = address

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    # -- a mounted folder (USB drive, share) is a file system others write to ----------------
    @property
    def is_local(self) -> bool:
        return self.address.scheme == "file"

    def _confine(self, path: str) -> None:
        """On a mounted-folder store, refuse a path whose folder is a link out of the store:
        whoever can write to the share must not steer our writes (or reads) into the
        analyst's or interviewer's own files."""
        if not self.is_local:
            return
        root = os.path.realpath(self.root)
        parent = os.path.realpath(posixpath.dirname(path))
        if parent != root and not parent.startswith(root.rstrip(os.sep) + os.sep):
            raise StoreRefused(
                f"{posixpath.basename(path)!r} on the store lies behind a link that leads out of the "
                "store folder; it was skipped (someone changed the store — tell whoever runs it)."
            )

    def _clear_scratch(self, tmp: str) -> None:
        """Remove whatever is not a regular file under one of our scratch names (.NAME.part):
        a planted link would redirect our write, a FIFO would block it."""
        self._confine(tmp)
        if not self.is_local:
            return
        try:
            info = os.lstat(tmp)
        except FileNotFoundError:
            return
        if stat.S_ISREG(info.st_mode):
            return
        if stat.S_ISDIR(info.st_mode):
            raise StoreRefused(
                f"{posixpath.basename(tmp)!r} on the store is a folder where fieldscribe keeps a "
                "partial upload; remove it and sync again."
            )
        os.unlink(tmp)

    def _open_local(self, path: str, mode: str) -> IO[bytes]:
        """Open a scratch file on a mounted folder without following a link at its name."""
        flags = {
            "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
            "ab": os.O_WRONLY | os.O_APPEND,
            "xb": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
        }[mode]
        return os.fdopen(os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o644), "wb" if mode != "ab" else "ab")

    def _require_regular(self, path: str) -> None:
        if not self.is_local:
            return
        self._confine(path)
        info = os.lstat(path)  # FileNotFoundError passes up, as from the store's own calls
        if not stat.S_ISREG(info.st_mode):
            raise StoreRefused(f"{posixpath.basename(path)!r} on the store is not a regular file; it was skipped.")

    # -- small operations, each translating transport errors into one sentence --------------
    def _call(self, what: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise
        except (StoreUnreachable, HostKeyRejected, StoreRefused, Cancelled):
            raise
        except PermissionError as exc:
            raise StoreRefused(
                f"The store at {self.address.display} refused to {what} (permission denied); "
                "ask whoever runs it to give your account write access."
            ) from exc
        except _transport_errors() as exc:
            raise StoreUnreachable(
                f"The connection to {self.address.display} failed while trying to {what} ({_reason(exc)}); "
                "nothing is lost — run sync again when the link is back and it resumes."
            ) from exc

    def exists(self, path: str) -> bool:
        return bool(self._call("look for a file", self.fs.exists, path))

    def size(self, path: str) -> int | None:
        try:
            return int(self._call("read a file's size", self.fs.size, path))
        except FileNotFoundError:
            return None

    def makedirs(self, path: str) -> None:
        self._call("create a folder", self.fs.makedirs, path, exist_ok=True)

    def listdir(self, path: str) -> list[str]:
        try:
            entries = self._call("list a folder", self.fs.ls, path, detail=False)
        except FileNotFoundError:
            return []
        return sorted(posixpath.basename(str(e).rstrip("/")) for e in entries)

    def entries(self, path: str) -> list[Entry]:
        """The folder's names with kind, size and modification time, in one listing (one round
        trip over SFTP); a folder that is not there is empty."""
        try:
            infos = self._call("list a folder", self.fs.ls, path, detail=True)
        except FileNotFoundError:
            return []
        out = []
        for info in infos:
            size = info.get("size")
            out.append(
                Entry(
                    posixpath.basename(str(info.get("name", "")).rstrip("/")),
                    str(info.get("type", "")),
                    size if isinstance(size, int) else None,
                    _modified(info),
                )
            )
        return sorted(out, key=lambda e: e.name)

    def _regular(self, path: str, limit: int) -> int:
        """The size of PATH if it is a regular file of at most LIMIT bytes; anyone who can
        write to the store chooses what lies there (a folder, a FIFO, a sparse 3 GiB file)."""
        self._require_regular(path)
        info = self._call("look at a file", self.fs.info, path)
        kind, size = info.get("type"), info.get("size")
        if kind != "file" or not isinstance(size, int):
            raise StoreRefused(f"{posixpath.basename(path)!r} on the store is not a regular file; it was skipped.")
        if size > limit:
            raise StoreRefused(
                f"{posixpath.basename(path)!r} on the store is {size:,} bytes, more than such a file can "
                f"be ({limit:,}); it was skipped."
            )
        return size

    def read(self, path: str, limit: int) -> bytes:
        """A small file (receipt, notice), refused unless it is a regular file of at most LIMIT bytes."""
        self._regular(path, limit)

        def run() -> bytes:
            with self.fs.open(path, "rb") as f:
                data: bytes = f.read(limit + 1)
            if len(data) > limit:
                raise StoreRefused(f"{posixpath.basename(path)!r} on the store grew past {limit:,} bytes; skipped.")
            return data

        return self._call("read a file", run)

    def download(self, path: str, local: Path, limit: int) -> None:
        """Copy a bundle to LOCAL in chunks, refused unless it is a regular file of at most LIMIT bytes."""
        self._regular(path, limit)

        def run() -> None:
            done = 0
            with self.fs.open(path, "rb") as src, local.open("wb") as dst:
                while chunk := src.read(1 << 20):
                    done += len(chunk)
                    if done > limit:
                        raise StoreRefused(
                            f"{posixpath.basename(path)!r} on the store grew past {limit:,} bytes; skipped."
                        )
                    dst.write(chunk)

        self._call("download a file", run)

    def remove(self, path: str) -> None:
        try:
            self._call("remove a file", self.fs.rm_file, path)
        except FileNotFoundError:
            return

    def rename(self, src: str, dst: str) -> None:
        self._call("rename a file", self.fs.mv, src, dst)

    def sha256(self, path: str, limit: int | None = None) -> str:
        """SHA-256 of the file as the store holds it (or of its first `limit` bytes)."""
        self._require_regular(path)

        def run() -> str:
            with self.fs.open(path, "rb") as f:
                return _sha_of(f, limit)

        return self._call("read a file back", run)

    def write_atomic(self, path: str, data: bytes) -> None:
        """Small files (receipts): written under a temporary name, then renamed."""
        tmp = posixpath.join(posixpath.dirname(path), f".{posixpath.basename(path)}.part")

        def run() -> None:
            if self.is_local:
                with suppress(FileNotFoundError):
                    os.unlink(tmp)  # a regular leftover of ours; anything else was cleared
                with self._open_local(tmp, "xb") as f:
                    f.write(data)
                return
            with self.fs.open(tmp, "wb") as f:
                f.write(data)

        self.makedirs(posixpath.dirname(path))
        self._clear_scratch(tmp)
        self._call("write a file", run)
        self.rename(tmp, path)

    @property
    def can_append(self) -> bool:
        return self.address.scheme in ("sftp", "file")

    def upload(
        self,
        local: Path,
        final: str,
        *,
        on_bytes: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        sha256: str | None = None,
    ) -> int:
        """Copy `local` to `final` through `.NAME.part`, resuming a partial upload whose bytes
        match ours; verify size and SHA-256 as stored; rename. Returns the bytes sent."""
        folder, name = posixpath.split(final)
        tmp = posixpath.join(folder, f".{name}.part")
        total = local.stat().st_size
        sha256 = sha256 or local_sha(local)
        self.makedirs(folder)
        self._clear_scratch(tmp)
        start = self.size(tmp) if self.can_append else None
        if start is not None and (start > total or self.sha256(tmp, start) != local_sha(local, start)):
            self.remove(tmp)  # not a prefix of this bundle: start over
            start = None
        if start is None:
            start = 0
            mode = "wb"
        else:
            mode = "ab"
        if on_bytes and start:
            on_bytes(start)
        sent = 0

        def run() -> None:
            nonlocal sent
            opened = self._open_local(tmp, mode) if self.is_local else self.fs.open(tmp, mode)
            with open(local, "rb") as src, opened as dst:
                src.seek(start)
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled()
                    block = src.read(CHUNK)
                    if not block:
                        break
                    dst.write(block)
                    sent += len(block)
                    if on_bytes:
                        on_bytes(len(block))

        def stream() -> None:
            # WebDAV: one streamed PUT (no append), so progress and cancel act on what is sent
            nonlocal sent
            with open(local, "rb") as src:
                outer = self

                class Reader:
                    def read(self, n: int = -1) -> bytes:
                        nonlocal sent
                        if cancel is not None and cancel.is_set():
                            raise Cancelled()
                        block = src.read(CHUNK if n is None or n < 0 else min(n, CHUNK))
                        sent += len(block)
                        if on_bytes and block:
                            on_bytes(len(block))
                        return block

                outer.fs.upload_fileobj(Reader(), tmp, overwrite=True, size=total)

        self._call(f"upload {name}", stream if hasattr(self.fs, "upload_fileobj") and not self.can_append else run)
        if self.size(tmp) != total or self.sha256(tmp) != sha256:
            self.remove(tmp)
            raise StoreRefused(
                f"{name} arrived damaged at {self.address.display} (its size or SHA-256 differs); "
                "it was removed there — run sync again to upload it afresh."
            )
        self.rename(tmp, final)
        return sent

    def close(self) -> None:
        stack = getattr(self.fs, "_stack", None)
        if stack is not None:  # sshfs: end the SSH connection now, not at garbage collection
            from fsspec.asyn import sync

            # a connection that already dropped has nothing left to close
            with suppress(OSError, ConnectionError, TimeoutError):
                sync(self.fs.loop, stack.aclose, timeout=5)


class Cancelled(Exception):
    """The user asked sync to stop; what was sent stays as a resumable .part file."""


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a dropped or refused link raises, per transport (a bug still raises as itself)."""
    import asyncssh
    import httpx
    from webdav4.client import ClientError

    return (OSError, TimeoutError, EOFError, asyncssh.Error, httpx.HTTPError, ClientError)


def _sha_of(f: IO[bytes], limit: int | None = None) -> str:
    """SHA-256 of an open binary file, or of its first `limit` bytes."""
    h = hashlib.sha256()
    left = limit
    while left is None or left > 0:
        block = f.read(CHUNK if left is None else min(CHUNK, left))
        if not block:
            break
        h.update(block)
        if left is not None:
            left -= len(block)
    return h.hexdigest()


def local_sha(path: Path, limit: int | None = None) -> str:
    with open(path, "rb") as f:
        return _sha_of(f, limit)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]


def connect(url: str, creds: Credentials | None = None, *, timeout: float = 5.0) -> Store:
    """Connect to the store at `url`; fail within about `timeout` seconds when offline."""
    creds = creds or Credentials()
    address = parse_address(url)
    if address.scheme == "file":
        from fsspec.implementations.local import LocalFileSystem

        root = Path(address.path)
        if not root.is_dir():
            raise StoreUnreachable(
                f"The store folder {root} is not there (is the drive or share mounted?); mount it and run sync again."
            )
        return Store(LocalFileSystem(), str(root), address)
    if address.scheme == "sftp":
        return Store(_sftp(address, creds, timeout), address.path, address)
    return Store(_webdav(address, creds, timeout), address.path, address)


def _sftp(address: StoreAddress, creds: Credentials, timeout: float) -> Any:  # an sshfs.SSHFileSystem (untyped)
    import asyncssh
    from sshfs import SSHFileSystem

    options: dict[str, object] = {"port": address.port or 22, "connect_timeout": timeout, "skip_instance_cache": True}
    if address.user:
        options["username"] = address.user
    known = creds.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
    if not os.path.exists(known):
        raise HostKeyRejected(
            f"There is no known_hosts file ({known}) to check {address.host}'s identity against; get the store's "
            "host key from whoever runs it and give it with --known-hosts (fieldscribe never trusts an unknown key)."
        )
    options["known_hosts"] = known
    if creds.identity_file:
        if not os.path.exists(creds.identity_file):
            raise InvalidInput(f"The SSH key {creds.identity_file} does not exist; check --identity-file.")
        options["client_keys"] = [creds.identity_file]
    if creds.password:
        options["password"] = creds.password
    try:
        return SSHFileSystem(address.host, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise HostKeyRejected(
            f"The host key of {address.host} is not the one in {known}: it changed, or someone is intercepting the "
            "connection. Nothing was sent. Check the key's fingerprint with whoever runs the store before changing "
            "known_hosts."
        ) from exc
    except (asyncssh.PermissionDenied, PermissionError) as exc:  # sshfs hands the refusal on as PermissionError
        raise StoreRefused(
            f"{address.display} refused the login ({_reason(exc)}); check the user name and --identity-file."
        ) from exc
    except (OSError, asyncssh.Error, TimeoutError) as exc:
        raise StoreUnreachable(
            f"The study store {address.display} cannot be reached ({_reason(exc)}); fieldwork "
            "is unaffected — run sync again when the laptop is online."
        ) from exc


def _webdav(address: StoreAddress, creds: Credentials, timeout: float) -> Any:  # a webdav4 WebdavFileSystem (untyped)
    import httpx
    from webdav4.client import HTTPError as DavHTTPError
    from webdav4.fsspec import WebdavFileSystem

    scheme = "https" if address.scheme == "webdavs" else "http"
    if scheme == "http" and creds.password and address.host not in ("127.0.0.1", "localhost", "::1"):
        raise InvalidInput(f"webdav:// would send the password unencrypted to {address.host}; use webdavs://.")
    port = f":{address.port}" if address.port else ""
    base = f"{scheme}://{address.host}{port}"
    auth = (address.user, creds.password or "") if address.user else None
    fs = WebdavFileSystem(base, auth=auth, timeout=timeout)
    try:
        fs.ls(address.path or "/", detail=False)
    except (httpx.HTTPStatusError, DavHTTPError) as exc:
        if exc.response.status_code in (401, 403):
            raise StoreRefused(f"{address.display} refused the login; check the user name and password.") from exc
        raise StoreUnreachable(
            f"The study store {address.display} answered with an error ({_reason(exc)}); run sync again later."
        ) from exc
    except FileNotFoundError as exc:
        raise StoreRefused(f"The folder {address.path} does not exist on {address.host}; check the address.") from exc
    except (httpx.HTTPError, OSError) as exc:
        raise StoreUnreachable(
            f"The study store {address.display} cannot be reached ({_reason(exc)}); fieldwork "
            "is unaffected — run sync again when the laptop is online."
        ) from exc
    return fs
