"""History ledgers: the rows a participant or a session owns, bound together under its key.

Every sealed value is bound to its own record (AES-GCM associated data), but that does not
bind the *set* of rows. Someone with the vault files and no key could put back an older
ciphertext of the same row (a baseline answer rolled back), delete the newest consent
decision (recording allowed again after audio consent was withdrawn), delete transcript
segments, cut audio chunks off at a chunk boundary, or set a status in the clear
(``received`` makes a session purgeable). Each value would still authenticate.

A ledger closes that gap. Per scope — ``participant/P3`` (sealed with that participant's data
key) or ``session/S2`` (sealed with the session key) — it seals one digest per *part* of the
rows the scope owns, computed from the database in a canonical order: the participant's
enrolment row, each sealed record, the consent history; the session's details, status and
members, its recording's format and final length, its timeline, every transcript version and
its segments, and each redaction review. Because every part has its own digest, a mismatch
names what changed ("the consent history of P1", "the status of S3").

Whole-scope rollback (the ledger and its rows copied back together from an older copy of
``vault.db``) is caught by the audit log: each ledger is vouched for by one audit entry whose
details carry ``ledger: {scope: sha256(ciphertext)}``, and the ledger seals that entry's
number. The newest entry naming a scope must carry the scope's current ledger; a ledger that
names an entry past the end of the log (or past its anchor) means the log's tail was cut.

Things that grow while they happen are bound as they stand when they stop: a running
recording's chunks and timeline (bound at stop or recovery), an unfinished transcription
run's segments (bound at pause and completion; rows beyond the sealed count are tolerated,
each still authenticates on its own).

Writers call :func:`check` before they change a scope's rows (free when nothing outside this
connection wrote since the last check) and :func:`update` after, inside the same transaction,
so that tampering is never sealed into a new ledger. Readers call :func:`check`.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from . import session_keys
from .audit import UNLOCK_FAILED, AuditEntry, now_iso
from .errors import FieldscribeError, HistoryTampered, RecordTampered
from .paths import actor
from .vault import Vault

PARTICIPANT, SESSION, STUDY = "participant", "session", "study"
STUDY_SCOPE = "study/vault"  # the study-wide state: study files, study records, the outbox
QUIET = "ledger"  # the audit action of an update no other entry announces
BACKFILL = "ledger.backfill"  # once, for a vault made before ledgers existed
DIGEST_HEX = 32  # 128 bits of SHA-256: what the audit entry carries
_FORMAT = 1
_GONE_PARTICIPANT = "withdrawn"
_GONE_SESSION = ("purged", "withdrawn")


def participant_scope(pid: str) -> str:
    return f"{PARTICIPANT}/{pid}"


def session_scope(sid: str) -> str:
    return f"{SESSION}/{sid}"


def study_scope() -> str:
    return STUDY_SCOPE


def _split(scope: str) -> tuple[str, str]:
    kind, _, ident = scope.partition("/")
    if kind not in (PARTICIPANT, SESSION, STUDY) or not ident:
        raise ValueError(f"not a ledger scope: {scope!r}")
    return kind, ident


# -- what a scope owns -----------------------------------------------------------------------
@dataclass
class _Rows:
    """A list part: one digest per row, in canonical order. ``growing`` parts (a running
    recording's timeline, an unfinished transcript's segments) are sealed as a prefix."""

    digests: list[bytes]
    growing: bool = False

    def summary(self, n: int | None = None) -> dict[str, Any]:
        rows = self.digests if n is None else self.digests[:n]
        h = hashlib.sha256()
        for d in rows:
            h.update(d)
        return {"n": len(rows), "h": h.hexdigest(), "growing": self.growing}


def _cells(values: Any) -> list[Any]:
    """Column values as JSON, tagged by type: SQLite lets any column hold any type, and a
    value of the wrong type put there on disk must read as a difference, not crash the check."""
    out: list[Any] = []
    for v in values:
        if isinstance(v, bytes):
            out.append({"bytes": v.hex()})
        elif v is None or isinstance(v, (str, int, float)):
            out.append(v)
        else:
            out.append({"other": repr(v)})
    return out


def _row_digest(fields: list[Any], sealed: Any = None) -> bytes:
    h = hashlib.sha256(json.dumps(_cells(fields), separators=(",", ":"), ensure_ascii=False).encode())
    if sealed is not None:
        data = sealed if isinstance(sealed, bytes) else b"\x00not-bytes:" + repr(sealed).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.digest()


def _hash(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, bytes):  # text where a ciphertext belongs: a difference, named
        return "not-bytes:" + hashlib.sha256(repr(value).encode()).hexdigest()
    return hashlib.sha256(value).hexdigest()


def _participant_parts(vault: Vault, pid: str) -> dict[str, Any]:
    db = vault.db
    row = db.execute("SELECT study_group, status, enrolled_at, site FROM participants WHERE id = ?", (pid,)).fetchone()
    if row is None:
        return {}
    parts: dict[str, Any] = {"participant": [*_cells(row[:3]), _hash(row[3])]}
    for kind, sealed in db.execute(
        "SELECT kind, sealed FROM participant_records WHERE participant_id = ? ORDER BY kind", (pid,)
    ):
        parts[f"record:{kind}"] = _hash(sealed)
    parts["consents"] = _Rows(
        [
            _row_digest([cid, item, at], sealed)
            for cid, item, at, sealed in db.execute(
                "SELECT id, item_id, recorded_at, sealed FROM consents WHERE participant_id = ? ORDER BY id", (pid,)
            )
        ]
    )
    return parts


def _session_parts(vault: Vault, sid: str) -> dict[str, Any]:
    db = vault.db
    row = db.execute("SELECT kind, wave, guide_sha256, status FROM sessions WHERE id = ?", (sid,)).fetchone()
    if row is None:
        return {}
    parts: dict[str, Any] = {"session": _cells(row[:3]), "status": _cells([row[3]])[0]}
    speakers = db.execute("SELECT speakers FROM sessions WHERE id = ?", (sid,)).fetchone()[0]
    if speakers is not None:  # only once found, so histories sealed before speakers existed still match
        parts["speakers"] = _hash(speakers)
    parts["participants"] = [
        _cells(r)
        for r in db.execute(
            "SELECT participant_id, position FROM session_participants WHERE session_id = ? ORDER BY position",
            (sid,),
        )
    ]
    rec = db.execute(
        "SELECT codec, rate, channels, state, chunks, frames FROM recordings WHERE session_id = ?", (sid,)
    ).fetchone()
    parts["recording"] = _cells(rec) if rec else None
    recording_now = rec is not None and rec[3] == "recording"
    parts["events"] = _Rows(
        [
            _row_digest([seq, t, kind], sealed)
            for seq, t, kind, sealed in db.execute(
                "SELECT seq, t, kind, sealed FROM session_events WHERE session_id = ? ORDER BY seq", (sid,)
            )
        ],
        growing=recording_now,
    )
    for tid, version, model, language, state in db.execute(
        "SELECT id, version, model, language, state FROM transcripts WHERE session_id = ? ORDER BY version", (sid,)
    ).fetchall():
        parts[f"transcript:{version}"] = _cells([model, language, state])
        parts[f"segments:{version}"] = _Rows(
            [
                _row_digest([idx, start, end], sealed)
                for idx, start, end, sealed in db.execute(
                    "SELECT idx, start, \"end\", sealed FROM transcript_segments WHERE transcript_id = ? ORDER BY idx",
                    (tid,),
                )
            ],
            growing=state == "running",
        )
    for version, reviewed, sealed in db.execute(
        "SELECT transcript_version, reviewed, sealed FROM redactions WHERE session_id = ? ORDER BY transcript_version",
        (sid,),
    ):
        parts[f"redactions:{version}"] = [*_cells([reviewed]), _hash(sealed)]
    return parts


def _study_parts(vault: Vault) -> dict[str, Any]:
    """The state the whole study relies on and no participant's key covers: which study files
    were imported and when (they name the keys exports go to and receipts are believed from),
    every study record (replacement table, rejected strings, study identifiers, the device
    key, the queue of withdrawal notices, the sealed study-file hashes …) and the outbox (which
    bundle holds which sessions, how far it got, its receipt)."""
    db = vault.db
    parts: dict[str, Any] = {
        "device": vault.device_id,
        "guides": [
            _cells(r)
            for r in db.execute("SELECT sha256, study_id, language, title, imported_at FROM guides ORDER BY sha256")
        ],
    }
    for name, sealed in db.execute("SELECT name, sealed FROM study_records ORDER BY name"):
        parts[f"record:{name}"] = _hash(sealed)
    for row in db.execute(
        "SELECT name, path, size, sha256, manifest_sha256, sessions, created_at, uploaded_at, remote, "
        "received_at, receipt FROM exports ORDER BY name"
    ).fetchall():
        receipt = row[10].encode() if isinstance(row[10], str) else row[10]
        parts[f"export:{row[0]}"] = [*_cells(row[1:10]), _hash(receipt or None)]
    return parts


def _current(vault: Vault, scope: str) -> dict[str, Any]:
    kind, ident = _split(scope)
    if kind == STUDY:
        return _study_parts(vault)
    return _participant_parts(vault, ident) if kind == PARTICIPANT else _session_parts(vault, ident)


def _summarise(parts: dict[str, Any]) -> dict[str, Any]:
    return {name: (v.summary() if isinstance(v, _Rows) else v) for name, v in parts.items()}


# -- naming what failed ----------------------------------------------------------------------
def _describe(scope: str, part: str, sealed: Any, current: Any) -> str:
    """One clause naming the part of SCOPE that changed, with what can be said about how
    (counts and statuses only: they are not personal data, and in the clear anyway)."""
    kind, ident = _split(scope)
    name, _, version = part.partition(":")
    if kind == STUDY:
        what = {
            "guides": "the list of imported study files",
            "device": "this laptop's device id (the store folder withdrawal notices go to)",
            "record": f"the study record {version!r}",
            "export": f"the outbox entry of bundle {version}",
        }.get(name, f"the study's {part}")
        if current is None and sealed is not None:
            return f"{what} is missing (deleted on disk)"
        if sealed is None and current is not None:
            return f"{what} was added outside fieldscribe"
        return f"{what} does not match its sealed history (edited, or put back from an older copy)"
    what = {
        "participant": f"the enrolment record of {ident} (group, status or site)",
        "record": f"the {version} record of {ident}",
        "consents": f"the consent history of {ident}",
        "session": f"the details of {ident} (kind, wave or guide)",
        "status": f"the status of {ident}",
        "participants": f"the participant list of {ident}",
        "recording": f"the recording details of {ident}",
        "events": f"the timeline of {ident}",
        "transcript": f"transcript version {version} of {ident}",
        "segments": f"the segments of transcript version {version} of {ident}",
        "redactions": f"the redaction review of transcript version {version} of {ident}",
        "speakers": f"the speakers found in {ident}",
    }.get(name, f"the {part} of {ident}")
    if current is None and sealed is not None:
        return f"{what} is missing (deleted on disk)"
    if sealed is None and current is not None:
        return f"{what} was added outside fieldscribe"
    how = ""
    if isinstance(sealed, dict) and isinstance(current, _Rows) and len(current.digests) != sealed["n"]:
        unit = {"consents": "decisions ", "events": "events "}.get(name, "")
        how = f" ({len(current.digests)} {unit}where {sealed['n']} were recorded)"
    elif name == "status":
        how = f" ({current!r} where {sealed!r} was recorded)"
    elif name == "recording" and isinstance(sealed, list) and isinstance(current, list) and sealed[4] != current[4]:
        how = f" ({current[4]} chunks where {sealed[4]} were recorded)"
    return f"{what}{how} does not match its sealed history (rows were deleted, put back from an older copy or edited)"


def _compare(scope: str, sealed_parts: dict[str, Any], current: dict[str, Any]) -> list[str]:
    out = []
    for part in list(sealed_parts) + [p for p in current if p not in sealed_parts]:
        sealed, now = sealed_parts.get(part), current.get(part)
        if isinstance(sealed, dict) and isinstance(now, _Rows):
            if sealed.get("growing"):
                same = len(now.digests) >= sealed["n"] and now.summary(sealed["n"])["h"] == sealed["h"]
            else:
                same = now.summary()["h"] == sealed["h"] and len(now.digests) == sealed["n"]
        else:
            same = sealed == now
        if not same:
            out.append(_describe(scope, part, sealed, now))
    return out


# -- keys, and scopes whose key is legitimately gone -------------------------------------------
def _key(vault: Vault, scope: str) -> bytes:
    kind, ident = _split(scope)
    if kind == STUDY:
        return vault.study_key
    if kind == PARTICIPANT:
        return vault.participant_key(ident)
    return session_keys.unwrap(vault, ident)


def _key_gone(vault: Vault, scope: str) -> bool | None:
    """True if the scope's key was destroyed on purpose (withdrawal, purge), False if it
    must still be there, None if the participant or session does not exist."""
    kind, ident = _split(scope)
    db = vault.db
    if kind == STUDY:
        return False  # the study key derives from the master key: never destroyed
    if kind == PARTICIPANT:
        row = db.execute("SELECT status FROM participants WHERE id = ?", (ident,)).fetchone()
        if row is None:
            return None
        has_key = db.execute("SELECT 1 FROM participant_keys WHERE participant_id = ?", (ident,)).fetchone()
        return row[0] == _GONE_PARTICIPANT and has_key is None
    row = db.execute("SELECT status FROM sessions WHERE id = ?", (ident,)).fetchone()
    if row is None:
        return None
    has_key = db.execute("SELECT 1 FROM session_keys WHERE session_id = ?", (ident,)).fetchone()
    return row[0] in _GONE_SESSION and has_key is None


# -- the audit side --------------------------------------------------------------------------
def _needle(scope: str) -> str:
    return json.dumps(scope) + ":"


def _named(entry: AuditEntry, scope: str) -> tuple[bool, str | None]:
    if entry.action == UNLOCK_FAILED:  # written without a key: it can vouch for nothing
        return False, None
    named = entry.details.get("ledger")
    if isinstance(named, dict) and scope in named:
        return True, named[scope]
    return False, None


def _latest_naming(vault: Vault, scope: str, after: int = 0) -> AuditEntry | None:
    latest = None
    for entry in vault.audit.mentioning(_needle(scope), after):
        if _named(entry, scope)[0]:
            latest = entry
    return latest


def _digest(sealed: bytes) -> str:
    return hashlib.sha256(sealed).hexdigest()[:DIGEST_HEX]


# -- per-connection memory of what was checked -------------------------------------------------
@dataclass
class _Memory:
    """Scopes checked since anything outside this connection last wrote to the database.

    ``PRAGMA data_version`` changes only when another connection commits, so a scope checked
    (or sealed) here stays checked until someone else touches the file; this process's own
    writes seal their ledgers as they go."""

    data_version: int = -1
    checked: set[str] = field(default_factory=set)
    backfilled: bool = False


_MEMORY: weakref.WeakKeyDictionary[Vault, _Memory] = weakref.WeakKeyDictionary()


def _memory(vault: Vault) -> _Memory:
    mem = _MEMORY.get(vault)
    if mem is None:
        mem = _MEMORY[vault] = _Memory()
    version = int(vault.db.execute("PRAGMA data_version").fetchone()[0])
    if version != mem.data_version:
        mem.data_version = version
        mem.checked.clear()
    return mem


@contextmanager
def _serial(vault: Vault) -> Iterator[None]:
    """Read a scope's rows with no other thread of this process writing in between (the
    live transcriber commits from its own thread)."""
    lock = getattr(vault.db, "write_lock", None)
    if lock is None:
        yield
        return
    with lock:
        yield


# -- checking ----------------------------------------------------------------------------------
def _inspect(vault: Vault, scope: str) -> HistoryTampered | RecordTampered | None:
    """What is wrong with SCOPE's history, or None. Scopes whose key was destroyed on
    purpose have nothing left to check."""
    _kind, ident = _split(scope)
    gone = _key_gone(vault, scope)
    row = vault.db.execute("SELECT sealed, audit_seq FROM ledgers WHERE scope = ?", (scope,)).fetchone()
    if gone is None:
        if row is not None or _latest_naming(vault, scope) is not None:
            return HistoryTampered(scope, f"{ident} was deleted from the vault, but its history is recorded")
        return None
    if gone:
        return None
    if row is None and scope == STUDY_SCOPE and _is_new(vault, scope) and _study_is_empty(vault):
        return None  # a vault with no study file imported yet
    if row is None:
        return HistoryTampered(scope, f"the sealed history of {ident} is missing")
    sealed, column_seq = row
    try:
        value = vault.open_json(_key(vault, scope), sealed, "ledger", scope)
    except RecordTampered as exc:
        return exc
    except FieldscribeError:
        return HistoryTampered(scope, f"the key of {ident} is gone although it was neither withdrawn nor purged")
    audit_seq = int(value["audit_seq"])
    if value.get("scope") != scope or column_seq != audit_seq:
        return HistoryTampered(scope, f"the sealed history of {ident} was edited")
    head = vault.audit.head_seq()
    if audit_seq > head:
        return HistoryTampered(
            scope,
            f"the history of {ident} was recorded at audit entry {audit_seq} but the audit log ends at entry "
            f"{head}: the end of the log was cut",
        )
    digest = _digest(sealed)
    details = vault.audit.details_at(audit_seq)
    vouched = details.get("ledger") if isinstance(details, dict) else None
    if not isinstance(vouched, dict) or vouched.get(scope) != digest:
        return HistoryTampered(
            scope,
            f"the history of {ident} is not the one audit entry {audit_seq} recorded: it was replaced "
            "with an older copy",
        )
    later = _latest_naming(vault, scope, after=audit_seq)
    if later is not None:
        return HistoryTampered(
            scope,
            f"the history of {ident} was rolled back to an earlier state (audit entry {later.seq} "
            "recorded a later one)",
        )
    differences = _compare(scope, value["parts"], _current(vault, scope))
    if differences:
        return HistoryTampered(scope, "; ".join(differences))
    return None


def _study_is_empty(vault: Vault) -> bool:
    return all(
        vault.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
        for table in ("guides", "study_records", "exports")
    )


def check(vault: Vault, scope: str) -> None:
    """Raise HistoryTampered (naming the part) unless SCOPE's rows are exactly those its
    ledger sealed, and the ledger is the one the audit log last vouched for."""
    mem = _memory(vault)
    if scope in mem.checked:
        return
    with _serial(vault):
        _backfill_once(vault, mem)
        problem = _inspect(vault, scope)
        if problem is not None:
            raise problem
        mem.checked.add(scope)


def check_participant(vault: Vault, pid: str) -> None:
    check(vault, participant_scope(pid))


def check_session(vault: Vault, sid: str) -> None:
    check(vault, session_scope(sid))


def check_study(vault: Vault) -> None:
    """The study-wide state (study files, study records, outbox) is as fieldscribe left it."""
    check(vault, STUDY_SCOPE)


# -- sealing -----------------------------------------------------------------------------------
def _is_new(vault: Vault, scope: str) -> bool:
    """A scope being created now: no ledger yet and never named in the audit log."""
    row = vault.db.execute("SELECT 1 FROM ledgers WHERE scope = ?", (scope,)).fetchone()
    return row is None and _latest_naming(vault, scope) is None


def _seal(vault: Vault, scope: str, audit_seq: int) -> tuple[bytes, str]:
    value = {
        "format": _FORMAT,
        "scope": scope,
        "audit_seq": audit_seq,
        "parts": _summarise(_current(vault, scope)),
    }
    sealed = vault.seal_json(_key(vault, scope), value, "ledger", scope)
    vault.db.execute(
        "INSERT OR REPLACE INTO ledgers (scope, sealed, audit_seq, updated_at) VALUES (?, ?, ?, ?)",
        (scope, sealed, audit_seq, now_iso()),
    )
    return sealed, _digest(sealed)


def _append(vault: Vault, seq: int, action: str, subject: str, details: dict[str, Any]) -> AuditEntry:
    entry = vault.audit.append(actor(), action, subject, **details)
    if entry.seq != seq:  # the write lock is held: nothing else can append in between
        raise RuntimeError(f"audit entry {entry.seq} was written where {seq} was sealed")
    return entry


def update(vault: Vault, scope: str, action: str = QUIET, subject: str | None = None, **details: Any) -> AuditEntry:
    """Seal SCOPE's rows as they are now and append the audit entry that vouches for them.

    ACTION/SUBJECT/DETAILS are the audit entry the caller would have written anyway (its
    details gain ``ledger``); without them a quiet ``ledger`` entry is written. Call inside
    the transaction that changed the rows, after :func:`check` ran before the change."""
    mem = _memory(vault)
    with vault.db.atomic():
        if scope not in mem.checked and not _is_new(vault, scope):
            check(vault, scope)  # refuse to seal tampering into a new ledger
        seq = vault.audit.head_seq() + 1
        _sealed, digest = _seal(vault, scope, seq)
        entry = _append(
            vault, seq, action, _split(scope)[1] if subject is None else subject, {**details, "ledger": {scope: digest}}
        )
    mem.checked.add(scope)
    return entry


def update_participant(
    vault: Vault, pid: str, action: str = QUIET, subject: str | None = None, **details: Any
) -> AuditEntry:
    return update(vault, participant_scope(pid), action, subject, **details)


def update_session(
    vault: Vault, sid: str, action: str = QUIET, subject: str | None = None, **details: Any
) -> AuditEntry:
    return update(vault, session_scope(sid), action, subject, **details)


def update_study(vault: Vault, action: str = QUIET, subject: str = "", **details: Any) -> AuditEntry:
    """Seal the study-wide state after a change to study files, study records or the outbox."""
    return update(vault, STUDY_SCOPE, action, subject, **details)


def drop(vault: Vault, scope: str, action: str = QUIET, subject: str | None = None, **details: Any) -> AuditEntry:
    """Forget SCOPE's ledger because its key is being destroyed (withdrawal, purge): it
    could not be opened again. The audit entry records the end of the history (``null``)."""
    mem = _memory(vault)
    with vault.db.atomic():
        vault.db.execute("DELETE FROM ledgers WHERE scope = ?", (scope,))
        seq = vault.audit.head_seq() + 1
        entry = _append(
            vault, seq, action, _split(scope)[1] if subject is None else subject, {**details, "ledger": {scope: None}}
        )
    mem.checked.discard(scope)
    return entry


# -- vaults made before ledgers ----------------------------------------------------------------
def _all_scopes(vault: Vault) -> list[str]:
    return (
        [STUDY_SCOPE]
        + [participant_scope(r[0]) for r in vault.db.execute("SELECT id FROM participants ORDER BY seq")]
        + [session_scope(r[0]) for r in vault.db.execute("SELECT id FROM sessions ORDER BY seq")]
    )


def _backfill_once(vault: Vault, mem: _Memory) -> None:
    """On first use after the upgrade, seal a ledger for every scope whose key is readable,
    vouched for by one audit entry. Only scopes never named in the audit log are built, so
    setting the marker again cannot bless a deleted or rolled-back history."""
    if mem.backfilled:
        return
    row = vault.db.execute("SELECT value FROM meta WHERE key = 'ledger_backfill'").fetchone()
    if row is None:
        mem.backfilled = True
        return
    if not vault.unlocked:
        return
    with vault.db.atomic():
        seq = vault.audit.head_seq() + 1
        built: dict[str, str] = {}
        for scope in _all_scopes(vault):
            if _key_gone(vault, scope) or not _is_new(vault, scope):
                continue
            try:
                _sealed, built[scope] = _seal(vault, scope, seq)
            except FieldscribeError:
                continue  # an unreadable key is reported by check() and verify_all()
        if built:
            _append(vault, seq, BACKFILL, "", {"scopes": len(built), "ledger": built})
        vault.db.execute("DELETE FROM meta WHERE key = 'ledger_backfill'")
    mem.backfilled = True


# -- the whole vault ---------------------------------------------------------------------------
def verify_all(vault: Vault, on_scope: Callable[[str], None] | None = None) -> list[str]:
    """Every participant's and session's history, checked; one sentence per finding, naming
    the record. Also what a single scope cannot show: a withdrawn or purged record whose key
    still exists (its status was edited), one whose key is gone with no withdrawal or purge in
    the audit log (the key rows were deleted to make destruction look legitimate), and a
    participant or session deleted outright while the log records its history."""
    findings: list[str] = []
    mem = _memory(vault)
    with _serial(vault):
        _backfill_once(vault, mem)
        evidence = _Evidence.read(vault)
        scopes = _all_scopes(vault)
        for scope in scopes:
            if on_scope is not None:
                on_scope(scope)
            note = _status_without_evidence(vault, scope, evidence)
            if note:
                findings.append(note)
                continue
            problem = _inspect(vault, scope)
            if problem is not None:
                findings.append(str(problem))
            else:
                mem.checked.add(scope)
        known = set(scopes)
        orphans = {r[0] for r in vault.db.execute("SELECT scope FROM ledgers")} | {
            scope for scope, digest in evidence.latest.items() if digest is not None
        }
        for scope in sorted(orphans - known):
            findings.append(
                str(
                    HistoryTampered(
                        scope, f"{_split(scope)[1]} was deleted from the vault, but the audit log records its history"
                    )
                )
            )
        # withdrawn and purged records keep their rows (pseudonym, status): deleting them hides
        # that the person or interview ever existed
        ended = {participant_scope(p) for p in evidence.withdrawn} | {session_scope(s) for s in evidence.ended_sessions}
        for scope in sorted(ended - known - orphans):
            findings.append(
                str(
                    HistoryTampered(
                        scope, f"{_split(scope)[1]} was deleted from the vault after it was withdrawn or purged"
                    )
                )
            )
    return findings


@dataclass
class _Evidence:
    """What the (verified) audit log says ended a history: withdrawals and purges, and the
    newest ledger digest it recorded per scope (None once dropped)."""

    withdrawn: set[str] = field(default_factory=set)
    ended_sessions: set[str] = field(default_factory=set)
    latest: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def read(cls, vault: Vault) -> _Evidence:
        out = cls()
        for e in vault.audit.entries():
            if e.action == UNLOCK_FAILED:  # written without a key: evidence of nothing
                continue
            if e.action == "participant.withdraw":
                out.withdrawn.add(e.subject)
                shredded = e.details.get("sessions_shredded")
                out.ended_sessions.update(shredded if isinstance(shredded, list) else [])
            elif e.action == "session.purged" or (
                e.action == "session.status" and e.details.get("new") in _GONE_SESSION
            ):
                out.ended_sessions.add(e.subject)
            named = e.details.get("ledger")
            if isinstance(named, dict):
                out.latest.update(named)
        return out


_ADVICE = "keep this vault as evidence and report the incident."


def _status_without_evidence(vault: Vault, scope: str, evidence: _Evidence) -> str | None:
    kind, ident = _split(scope)
    db = vault.db
    if kind == STUDY:
        return None
    if kind == PARTICIPANT:
        row = db.execute("SELECT status FROM participants WHERE id = ?", (ident,)).fetchone()
        has_key = db.execute("SELECT 1 FROM participant_keys WHERE participant_id = ?", (ident,)).fetchone()
        if row is None or row[0] != _GONE_PARTICIPANT:
            return None
        if has_key is not None:
            return (
                f"{ident} is marked withdrawn but their key was never destroyed: the status was edited on "
                f"disk; {_ADVICE}"
            )
        if ident not in evidence.withdrawn:
            return (
                f"{ident} is marked withdrawn but the audit log records no withdrawal: their key was deleted; {_ADVICE}"
            )
        return None
    row = db.execute("SELECT status FROM sessions WHERE id = ?", (ident,)).fetchone()
    has_key = db.execute("SELECT 1 FROM session_keys WHERE session_id = ?", (ident,)).fetchone()
    if row is None:
        return None
    if row[0] in _GONE_SESSION and has_key is not None:
        return f"{ident} is marked {row[0]} but its key was never destroyed: the status was edited on disk; {_ADVICE}"
    if row[0] in _GONE_SESSION and ident not in evidence.ended_sessions:
        return (
            f"{ident} is marked {row[0]} but the audit log records no withdrawal or purge: its key was "
            f"deleted; {_ADVICE}"
        )
    if row[0] not in _GONE_SESSION and has_key is None:
        return f"{ident} has lost its key but was neither withdrawn nor purged: its key was deleted; {_ADVICE}"
    return None
