"""The outbox: bundles written by `export`, and how far each got toward the analysis team.

The SHA-256 of a bundle's manifest is what a receipt must prove knowledge of; it is kept
sealed with the study key, so a copy of ``vault.db`` does not hand it to a forger. The raw
receipt is kept too, so that purging can verify it again instead of trusting a status column.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import ledger
from ..audit import now_iso
from ..vault import Vault


@dataclass(frozen=True)
class Export:
    name: str
    path: Path
    size: int
    sha256: str
    manifest_sha256: str
    sessions: tuple[str, ...]
    created_at: str
    uploaded_at: str | None
    remote: str | None
    received_at: str | None

    @property
    def state(self) -> str:
        return "received" if self.received_at else "uploaded" if self.uploaded_at else "exported"


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


SEALED = "sealed:"


def _seal_secret(vault: Vault, name: str, manifest_sha256: str) -> str:
    return SEALED + vault.seal_json(vault.study_key, manifest_sha256, "export", name, "manifest").hex()


def _open_secret(vault: Vault, name: str, stored: str) -> str:
    if not stored.startswith(SEALED):
        return stored  # written by a release before the secret was sealed; resealed by reseal_secrets
    try:
        sealed = bytes.fromhex(stored[len(SEALED) :])
    except ValueError:
        sealed = b""
    return str(vault.open_json(vault.study_key, sealed, "export", name, "manifest"))


def reseal_secrets(vault: Vault) -> int:
    """Seal manifest hashes an older release stored in the clear; returns how many."""
    ledger.check_study(vault)
    rows = vault.db.execute("SELECT name, manifest_sha256 FROM exports WHERE manifest_sha256 NOT LIKE 'sealed:%'")
    todo = [(name, value) for name, value in rows.fetchall() if value]
    with vault.db.atomic():
        for name, value in todo:
            vault.db.execute(
                "UPDATE exports SET manifest_sha256 = ? WHERE name = ?", (_seal_secret(vault, name, value), name)
            )
        if todo:
            ledger.update_study(vault, "export.secrets_sealed", "", count=len(todo))
    if todo:
        vault.shred_residue()
    return len(todo)


def record_export(vault: Vault, path: Path, manifest_sha256: str, session_ids: list[str]) -> Export:
    """Add a bundle to the outbox (inside the caller's transaction, which seals the study history)."""
    path = Path(path).resolve()
    row = {
        "name": path.name,
        "path": str(path),
        "size": path.stat().st_size,
        "sha256": file_sha256(path),
        "manifest_sha256": _seal_secret(vault, path.name, manifest_sha256),
        "sessions": json.dumps(session_ids),
        "created_at": now_iso(),
        "uploaded_at": None,
        "remote": None,
        "received_at": None,
        "receipt": None,
    }
    vault.db.table("exports").insert(row, pk="name")
    return _row(vault, row)


def _row(vault: Vault, r: dict[str, Any]) -> Export:
    return Export(
        r["name"],
        Path(r["path"]),
        r["size"],
        r["sha256"],
        _open_secret(vault, r["name"], r["manifest_sha256"]),
        tuple(json.loads(r["sessions"])),
        r["created_at"],
        r["uploaded_at"],
        r["remote"],
        r["received_at"],
    )


def get_export(vault: Vault, name: str) -> Export:
    ledger.check_study(vault)
    return _row(vault, vault.db.table("exports").get(name))


def list_exports(vault: Vault) -> list[Export]:
    """Every bundle written. The rows are part of the study's sealed history: which sessions a
    bundle holds and how far it got decide what withdrawal holds back and what purge destroys."""
    ledger.check_study(vault)
    return [_row(vault, r) for r in vault.db.query("SELECT * FROM exports ORDER BY created_at, name")]


def newest_bundles(exports: list[Export]) -> dict[str, str]:
    """Session → the name of its newest bundle: only that bundle's receipt says the team holds
    the session as it is now (an older bundle carries an older transcript)."""
    newest: dict[str, str] = {}
    for e in sorted(exports, key=lambda e: e.created_at):
        for sid in e.sessions:
            newest[sid] = e.name
    return newest


def stored_receipt(vault: Vault, name: str) -> bytes | None:
    """The receipt exactly as the team signed it (None for receipts kept by older releases)."""
    row = vault.db.execute("SELECT receipt FROM exports WHERE name = ?", (name,)).fetchone()
    if not row or not row[0]:
        return None
    try:
        kept = json.loads(row[0])
    except ValueError:
        return None
    raw = kept.get("raw") if isinstance(kept, dict) else None
    return raw.encode() if isinstance(raw, str) else None


def remove_export(vault: Vault, name: str) -> None:
    """Forget a bundle that was never sent (held back at a withdrawal); the caller deletes the file."""
    vault.db.execute("DELETE FROM exports WHERE name = ?", (name,))


def mark_uploaded(vault: Vault, name: str, remote: str) -> None:
    vault.db.execute("UPDATE exports SET uploaded_at = ?, remote = ? WHERE name = ?", (now_iso(), remote, name))


def mark_received(vault: Vault, name: str, receipt: dict[str, Any], raw: bytes) -> None:
    kept = {"body": receipt, "raw": raw.decode("utf-8")}
    vault.db.execute(
        "UPDATE exports SET received_at = ?, receipt = ? WHERE name = ?",
        (receipt.get("received_at") or now_iso(), json.dumps(kept, sort_keys=True), name),
    )
