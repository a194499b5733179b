"""`fieldscribe sync`: upload what is not yet on the store, collect receipts, never block
fieldwork. Every step is idempotent, so running it again — after a dropped link, a crash or
just twice — sends only what is missing."""

from __future__ import annotations

import posixpath
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import ledger, sessions
from ..errors import StoreRefused
from ..export.outbox import (
    Export,
    file_sha256,
    list_exports,
    mark_received,
    mark_uploaded,
    newest_bundles,
    reseal_secrets,
)
from ..guides import current_guide
from ..vault import Vault
from . import notices
from .receipts import RECEIPTS, SMALL_FILE, receipt_name, verify_receipt
from .store import Cancelled, Store


@dataclass(frozen=True)
class SyncProgress:
    done: int
    total: int
    elapsed: float

    @property
    def eta_s(self) -> float | None:
        if not self.done or self.done >= self.total:
            return None
        return self.elapsed * (self.total - self.done) / self.done


@dataclass
class SyncReport:
    uploaded: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)
    resumed: dict[str, int] = field(default_factory=dict)  # bundle -> bytes already on the store
    received: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # bundle files moved or deleted locally
    changed: list[str] = field(default_factory=list)  # bundle files altered since export
    rejected: list[str] = field(default_factory=list)  # receipts not signed by a listed receipt key
    notices_sent: list[str] = field(default_factory=list)  # withdrawal notices uploaded
    notices_restored: list[str] = field(default_factory=list)  # … again, after someone deleted them there
    no_receipt_key: bool = False  # the study file lists no receipt key
    bytes_sent: int = 0
    cancelled: bool = False


def device_folder(vault: Vault) -> tuple[str, str]:
    return current_guide(vault).study.study.id, vault.device_id


def receipt_keys(vault: Vault) -> set[str]:
    """The team receipt keys the current study file lists (its text and its place in the
    import order are sealed history, so nobody can add a key by editing vault.db). A key
    dropped from a newer version of the study file is no longer believed."""
    return {k.lower() for k in current_guide(vault).study.export.receipt_keys}


def sync(
    vault: Vault,
    store: Store,
    *,
    on_progress: Callable[[SyncProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> SyncReport:
    study_id, device = device_folder(vault)
    folder = store.path(study_id, device)
    report = SyncReport()
    reseal_secrets(vault)
    _send_notices(vault, store, folder, report)
    exports = list_exports(vault)
    _collect_receipts(vault, store, folder, exports, report)
    pending = [e for e in exports if not e.uploaded_at]
    for e in pending:
        if not e.path.exists():
            report.missing.append(e.name)
    pending = [e for e in pending if e.path.exists()]
    total = sum(e.size for e in pending)
    done = 0
    started = time.monotonic()

    def moved(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(SyncProgress(done, total, time.monotonic() - started))

    for e in pending:
        if file_sha256(e.path) != e.sha256:
            report.changed.append(e.name)  # reported; the other bundles still go
            moved(e.size)
            continue
        final = posixpath.join(folder, e.name)
        if store.size(final) == e.size and store.sha256(final) == e.sha256:
            report.already_there.append(e.name)
            moved(e.size)
        else:
            tmp = posixpath.join(folder, f".{e.name}.part")
            before = store.size(tmp) if store.can_append else None
            try:
                sent = store.upload(e.path, final, on_bytes=moved, cancel=cancel, sha256=e.sha256)
            except Cancelled:
                report.cancelled = True
                break
            report.bytes_sent += sent
            if before and sent < e.size:
                report.resumed[e.name] = e.size - sent
            report.uploaded.append(e.name)
        with vault.db.atomic():
            mark_uploaded(vault, e.name, store.address.display)
            for sid in e.sessions:
                if sessions.get_session(vault, sid).status == sessions.EXPORTED:
                    sessions.set_status(vault, sid, sessions.SYNCED)
            ledger.update_study(vault, "sync.upload", ",".join(e.sessions), bundle=e.name, store=store.address.display)
    return report


def _send_notices(vault: Vault, store: Store, folder: str, report: SyncReport) -> None:
    """Withdrawal notices go first: the team must learn of a withdrawal before anything else."""
    for item in notices.pending(vault):
        path = posixpath.join(folder, notices.NOTICES, item["name"])
        if item["uploaded_at"] and store.exists(path):
            continue
        if item["uploaded_at"]:  # someone deleted it from the store: the team must still learn of it
            report.notices_restored.append(item["name"])
        store.write_atomic(path, item["data"].encode())
        with vault.db.atomic():
            notices.mark_uploaded(vault, item["name"])
            ledger.update_study(
                vault, "sync.withdrawal_notice", item["name"].split("-")[0], store=store.address.display
            )
        report.notices_sent.append(item["name"])


def _collect_receipts(vault: Vault, store: Store, folder: str, exports: list[Export], report: SyncReport) -> None:
    waiting = {e.name: e for e in exports if not e.received_at}
    if not waiting:
        return
    trusted = receipt_keys(vault)
    newest = newest_bundles(exports)
    present = set(store.listdir(posixpath.join(folder, RECEIPTS)))
    for name, e in waiting.items():
        if receipt_name(name) not in present:
            continue
        try:
            raw = store.read(posixpath.join(folder, RECEIPTS, receipt_name(name)), SMALL_FILE)
        except StoreRefused:
            report.rejected.append(name)  # not a receipt file at all
            continue
        if not trusted:
            report.no_receipt_key = True
            continue
        body = verify_receipt(
            raw, bundle=name, bundle_sha256=e.sha256, manifest_sha256=e.manifest_sha256, trusted_keys=trusted
        )
        if body is None:
            report.rejected.append(name)
            vault.log("sync.receipt_rejected", ",".join(e.sessions), bundle=name)
            continue
        with vault.db.atomic():
            mark_received(vault, name, body, raw)
            for sid in e.sessions:
                status = sessions.get_session(vault, sid).status
                if newest.get(sid) == name and status in (sessions.EXPORTED, sessions.SYNCED):
                    sessions.set_status(vault, sid, sessions.RECEIVED)
            ledger.update_study(
                vault, "sync.received", ",".join(e.sessions), bundle=name, by=body.get("received_by", "")
            )
        report.received.append(name)
