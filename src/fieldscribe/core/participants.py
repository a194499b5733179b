"""Participants: stable pseudonyms, sealed personal records, and withdrawal by crypto-shredding.

The pseudonym (P1, P2 …) is the only thing about a person stored in the clear. Everything
else — real name, contact details, eligibility answers, baseline questionnaire,
compensation — is sealed with that participant's own data key, so destroying one key
makes one person's data unreadable everywhere, backups and synced copies included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ledger
from .audit import now_iso
from .errors import (
    InvalidInput,
    NotEligible,
    ParticipantWithdrawn,
    UnknownParticipant,
)
from .paths import actor
from .study import Study
from .team import next_in_block, pseudonym_block
from .vault import Vault

ENROLLED = "enrolled"
WITHDRAWN = "withdrawn"
NOTES = "notes"  # the interviewer's quick notes on the person (sealed; never exported)
RECORD_KINDS = ("identity", "eligibility", "baseline", "compensation", NOTES)
MAX_NOTE_CHARS = 2000
MAX_NOTES = 1000


@dataclass
class Participant:
    id: str
    group: str
    status: str
    enrolled_at: str
    withdrawn_at: str | None
    site: str | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    eligibility: dict[str, Any] | None = None
    baseline: dict[str, Any] = field(default_factory=dict)
    compensation: dict[str, Any] | None = None

    @property
    def withdrawn(self) -> bool:
        return self.status == WITHDRAWN


def normalise_pseudonym(text: str) -> str:
    cleaned = text.strip().upper()
    if cleaned.isdigit():
        cleaned = "P" + cleaned
    if not (len(cleaned) >= 2 and cleaned[0] == "P" and cleaned[1:].isdigit()):
        raise InvalidInput(f"{text!r} is not a pseudonym; pseudonyms look like P1, P2, P12.")
    return f"P{int(cleaned[1:])}"


def check_eligibility(study: Study, answers: dict[str, bool]) -> dict[str, Any]:
    """Turn per-criterion answers into a sealed-record payload, or refuse enrolment."""
    known = {c.id for c in study.eligibility.inclusion} | {c.id for c in study.eligibility.exclusion}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown eligibility criterion {', '.join(unknown)}; the study's criteria are {', '.join(sorted(known))}."
        )
    unmet, excluded = [], []
    for c in study.eligibility.inclusion:
        if c.id not in answers:
            raise InvalidInput(f"Eligibility criterion {c.id!r} ({c.text}) was not answered.")
        if not answers[c.id]:
            unmet.append(c.text)
    for c in study.eligibility.exclusion:
        if c.id not in answers:
            raise InvalidInput(f"Exclusion criterion {c.id!r} ({c.text}) was not answered.")
        if answers[c.id]:
            excluded.append(c.text)
    if unmet or excluded:
        raise NotEligible(unmet, excluded)
    return {"screened": True, "answers": answers, "at": now_iso()}


def all_eligible(study: Study) -> dict[str, bool]:
    """The answers that mean 'meets every inclusion criterion, no exclusion applies'."""
    return {c.id: True for c in study.eligibility.inclusion} | {c.id: False for c in study.eligibility.exclusion}


def enrol(
    vault: Vault,
    study: Study,
    *,
    group: str,
    name: str | None = None,
    site: str | None = None,
    contact: str | None = None,
    notes: str | None = None,
    eligibility: dict[str, bool] | None = None,
    baseline: dict[str, Any] | None = None,
    compensation: str | None = None,
) -> str:
    """Enrol one person and return their new pseudonym. Nothing is stored if any input is bad."""
    if group not in study.group_ids:
        raise InvalidInput(f"Unknown group {group!r}; this study's groups are {', '.join(study.group_ids)}.")
    screened = check_eligibility(study, eligibility) if eligibility is not None else {"screened": False}
    answers = {k: study.parse_answer(k, v) for k, v in (baseline or {}).items()}
    identity = {k: v for k, v in {"name": name, "contact": contact, "notes": notes}.items() if v}
    block = pseudonym_block(vault)  # this laptop's numbers in its study team (core/team.py), if it joined one
    with vault.db.atomic():
        # above every number used so far, by seq and by pseudonym: a pseudonym is never reused,
        # even when someone edited a seq on disk
        if block is not None:
            seq = next_in_block(vault, block)
        else:
            row = vault.db.execute(
                "SELECT MAX(COALESCE(MAX(seq), 0), COALESCE(MAX(CAST(SUBSTR(id, 2) AS INTEGER)), 0)) FROM participants"
            ).fetchone()
            seq = row[0] + 1
        pid = f"P{seq}"
        vault.db.table("participants").insert(
            {
                "id": pid,
                "seq": seq,
                "study_group": group,
                "status": ENROLLED,
                "enrolled_at": now_iso(),
                "withdrawn_at": None,
                "site": vault.seal_json(vault.study_key, site, "participant", pid, "site") if site else None,
            }
        )
        key = vault.new_participant_key(pid)
        put_record(vault, key, pid, "identity", identity)
        put_record(vault, key, pid, "eligibility", screened)
        put_record(vault, key, pid, "baseline", answers)
        if compensation:
            put_record(vault, key, pid, "compensation", {"given": compensation, "at": now_iso()})
        ledger.update_participant(vault, pid, "participant.enrol", pid, group=group, screened=screened["screened"])
    return pid


def update(
    vault: Vault,
    study: Study,
    pid: str,
    *,
    baseline: dict[str, Any] | None = None,
    compensation: str | None = None,
    eligibility: dict[str, bool] | None = None,
    identity: dict[str, str] | None = None,
) -> None:
    pid = require_active(vault, pid)
    answers = {k: study.parse_answer(k, v) for k, v in (baseline or {}).items()}
    screened = check_eligibility(study, eligibility) if eligibility is not None else None
    key = vault.participant_key(pid)
    ledger.check_participant(vault, pid)  # never seal tampering into the next ledger
    with vault.db.atomic():
        changed = []
        if answers:
            merged = get_record(vault, key, pid, "baseline") or {}
            merged.update(answers)
            put_record(vault, key, pid, "baseline", merged)
            changed.append("baseline")
        if screened is not None:
            put_record(vault, key, pid, "eligibility", screened)
            changed.append("eligibility")
        if compensation:
            put_record(vault, key, pid, "compensation", {"given": compensation, "at": now_iso()})
            changed.append("compensation")
        if identity:
            merged = get_record(vault, key, pid, "identity") or {}
            merged.update({k: v for k, v in identity.items() if v})
            put_record(vault, key, pid, "identity", merged)
            changed.append("identity")
        if changed:
            ledger.update_participant(vault, pid, "participant.update", pid, fields=changed)


def put_record(vault: Vault, key: bytes, pid: str, kind: str, value: Any) -> None:
    """Seal one record in place. The caller seals the participant's history afterwards in
    the same transaction (``ledger.update_participant``), so an older ciphertext of this row
    put back later is caught."""
    vault.db.table("participant_records").upsert(
        {
            "participant_id": pid,
            "kind": kind,
            "sealed": vault.seal_json(key, value, "participant", pid, kind),
            "updated_at": now_iso(),
        },
        pk=("participant_id", "kind"),
    )


def get_record(vault: Vault, key: bytes, pid: str, kind: str) -> Any:
    """One sealed record. The value authenticates first (a damaged ciphertext is named
    exactly), then the participant's history: an older ciphertext of the same row put back,
    or the row deleted, is caught there."""
    row = vault.db.execute(
        "SELECT sealed FROM participant_records WHERE participant_id = ? AND kind = ?", (pid, kind)
    ).fetchone()
    value = None if row is None else vault.open_json(key, row[0], "participant", pid, kind)
    ledger.check_participant(vault, pid)
    return value


def require_existing(vault: Vault, pid: str) -> tuple[str, str]:
    pid = normalise_pseudonym(pid)
    row = vault.db.execute("SELECT id, status FROM participants WHERE id = ?", (pid,)).fetchone()
    if row is None:
        raise UnknownParticipant(pid)
    return row[0], row[1]


def require_active(vault: Vault, pid: str) -> str:
    pid, status = require_existing(vault, pid)
    if status == WITHDRAWN:
        raise ParticipantWithdrawn(pid)
    return pid


def list_participants(vault: Vault) -> list[Participant]:
    rows = vault.db.execute(
        "SELECT id, study_group, status, enrolled_at, withdrawn_at, site FROM participants ORDER BY seq"
    ).fetchall()
    out = []
    for pid, group, status, enrolled, withdrawn, site in rows:
        p = Participant(pid, group, status, enrolled, withdrawn)
        if site is not None:
            p.site = vault.open_json(vault.study_key, site, "participant", pid, "site")
        out.append(p)
    return out


def get_participant(vault: Vault, pid: str) -> Participant:
    pid, _ = require_existing(vault, pid)
    p = next(x for x in list_participants(vault) if x.id == pid)
    if p.withdrawn:
        return p
    key = vault.participant_key(pid)
    p.identity = get_record(vault, key, pid, "identity") or {}
    p.eligibility = get_record(vault, key, pid, "eligibility")
    p.baseline = get_record(vault, key, pid, "baseline") or {}
    p.compensation = get_record(vault, key, pid, "compensation")
    return p


@dataclass(frozen=True)
class ParticipantNote:
    """One quick note on a participant ("prefers mornings", "call the centre first")."""

    text: str
    at: str  # ISO time it was written
    by: str  # who wrote it (the interviewer, else the OS account)


def add_note(vault: Vault, pid: str, text: str, *, by: str | None = None) -> ParticipantNote:
    """Add a quick note on PID, sealed with their own data key like their other records: it
    is part of their participant history (a deleted or rolled-back note is caught), it is
    destroyed with their key when they withdraw, and no export ever reads it."""
    pid = require_active(vault, pid)
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("The note is empty; type what you want to remember about the participant.")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise InvalidInput(
            f"The note is {len(cleaned)} characters long; keep it under {MAX_NOTE_CHARS}, or split it in two."
        )
    key = vault.participant_key(pid)
    ledger.check_participant(vault, pid)  # never seal tampering into the next ledger
    with vault.db.atomic():
        current = _note_list(vault, key, pid)
        if len(current) >= MAX_NOTES:
            raise InvalidInput(f"{pid} already has {MAX_NOTES} notes; that is the most one participant can hold.")
        note = ParticipantNote(cleaned, now_iso(), by or actor())
        put_record(vault, key, pid, NOTES, [*[n.__dict__ for n in current], note.__dict__])
        # the audit entry says a note was added, never what it says
        ledger.update_participant(vault, pid, "participant.note", pid, count=len(current) + 1)
    return note


def participant_notes(vault: Vault, pid: str) -> list[ParticipantNote]:
    """PID's notes, oldest first (empty for someone who withdrew: their key is gone)."""
    pid, status = require_existing(vault, pid)
    if status == WITHDRAWN:
        return []
    return _note_list(vault, vault.participant_key(pid), pid)


def _note_list(vault: Vault, key: bytes, pid: str) -> list[ParticipantNote]:
    stored = get_record(vault, key, pid, NOTES) or []
    return [ParticipantNote(str(n["text"]), str(n["at"]), str(n["by"])) for n in stored]


def sessions_keyed_only_by(vault: Vault, pid: str) -> list[str]:
    """Sessions whose key is wrapped for PID alone: withdrawing PID makes them unreadable."""
    return [
        r[0]
        for r in vault.db.execute(
            "SELECT session_id FROM session_keys WHERE participant_id = ? AND session_id NOT IN "
            "(SELECT session_id FROM session_keys WHERE participant_id != ?)",
            (pid, pid),
        ).fetchall()
    ]


def shred_records(vault: Vault, pid: str) -> list[str]:
    """Delete PID's key, key wraps, records and consent history (inside the caller's
    transaction); returns the sessions that became unreadable. Their status is the session
    state machine's: call ``sessions.shred_participant``, which ends them too."""
    shredded_sessions = sessions_keyed_only_by(vault, pid)
    vault.db.execute("DELETE FROM session_keys WHERE participant_id = ?", (pid,))
    vault.db.execute("DELETE FROM participant_records WHERE participant_id = ?", (pid,))
    vault.db.execute("DELETE FROM consents WHERE participant_id = ?", (pid,))
    vault.db.execute("DELETE FROM participant_keys WHERE participant_id = ?", (pid,))
    vault.db.execute(
        "UPDATE participants SET status = ?, withdrawn_at = ?, site = NULL WHERE id = ?",
        (WITHDRAWN, now_iso(), pid),
    )
    ledger.drop(vault, ledger.participant_scope(pid), "participant.withdraw", pid, sessions_shredded=shredded_sessions)
    return shredded_sessions
