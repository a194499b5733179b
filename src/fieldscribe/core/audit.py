"""Append-only, hash-chained audit log.

Each entry's hash covers the previous entry's hash, so editing or deleting any entry breaks
every link after it. A plain hash chain can be recomputed by whoever edits the file, so
whenever the vault is unlocked the head of the chain is also *anchored*: an HMAC over its
sequence number and hash, keyed from the master key. Verification therefore catches a
rewritten chain and a truncated tail as well. Entries name pseudonyms and actions only —
never names, answers or transcript text — because the log itself is not encrypted (it must
record failed unlocks, when no key is available).

The anchor moves with every entry written while the vault is unlocked, so the only entries
that may legitimately follow it are failed unlocks (written without a key). Anything else
after the anchor was appended by someone without the key — a correctly chained forgery — and
fails verification, so the next unlock does not bless it into a new anchor. A cut tail with
an older anchor restored is caught through the history ledgers (core/ledger.py), each of
which names the entry that vouches for it: no ledger may point past the anchor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

GENESIS = "0" * 64
# the one action written while the vault is locked (see the module docstring)
UNLOCK_FAILED = "vault.unlock_failed"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, subject: str, details: str) -> str:
    body = json.dumps([seq, ts, actor, action, subject, details], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _details(text: str) -> dict[str, Any]:
    """An entry's details; an edited, unreadable one reads as empty (verify reports the edit,
    because the entry's hash no longer matches)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _anchor(text: str) -> tuple[int, str] | None:
    try:
        value = json.loads(text)
        seq, mac = value["seq"], value["mac"]
    except (TypeError, ValueError, KeyError, RecursionError):
        return None
    if type(seq) is not int or not isinstance(mac, str):
        return None
    return seq, mac


def _plain_failed_unlock(subject: str, details: str) -> bool:
    try:
        value = json.loads(details)
    except (TypeError, ValueError, RecursionError):
        return False
    return (
        subject == ""
        and isinstance(value, dict)
        and set(value) == {"method"}
        and value["method"] in ("passphrase", "recovery-key")
    )


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditReport:
    entries: int
    anchored_seq: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


class AuditLog:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        self._anchor_key: bytes | None = None
        # Only a chain that verified at unlock may have its anchor moved forward; otherwise
        # unlocking a doctored vault would bless the forgery.
        self._trusted = False

    def set_anchor_key(self, key: bytes | None) -> None:
        """Hold the anchor key (on unlock) and re-anchor the head if the chain verifies."""
        self._anchor_key = key
        self._trusted = False
        if key is not None:
            self._trusted = self.verify().ok
            if self._trusted:
                row = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
                if row:
                    with self._db.atomic():
                        self._write_anchor(row[0], row[1])

    @property
    def trusted(self) -> bool:
        return self._trusted

    def append(self, actor: str, action: str, subject: str = "", **details: Any) -> AuditEntry:
        details_json = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        ts = now_iso()
        with self._db.atomic():
            row = self._db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
            digest = entry_hash(prev, seq, ts, actor, action, subject, details_json)
            self._db.execute(
                "INSERT INTO audit (seq, ts, actor, action, subject, details, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, actor, action, subject, details_json, prev, digest),
            )
            if self._anchor_key is not None and self._trusted:
                self._write_anchor(seq, digest)
        return AuditEntry(seq, ts, actor, action, subject, details)

    def _mac(self, seq: int, digest: str) -> str:
        assert self._anchor_key is not None
        return hmac.new(self._anchor_key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    def _write_anchor(self, seq: int, digest: str) -> None:
        value = json.dumps({"seq": seq, "mac": self._mac(seq, digest)})
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_anchor', ?)", (value,))

    def head_seq(self) -> int:
        """The last entry's number (0 for an empty log)."""
        return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM audit").fetchone()[0])

    def details_at(self, seq: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT details FROM audit WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else _details(row[0])

    def mentioning(self, text: str, after: int = 0) -> list[AuditEntry]:
        """Entries after AFTER whose details contain TEXT (a cheap pre-filter in SQLite;
        callers parse the details to be sure)."""
        rows = self._db.execute(
            "SELECT seq, ts, actor, action, subject, details FROM audit WHERE seq > ? AND instr(details, ?) > 0 "
            "ORDER BY seq",
            (after, text),
        ).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], _details(r[5])) for r in rows]

    def entries(self) -> list[AuditEntry]:
        rows = self._db.execute("SELECT seq, ts, actor, action, subject, details FROM audit ORDER BY seq").fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], _details(r[5])) for r in rows]

    def verify(self) -> AuditReport:
        problems: list[str] = []
        rows = self._db.execute(
            "SELECT seq, ts, actor, action, subject, details, prev_hash, hash FROM audit ORDER BY seq"
        ).fetchall()
        prev = GENESIS
        expected_seq = 1
        hashes: dict[int, str] = {}
        actions: dict[int, str] = {}
        for seq, ts, actor, action, subject, details, prev_hash, digest in rows:
            if seq != expected_seq:
                problems.append(f"entries {expected_seq}–{seq - 1} are missing (deleted)")
            if prev_hash != prev:
                problems.append(f"entry {seq} does not follow the entry before it (chain broken)")
            if entry_hash(prev_hash, seq, ts, actor, action, subject, details) != digest:
                problems.append(f"entry {seq} ({action}) was edited after it was written")
            hashes[seq] = digest
            actions[seq] = action
            if action == UNLOCK_FAILED and not _plain_failed_unlock(subject, details):
                # written without a key, so it may only say how the unlock was tried: one
                # carrying anything else (a forged history digest) is someone's forgery
                problems.append(f"entry {seq} ({action}) carries more than a failed unlock records: it was forged")
            prev = digest
            expected_seq = seq + 1
        anchored = 0
        anchor: tuple[int, str] | None = None
        raw = self._db.execute("SELECT value FROM meta WHERE key = 'audit_anchor'").fetchone()
        if raw is None:
            if rows:
                problems.append("the audit anchor is missing, so the chain cannot be trusted")
        else:
            anchor = _anchor(raw[0])
            anchored = anchor[0] if anchor else 0
            if anchor is None:
                problems.append("the audit anchor is unreadable: it was edited on disk")
            elif anchored not in hashes:
                problems.append(f"anchored entry {anchored} is gone: the log was truncated")
            elif self._anchor_key is not None and not hmac.compare_digest(
                self._mac(anchored, hashes[anchored]), anchor[1]
            ):
                problems.append(f"the anchor does not match entry {anchored}: the log was rewritten")
        forged = [s for s, a in actions.items() if s > anchored and a != UNLOCK_FAILED]
        if forged and anchor is not None:  # (a missing or unreadable anchor is reported above)
            problems.append(
                f"entries {forged[0]}–{forged[-1]} were added after the anchored entry {anchored} by someone "
                "without the key (only failed unlocks are written while the vault is locked)"
                if len(forged) > 1
                else f"entry {forged[0]} ({actions[forged[0]]}) was added after the anchored entry {anchored} by "
                "someone without the key (only failed unlocks are written while the vault is locked)"
            )
        beyond = (
            self._db.execute(
                "SELECT scope, audit_seq FROM ledgers WHERE audit_seq > ? ORDER BY audit_seq DESC LIMIT 1", (anchored,)
            ).fetchone()
            if raw is not None
            else None
        )
        if beyond is not None:
            problems.append(
                f"the history of {beyond[0].split('/', 1)[-1]} was recorded at entry {beyond[1]}, after the anchored "
                f"entry {anchored}: the end of the log was cut and an older anchor put back"
            )
        return AuditReport(entries=len(rows), anchored_seq=anchored, problems=problems)
