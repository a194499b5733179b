"""Bundles: a tar of the export files plus a manifest (per-file SHA-256, study, guide
versions, counts of what was redacted — never the originals), signed with this device's
Ed25519 key and encrypted with age (pyrage) to the analysis team's recipients.

age is a documented, standard format: the team can open a bundle with the `age` tool or
with `fieldscribe bundle open`. The field laptop holds only the public recipients, so it
cannot read back what it exported. Opening refuses anything a hostile or damaged archive
could use against the analyst's machine: absolute or parent paths, duplicates, links,
devices and sparse members, sizes other than the manifest's, files the signed manifest does
not list, and manifests of the wrong shape. It reads as a stream with every size bounded,
verifies the manifest's signature before any other entry, and unpacks all or nothing.
The keys around a bundle (the team's age key pair, the laptop's signing key) are in keys.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import queue
import re
import shutil
import stat
import tarfile
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ..audit import now_iso
from ..errors import FieldscribeError, InvalidInput
from ..sanitise import is_hidden, printable
from .keys import open_regular, public_hex, read_identity

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_ENTRY = 4 * 1024**3
FORMAT = "fieldscribe-bundle/1"


class BundleRefused(FieldscribeError):
    pass


# -- writing -----------------------------------------------------------------------------------------
def write_bundle(
    files: dict[str, bytes], manifest_extra: dict[str, Any], signer: Ed25519PrivateKey, recipients: list[Any], out: Path
) -> str:
    """Write the sealed bundle; return the SHA-256 of its manifest, which only someone who
    can decrypt the bundle can learn (receipts prove receipt with it)."""
    import pyrage

    manifest = {
        "format": FORMAT,
        "created_at": now_iso(),
        "device_public_key": public_hex(signer),
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in files.items()
        },
        **manifest_extra,
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
    signature = signer.sign(manifest_bytes)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [(MANIFEST, manifest_bytes), (SIGNATURE, signature), *sorted(files.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    sealed = pyrage.encrypt(buf.getvalue(), recipients)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(sealed)
    partial.replace(out)
    return hashlib.sha256(manifest_bytes).hexdigest()


# -- opening -----------------------------------------------------------------------------------------
# Everything below treats the bundle as hostile until its manifest is verified, and the
# manifest as hostile even then: a signature only says *some* key signed (device keys are
# pinned by the caller), so every field is type-checked before anything reads it.
MAX_BUNDLE = 8 * 1024**3  # far above any export; refused before a byte is read
MAX_MANIFEST = 4 * 1024**2  # ~20,000 files; parsing it stays under ~100 MB even when hostile
MAX_SIGNATURE = 4096  # an Ed25519 signature is 64 bytes
CHUNK = 1024**2
HEADER_SLACK = 64 * 1024  # per member: header, a PAX header for a long name, padding, read-ahead
TAIL_SLACK = 1024**2  # tar's end-of-archive blocks and record padding (≤ 10 KiB when we write it)
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass
class Opened:
    manifest: dict[str, Any]
    files: dict[str, bytes]
    manifest_sha256: str = ""
    manifest_bytes: bytes = b""  # exactly what was signed, so the unpacked copy can be re-verified


def _q(text: object) -> str:
    """A name from a bundle quoted for a message: control characters shown, never sent raw."""
    return f"'{printable(text)}'"


class _Limited:
    """At most LEFT bytes of a file: what fstat promised, however much the file grows."""

    def __init__(self, f: BinaryIO, left: int) -> None:
        self._f, self._left = f, left

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n else b""
        self._left -= len(data)
        return data


class _Stopped(Exception):
    """Raised inside the decrypting thread's write() once the reader has given up."""


class _Decrypting:
    """Age decryption on a worker thread, handed to tarfile through a small bounded queue.

    pyrage.decrypt_io streams (it reads and writes 8 KiB at a time and age authenticates
    every 64 KiB chunk), but it pushes plaintext while tarfile pulls it; the queue joins the
    two and holds at most a few hundred KiB. The reader side counts what it hands over against
    ``limit``, which the caller raises only as far as the verified manifest allows, so a
    hostile header (a PAX record or GNU long name claiming gigabytes) cannot make tarfile
    buffer more than that."""

    def __init__(self, source: _Limited, identity: object, label: str) -> None:
        self.error: Exception | None = None
        self.limit = 0
        self.consumed = 0
        self._label = label
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._stop = threading.Event()
        self._buffer = b""
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(source, identity), name="bundle-decrypt", daemon=True)
        self._thread.start()

    # the worker's side
    def _run(self, source: _Limited, identity: object) -> None:
        import pyrage

        try:
            pyrage.decrypt_io(source, self, [identity])
        except _Stopped:
            pass  # the reader refused the bundle and asked us to stop: not an error of ours
        except Exception as exc:  # noqa: BLE001 - recorded and reported as undecryptable, never dropped:
            # pyrage.DecryptError for a bad header, OSError for a bad chunk tag or a read error,
            # and whatever else the library raises must not escape as a thread traceback
            self.error = exc
        finally:
            with contextlib.suppress(_Stopped):  # nobody reads any more, so nobody needs the end marker
                self._put(None)

    def _put(self, item: bytes | None) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def write(self, data: bytes) -> int:
        self._put(bytes(data))
        return len(data)

    def flush(self) -> None:
        """pyrage may flush its writer; the queue has nothing to flush."""

    # tarfile's side
    def read(self, n: int = -1) -> bytes:
        out = bytearray()
        while n < 0 or len(out) < n:
            if not self._buffer:
                if self._ended:
                    break
                item = self._queue.get()
                if item is None:
                    self._ended = True
                    break
                self._buffer = item
            take = len(self._buffer) if n < 0 else min(n - len(out), len(self._buffer))
            out += self._buffer[:take]
            self._buffer = self._buffer[take:]
            self.consumed += take
            if self.consumed > self.limit:
                raise BundleRefused(f"{self._label} holds more data than its manifest accounts for; refused.")
        return bytes(out)

    def finish(self) -> None:
        """Read what follows the archive (tar padding) so that age authenticates the last
        chunk too, then wait for the worker; its error, if any, is left in ``error``."""
        self.limit = self.consumed + TAIL_SLACK
        while self.read(CHUNK):
            pass
        self._thread.join()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def open_bundle(path: Path, identity_path: Path, trusted_devices: set[str] | None = None) -> Opened:
    """Decrypt, verify and read a bundle, refusing anything a hostile archive could use.

    Order matters: the input must be a regular file of bounded size; the tar is read as a
    stream; its first two members must be the manifest and its signature (small, capped), and
    the signature is verified and the manifest's structure checked before any other member is
    looked at. Every later member must be a regular file the manifest lists, with exactly the
    listed size (refused before its data is read), read in bounded chunks and hashed. Nothing
    is written anywhere; :func:`extract` does that."""
    label = printable(path.name)
    identity = read_identity(identity_path)
    source, size = open_regular(path, MAX_BUNDLE, BundleRefused, "bundle")
    with source:
        stream = _Decrypting(_Limited(source, size), identity, label)
        try:
            opened = _read_archive(stream, label, trusted_devices)
            stream.finish()
            if stream.error is not None:
                raise _undecryptable(label)
            return opened
        except (BundleRefused, tarfile.TarError, UnicodeError) as exc:
            stream.stop()
            if stream.error is not None:  # the archive looked short or odd because age stopped
                raise _undecryptable(label) from None
            if isinstance(exc, BundleRefused):
                raise
            raise BundleRefused(f"{label} is not a valid bundle archive ({printable(exc)}).") from None
        finally:
            stream.stop()


def _undecryptable(label: str) -> BundleRefused:
    return BundleRefused(
        f"{label} could not be decrypted: it is damaged or truncated, or it was not encrypted to this "
        "identity; check you are using the analysis team's key."
    )


def _read_archive(stream: _Decrypting, label: str, trusted_devices: set[str] | None) -> Opened:
    stream.limit = 3 * HEADER_SLACK + MAX_MANIFEST + MAX_SIGNATURE
    # stream mode only reads: typeshed asks every fileobj for tell/seek/close, which _Decrypting has no use for
    with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
        manifest_bytes = _read_leading(tar, MANIFEST, MAX_MANIFEST, label)
        signature = _read_leading(tar, SIGNATURE, MAX_SIGNATURE, label)
        manifest = _verified_manifest(manifest_bytes, signature, label, trusted_devices)
        listed: dict[str, dict[str, Any]] = manifest["files"]
        # from here on, the archive may hold what the manifest lists and a little framing
        stream.limit = stream.consumed + sum(m["size"] for m in listed.values()) + (len(listed) + 1) * HEADER_SLACK
        files: dict[str, bytes] = {}
        seen = {MANIFEST, SIGNATURE}
        unlisted: list[str] = []
        while (member := tar.next()) is not None:
            name = _safe_name(member.name)
            _require_regular(member, label)
            if name in seen:
                raise BundleRefused(f"{label} contains {_q(name)} twice; refused.")
            seen.add(name)
            meta = listed.get(name)
            if meta is None:  # not read; named with the others once the archive has been walked
                unlisted.append(name)
                continue
            if member.size != meta["size"]:
                raise BundleRefused(
                    f"{_q(name)} in {label} is {member.size:,} bytes but its manifest says {meta['size']:,}; refused."
                )
            digest = hashlib.sha256()
            files[name] = read_member(tar, member, label, digest)
            if digest.hexdigest() != meta["sha256"]:
                raise BundleRefused(f"{_q(name)} in {label} does not match its manifest hash; refused.")
        missing = sorted(set(listed) - set(files))
        if unlisted or missing:
            raise BundleRefused(
                f"{label} does not match its manifest (unlisted: {_names(unlisted)}; "
                f"missing: {_names(missing)}); refused."
            )
    return Opened(manifest, files, hashlib.sha256(manifest_bytes).hexdigest(), manifest_bytes)


def _names(names: list[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(_q(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _require_regular(member: tarfile.TarInfo, label: str) -> None:
    """Only plain files: no links, folders, devices, FIFOs, contiguous or sparse files. A
    sparse member's holes would be filled with zeros on reading, which is how a 10 KB bundle
    could ask for gigabytes."""
    sparse = member.issparse() or any(k.startswith("GNU.sparse") for k in member.pax_headers)
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE) or sparse:
        raise BundleRefused(f"{label} contains {_q(member.name)}, which is not a regular file; refused.")


def _read_leading(tar: tarfile.TarFile, expected: str, cap: int, label: str) -> bytes:
    member = tar.next()
    if member is None or member.name != expected:
        raise BundleRefused(
            f"{label} does not begin with a signed manifest ({expected} is not where it belongs); refused."
        )
    _require_regular(member, label)
    if member.size > cap:
        raise BundleRefused(
            f"The {expected} of {label} is larger ({member.size:,} bytes) than any fieldscribe writes; refused."
        )
    return read_member(tar, member, label, None)


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, label: str, digest: _Digest | None) -> bytes:
    reader = tar.extractfile(member)
    if reader is None:
        raise BundleRefused(f"{label} contains {_q(member.name)}, which is not a regular file; refused.")
    parts: list[bytes] = []
    left = member.size
    while left:
        chunk = reader.read(min(CHUNK, left))
        if not chunk:
            raise BundleRefused(f"{_q(member.name)} in {label} ends early; the bundle is truncated. Refused.")
        if digest is not None:
            digest.update(chunk)
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """Duplicate keys would let two readers of one manifest see two different file lists."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a key appears twice")
    return out


def _verified_manifest(
    manifest_bytes: bytes, signature: bytes, label: str, trusted_devices: set[str] | None
) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_bytes, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BundleRefused(f"The manifest of {label} is not valid JSON; refused.") from None
    if not isinstance(manifest, dict):
        raise BundleRefused(f"The manifest of {label} is malformed (not a mapping); refused.")
    key_hex = manifest.get("device_public_key")
    if not (isinstance(key_hex, str) and _HEX64.fullmatch(key_hex)):
        raise BundleRefused(f"The manifest of {label} names no device key; refused.")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(signature, manifest_bytes)
    except (InvalidSignature, ValueError):
        raise BundleRefused(
            f"The manifest of {label} is not validly signed; the bundle was altered. Refused."
        ) from None
    if trusted_devices is not None and key_hex not in trusted_devices:
        raise BundleRefused(f"{label} was signed by an unknown device ({key_hex[:16]}…).")
    validate_manifest(manifest, label)
    return manifest


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_ident(value: object) -> bool:
    """Identifiers (study, device, session, participant) are machine-made: no control or
    invisible characters, which could hide one identifier behind another."""
    return isinstance(value, str) and 0 < len(value) <= 256 and not any(is_hidden(c) for c in value)


def validate_manifest(manifest: object, label: str = "the bundle") -> None:
    """Check the type of every field fieldscribe reads from a manifest (``bundle open``'s
    summary, ``bundle pull``'s study and device check, :func:`extract`'s file names), so a
    hostile manifest is refused in one sentence instead of failing somewhere later, perhaps
    after files were written. A valid signature proves nothing here: anyone can sign with a
    key of their own. Fields nothing reads are left alone."""

    def bad(problem: str) -> BundleRefused:
        return BundleRefused(f"The manifest of {label} is malformed ({problem}); refused.")

    if not isinstance(manifest, dict):
        raise bad("not a mapping")
    if manifest.get("format") != FORMAT:
        raise bad(f"its format is not {FORMAT}")
    if not (isinstance(manifest.get("device_public_key"), str) and _HEX64.fullmatch(manifest["device_public_key"])):
        raise bad("device_public_key must be 64 hex digits")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise bad("files must map each name to its sha256 and size")
    for name, meta in files.items():
        if not (
            isinstance(meta, dict)
            and isinstance(meta.get("sha256"), str)
            and _HEX64.fullmatch(meta["sha256"])
            and _is_count(meta.get("size"))
            and meta["size"] <= MAX_ENTRY
        ):
            raise bad(f"file {_q(name)} needs a sha256 of 64 hex digits and a size of 0 to 4 GiB")
    if sum(meta["size"] for meta in files.values()) > MAX_BUNDLE:
        raise bad("its files add up to more than 8 GiB")
    check_layout(files)
    study = manifest.get("study")
    if not (isinstance(study, dict) and isinstance(study.get("title"), str)):
        raise bad("study must be a mapping with a title")
    if not _is_ident(study.get("id")):
        raise bad("the study needs a plain identifier as its id")
    if study.get("ethics_reference") is not None and not isinstance(study["ethics_reference"], str):
        raise bad("the ethics reference must be text")
    sessions = manifest.get("sessions")
    if not isinstance(sessions, list):
        raise bad("sessions must be a list")
    for s in sessions:
        if not (isinstance(s, dict) and _is_ident(s.get("id"))):
            raise bad("each session needs a plain identifier as its id")
        if "wave" in s and not _is_count(s["wave"]):
            raise bad(f"the wave of session {_q(s['id'])} must be a whole number")
        if "guide_version" in s and not isinstance(s["guide_version"], str):
            raise bad(f"the guide version of session {_q(s['id'])} must be text")
        if "participants" in s and not (
            isinstance(s["participants"], list) and all(_is_ident(p) for p in s["participants"])
        ):
            raise bad(f"the participants of session {_q(s['id'])} must be a list of identifiers")
    if not _is_ident(manifest.get("device_id")):
        raise bad("device_id must be a plain identifier")
    for field in ("created_at", "fieldscribe_version"):
        if field in manifest and not isinstance(manifest[field], str):
            raise bad(f"{field} must be text")
    redactions = manifest.get("redactions", {})
    if not (isinstance(redactions, dict) and all(_is_count(v) for v in redactions.values())):
        raise bad("redactions must map each kind to a count")
    if not isinstance(manifest.get("audio_included", False), bool):
        raise bad("audio_included must be true or false")


def _safe_name(name: str) -> str:
    """A member or manifest name as a relative POSIX path that stays inside the output
    folder and shows what it is: no absolute or parent paths, no backslashes (a separator on
    Windows), no control or invisible characters."""
    p = PurePosixPath(name)
    if (
        p.is_absolute()
        or ".." in p.parts
        or name.startswith(("/", "\\"))
        or "\\" in name
        or not p.parts
        or any(is_hidden(c) for c in name)
    ):
        raise BundleRefused(f"The bundle contains an unsafe path {_q(name)}; refused.")
    return str(p)


def check_layout(names: Iterable[str]) -> None:
    """Refuse a set of file names that cannot all be written side by side, before anything is
    written: non-canonical or over-long names, a name that is both a file and a folder
    ("a" and "a/b"), names that differ only in case or Unicode normalisation (one file on
    macOS and Windows), and names taken by the manifest itself."""
    folded: dict[str, str] = {}
    for reserved in (MANIFEST, SIGNATURE):
        folded[reserved.casefold()] = reserved
    for name in names:
        if not isinstance(name, str) or _safe_name(name) != name:
            raise BundleRefused(f"The bundle lists a file name that is not in plain form ({_q(name)}); refused.")
        if len(name) > 1024 or any(len(part.encode("utf-8")) > 255 for part in name.split("/")):
            raise BundleRefused(f"The bundle lists a file name that is too long ({_q(name[:80])}…); refused.")
        key = unicodedata.normalize("NFC", name).casefold()
        if key in folded:
            raise BundleRefused(f"The bundle lists {_q(name)}, which clashes with {_q(folded[key])}; refused.")
        folded[key] = name
    files = set(folded)
    for key, name in folded.items():
        parts = key.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in files:
                raise BundleRefused(
                    f"The bundle lists {_q(folded[prefix])} as a file and as a folder (in {_q(name)}); refused."
                )


def extract(opened: Opened, out: Path) -> list[Path]:
    """Write the files and the manifest into OUT, all or nothing.

    Everything is written into a fresh hidden folder beside OUT (0700, files 0600: this is
    plaintext data about people) and renamed to OUT only when complete, so a failure or a
    crash leaves nothing that looks like an unpacked bundle. OUT must not exist or be an empty
    folder. Names are checked as a set before the first byte is written."""
    check_layout(opened.files)
    label = printable(str(out))
    dest = Path(os.path.abspath(out))
    try:
        st = os.lstat(dest)
        if not stat.S_ISDIR(st.st_mode):  # a file, or a link that the rename would replace
            raise InvalidInput(f"{label} already exists; open the bundle into a new or empty folder.")
        with os.scandir(dest) as entries:
            if next(entries, None) is not None:
                raise InvalidInput(f"{label} already exists; open the bundle into a new or empty folder.")
    except FileNotFoundError:
        pass  # the usual case: a new folder
    except NotADirectoryError:
        raise InvalidInput(f"{label} cannot be made: a part of its path is a file.") from None
    except OSError as exc:
        raise InvalidInput(f"{label} cannot be used as the output folder ({exc.strerror}).") from None
    manifest_bytes = opened.manifest_bytes or json.dumps(opened.manifest, indent=2).encode()
    contents = {**opened.files, MANIFEST: manifest_bytes}
    created: list[Path] = []  # parent folders made here, removed again on failure
    tmp: Path | None = None
    try:
        for parent in reversed(dest.parents):
            if not parent.exists():
                parent.mkdir()
                created.append(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".unpacking", dir=dest.parent))
        for name in sorted(contents):
            target = tmp / name
            for folder in reversed(target.relative_to(tmp).parents[:-1]):
                if not (tmp / folder).is_dir():
                    os.mkdir(tmp / folder, 0o700)
            write_private(target, contents[name])
        os.rename(tmp, dest)  # replaces an empty folder; refused (OSError) if one appeared with files
        tmp = None
    except OSError as exc:
        raise InvalidInput(
            f"The bundle could not be unpacked into {label} ({exc.strerror or exc}); nothing was left behind."
        ) from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            for parent in reversed(created):
                with contextlib.suppress(OSError):  # not empty any more: someone else uses it now
                    parent.rmdir()
    return [out / name for name in sorted(contents)]


def write_private(target: Path, data: bytes) -> None:
    fd = os.open(
        target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600
    )
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
