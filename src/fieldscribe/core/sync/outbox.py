"""The outbox: bundles written by `export`, and how far each got toward the analysis team."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
    from .store import local_sha

    return local_sha(path)


def record_export(vault: Vault, path: Path, manifest_sha256: str, session_ids: list[str]) -> Export:
    path = Path(path).resolve()
    vault.db["exports"].upsert({
        "name": path.name, "path": str(path), "size": path.stat().st_size, "sha256": file_sha256(path),
        "manifest_sha256": manifest_sha256, "sessions": json.dumps(session_ids), "created_at": now_iso(),
        "uploaded_at": None, "remote": None, "received_at": None, "receipt": None,
    }, pk="name")
    return get_export(vault, path.name)


def _row(r: dict) -> Export:
    return Export(r["name"], Path(r["path"]), r["size"], r["sha256"], r["manifest_sha256"],
                  tuple(json.loads(r["sessions"])), r["created_at"], r["uploaded_at"], r["remote"], r["received_at"])


def get_export(vault: Vault, name: str) -> Export:
    return _row(vault.db["exports"].get(name))


def list_exports(vault: Vault) -> list[Export]:
    return [_row(r) for r in vault.db.query("SELECT * FROM exports ORDER BY created_at, name")]


def mark_uploaded(vault: Vault, name: str, remote: str) -> None:
    vault.db.execute("UPDATE exports SET uploaded_at = ?, remote = ? WHERE name = ?", (now_iso(), remote, name))


def mark_received(vault: Vault, name: str, receipt: dict) -> None:
    vault.db.execute("UPDATE exports SET received_at = ?, receipt = ? WHERE name = ?",
                     (receipt.get("received_at") or now_iso(), json.dumps(receipt, sort_keys=True), name))
