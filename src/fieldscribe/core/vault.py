"""The encrypted study vault: one folder, one SQLite database, one folder of sealed blobs.

Key hierarchy (see SECURITY.md for the reasoning):

    passphrase --Argon2id--> KEK_p --AES-GCM--> master key <--AES-GCM-- KEK_r <--HKDF-- recovery key
    master key --AES-GCM--> participant data key (one per participant; destroyed on withdrawal)
    participant data key --AES-GCM--> session key (one wrap per participant in the session)
    master key --HKDF--> study key (study-wide sealed records), audit anchor key

A vault is opened *locked* (no key in memory) and unlocked with the passphrase or the
recovery key. Only one process may hold a vault open at a time: an exclusive, non-blocking OS
lock on ``vault.lock`` (``flock`` on POSIX, ``LockFileEx`` on Windows, both through ``filelock``)
keeps a second copy of the app or CLI from interleaving writes. The OS drops it when the holder
dies, however it dies. Who holds it ("pid N on HOST") is written to ``vault.lock.holder``,
because Windows does not let another process read a locked byte range.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlite_utils
from filelock import lock_descriptor, unlock_descriptor

from . import crypto
from .audit import AuditLog, now_iso
from .crypto import AuthenticationFailed, KdfParams
from .errors import (
    FieldscribeError,
    HistoryTampered,
    InvalidInput,
    NotAVault,
    ParticipantWithdrawn,
    RecordTampered,
    UnknownParticipant,
    VaultExists,
    VaultLocked,
    VaultNotFound,
    WrongPassphrase,
    WrongRecoveryKey,
)
from .paths import actor
from .schema import migrate

DB_NAME = "vault.db"
LOCK_NAME = "vault.lock"
HOLDER_NAME = "vault.lock.holder"  # who holds LOCK_NAME, for the refusal message
BLOB_DIR = "blobs"


class _SerialDatabase(sqlite_utils.Database):
    """One connection shared by the owner and its worker threads (live transcription,
    playback): transactions take a re-entrant lock so two threads never interleave
    BEGIN/COMMIT on the same connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.write_lock = threading.RLock()

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        with self.write_lock, super().atomic() as db:
            yield db


class Locked(FieldscribeError):
    def __init__(self) -> None:
        super().__init__("The vault is locked; unlock it with its passphrase first.")


class Vault:
    """An open vault. Use :meth:`create` or :meth:`open`, then :meth:`unlock`."""

    def __init__(self, path: Path, db: sqlite_utils.Database, lock_fd: int) -> None:
        self.path = path
        self.db = db
        self._lock_fd = lock_fd
        self._master: bytes | None = None
        self._key_cache: dict[str, bytes] = {}
        self.audit = AuditLog(db)
        self.vault_id: str = self._meta("vault_id") or ""

    # -- opening and closing ----------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], passphrase: str, kdf: KdfParams | None = None) -> tuple[Vault, str]:
        """Make a new vault; return it unlocked with the recovery key to show the user once."""
        path = Path(path)
        if (path / DB_NAME).exists():
            raise VaultExists(path)
        if not passphrase:
            raise InvalidInput("The passphrase is empty; choose one of several words you can remember.")
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        (path / BLOB_DIR).mkdir(exist_ok=True, mode=0o700)
        vault = cls._connect(path)
        try:
            kdf = kdf or KdfParams()
            vault_id = str(uuid.uuid4())
            master = crypto.random_key()
            recovery = crypto.new_recovery_key()
            with vault.db.atomic():
                vault.db.table("meta").insert_all(
                    [
                        {"key": "vault_id", "value": vault_id},
                        {"key": "created_at", "value": now_iso()},
                        {"key": "device_id", "value": str(uuid.uuid4())},
                    ]
                )
                vault.vault_id = vault_id
                vault._store_passphrase_wrap(master, passphrase, kdf)
                rsalt = crypto.random_salt()
                vault.db.table("keyring").insert(
                    {
                        "name": "recovery",
                        "salt": rsalt,
                        "params": "{}",
                        "wrapped": crypto.seal(
                            crypto.subkey(recovery, "recovery-kek", rsalt), master, vault.aad("keyring", "recovery")
                        ),
                    }
                )
            vault._set_master(master)
            vault.audit.append(actor(), "vault.create", "", schema=vault.schema_version)
        except BaseException:
            vault.close()
            raise
        return vault, crypto.format_recovery_key(recovery)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Vault:
        path = Path(path)
        if not (path / DB_NAME).is_file():
            raise VaultNotFound(path)
        vault = cls._connect(path)
        if not vault.vault_id:
            vault.close()
            raise NotAVault(path, "its database has no vault identity")
        return vault

    @classmethod
    def _connect(cls, path: Path) -> Vault:
        lock_fd = _acquire_lock(path)
        try:
            # Workers (playback, transcription, export) read from their own threads; SQLite is
            # built serialized here, and writers go through db.atomic() one at a time.
            conn = sqlite3.connect(str(path / DB_NAME), timeout=5, check_same_thread=False)
            db = _SerialDatabase(conn)
            # WAL + FULL: a power cut never loses a committed write; secure_delete zeroes
            # freed pages so a destroyed key does not linger in the file.
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("PRAGMA secure_delete = ON")
            db.execute("PRAGMA foreign_keys = ON")
            migrate(db)
        except sqlite3.DatabaseError as exc:
            _release_lock(lock_fd, path)
            raise NotAVault(path, str(exc)) from None
        except BaseException:
            _release_lock(lock_fd, path)
            raise
        os.chmod(path / DB_NAME, 0o600)
        return cls(path, db, lock_fd)

    def close(self) -> None:
        self.lock()
        if self._lock_fd >= 0:
            # A busy checkpoint is harmless: SQLite replays the WAL on the next open.
            with suppress(sqlite3.OperationalError):
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.db.close()
            _release_lock(self._lock_fd, self.path)
            self._lock_fd = -1

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- keys ---------------------------------------------------------------------------------
    @property
    def unlocked(self) -> bool:
        return self._master is not None

    def unlock(self, passphrase: str) -> None:
        """Unwrap the master key. The Argon2id cost is stored beside the wrap so that it can
        be raised later; it is bounded before use (an edited cost must not hang or exhaust
        the laptop) and bound into the wrap's associated data (so a lowered cost does not
        open either)."""
        row = self._keyring_row("passphrase")
        params = KdfParams.from_json(row["params"])
        kek = crypto.passphrase_key(passphrase, row["salt"], params)
        try:
            master = crypto.open_sealed(kek, row["wrapped"], self._passphrase_aad(params))
        except AuthenticationFailed:
            master = None
        if master is None:
            try:  # wrapped by a release that did not bind the cost: accept once, then rebind
                master = crypto.open_sealed(kek, row["wrapped"], self.aad("keyring", "passphrase"))
            except AuthenticationFailed:
                self.audit.append(actor(), "vault.unlock_failed", "", method="passphrase")
                raise WrongPassphrase() from None
            with self.db.atomic():
                self.db.execute(
                    "UPDATE keyring SET wrapped = ? WHERE name = 'passphrase'",
                    (crypto.seal(kek, master, self._passphrase_aad(params)),),
                )
        self._set_master(master)

    def _keyring_row(self, name: str) -> dict[str, Any]:
        row = self.db.execute("SELECT salt, params, wrapped FROM keyring WHERE name = ?", (name,)).fetchone()
        if row is None or not isinstance(row[0], bytes) or not isinstance(row[2], bytes):
            raise RecordTampered(f"{name} key wrap")
        return {"salt": row[0], "params": row[1], "wrapped": row[2]}

    def _passphrase_aad(self, params: KdfParams) -> bytes:
        return self.aad("keyring", "passphrase", json.dumps(params.to_dict(), sort_keys=True, separators=(",", ":")))

    def unlock_with_recovery_key(self, recovery_key: str) -> None:
        raw = crypto.parse_recovery_key(recovery_key)
        row = self._keyring_row("recovery")
        master = None
        if raw is not None:
            try:
                master = crypto.open_sealed(
                    crypto.subkey(raw, "recovery-kek", row["salt"]), row["wrapped"], self.aad("keyring", "recovery")
                )
            except AuthenticationFailed:
                master = None
        if master is None:
            self.audit.append(actor(), "vault.unlock_failed", "", method="recovery-key")
            raise WrongRecoveryKey()
        self._set_master(master)

    def change_passphrase(self, new_passphrase: str, kdf: KdfParams | None = None) -> None:
        master = self._require_master()
        if not new_passphrase:
            raise InvalidInput("The new passphrase is empty; nothing was changed.")
        with self.db.atomic():
            self._store_passphrase_wrap(master, new_passphrase, kdf or KdfParams())
            self.audit.append(actor(), "vault.passphrase_changed")
        # at commit, not at close: the superseded wrap must not survive in the main file
        # while the new one waits in the WAL (a crash now would leave both on disk)
        self.shred_residue()

    def lock(self) -> None:
        """Forget every key held in memory (auto-lock, close)."""
        self._master = None
        self._key_cache.clear()
        self.audit.set_anchor_key(None)

    def _store_passphrase_wrap(self, master: bytes, passphrase: str, kdf: KdfParams) -> None:
        salt = crypto.random_salt()
        kek = crypto.passphrase_key(passphrase, salt, kdf)
        self.db.table("keyring").upsert(
            {
                "name": "passphrase",
                "salt": salt,
                "params": json.dumps(kdf.to_dict()),
                "wrapped": crypto.seal(kek, master, self._passphrase_aad(kdf)),
            },
            pk="name",
        )

    def _set_master(self, master: bytes) -> None:
        self._master = master
        self.audit.set_anchor_key(crypto.subkey(master, "audit-anchor"))

    def _require_master(self) -> bytes:
        if self._master is None:
            raise Locked()
        return self._master

    @property
    def study_key(self) -> bytes:
        return self._cached("study", lambda: crypto.subkey(self._require_master(), "study-records"))

    def new_participant_key(self, participant_id: str) -> bytes:
        key = crypto.random_key()
        self.db.table("participant_keys").insert(
            {
                "participant_id": participant_id,
                "wrapped": crypto.seal(self._require_master(), key, self.aad("participant-key", participant_id)),
            }
        )
        self._key_cache[f"p:{participant_id}"] = key
        return key

    def participant_key(self, participant_id: str) -> bytes:
        def load() -> bytes:
            row = self.db.execute(
                "SELECT wrapped FROM participant_keys WHERE participant_id = ?", (participant_id,)
            ).fetchone()
            if row is None:
                status = self.db.execute("SELECT status FROM participants WHERE id = ?", (participant_id,)).fetchone()
                if status is None:
                    raise UnknownParticipant(participant_id)
                if status[0] != "withdrawn":  # a key deleted on disk is not a withdrawal
                    raise HistoryTampered(
                        f"participant/{participant_id}",
                        f"the key of {participant_id} is gone although they never withdrew",
                    )
                raise ParticipantWithdrawn(participant_id)
            return self.unseal_raw(
                self._require_master(), row[0], ("participant-key", participant_id), f"key of {participant_id}"
            )

        return self._cached(f"p:{participant_id}", load)

    def forget_participant_key(self, participant_id: str) -> None:
        self._key_cache.pop(f"p:{participant_id}", None)
        for name in [k for k in self._key_cache if k.startswith("s:")]:
            del self._key_cache[name]

    def _cached(self, name: str, make: Any) -> bytes:
        if self._master is None:
            raise Locked()
        if name not in self._key_cache:
            self._key_cache[name] = make()
        return self._key_cache[name]

    # -- sealing -------------------------------------------------------------------------------
    def aad(self, *parts: str) -> bytes:
        """Associated data naming this vault and the record: ciphertexts cannot be swapped."""
        if not all(isinstance(p, str) for p in parts):
            # a record name read back from a column someone filled with another type
            raise RecordTampered("/".join(p if isinstance(p, str) else "?" for p in parts))
        return b"fieldscribe/v1\x00" + self.vault_id.encode() + b"\x00" + "/".join(parts).encode("utf-8")

    def seal_json(self, key: bytes, value: Any, *context: str) -> bytes:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return crypto.seal(key, data, self.aad(*context))

    def open_json(self, key: bytes, sealed: bytes, *context: str) -> Any:
        label = "/".join(c if isinstance(c, str) else "?" for c in context)
        return json.loads(self.unseal_raw(key, sealed, context, label))

    def unseal_raw(self, key: bytes, sealed: bytes, context: tuple[str, ...], label: str) -> bytes:
        try:
            return crypto.open_sealed(key, sealed, self.aad(*context))
        except AuthenticationFailed:
            raise RecordTampered(label) from None

    # -- misc -----------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        from .schema import current_version

        return current_version(self.db)

    @property
    def device_id(self) -> str:
        return self._meta("device_id") or ""

    @property
    def blob_dir(self) -> Path:
        return self.path / BLOB_DIR

    def _meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def shred_residue(self) -> None:
        """Push deleted pages out of the WAL so destroyed keys are gone from every file."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def log(self, action: str, subject: str = "", **details: Any) -> None:
        self.audit.append(actor(), action, subject, **details)


@contextmanager
def unlocked_vault(path: str | os.PathLike[str], passphrase: str) -> Iterator[Vault]:
    vault = Vault.open(path)
    try:
        vault.unlock(passphrase)
        yield vault
    finally:
        vault.close()


def _acquire_lock(path: Path) -> int:
    """Take the vault's lock or raise VaultLocked naming its holder. Never waits.

    The lock file itself is never truncated or written (a refused opener must not disturb the
    holder's file); the holder's name lives in HOLDER_NAME, rewritten by each new holder."""
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        locked = lock_descriptor(fd, blocking=False)
    except BaseException:
        os.close(fd)
        raise
    if not locked:
        os.close(fd)
        raise VaultLocked(path, _read_holder(path)) from None
    try:
        _write_holder(path, f"pid {os.getpid()} on {socket.gethostname()}")
    except BaseException:
        _release_lock(fd, path)
        raise
    return fd


def _release_lock(fd: int, path: Path) -> None:
    try:
        # Cleared while still held, so it never erases the next holder's name.
        with suppress(OSError):
            _write_holder(path, "")
    finally:
        try:
            unlock_descriptor(fd)
        finally:
            os.close(fd)


def _holder_flags() -> int:
    return os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


def _write_holder(path: Path, text: str) -> None:
    fd = os.open(path / HOLDER_NAME, _holder_flags(), 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read_holder(path: Path) -> str:
    try:
        with open(path / HOLDER_NAME, "rb") as f:
            text = f.read(200).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "unknown process"
