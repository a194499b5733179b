"""Interview sessions: an individual interview or a focus group, in a wave, on a frozen guide.

A session's own key seals its audio, timeline and transcript (later issues). That key is
wrapped once per participant, under each participant's data key: withdrawing the only
participant of an interview shreds the interview; withdrawing one member of a focus group
removes their wrap, while the group's shared recording stays readable through the others
(see SECURITY.md for why that is the usual ethics position for focus groups).

A session's status changes in one place only, :func:`set_status`, along :data:`TRANSITIONS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import crypto, ledger, participants, session_keys
from .audit import now_iso
from .consent import require_recording_consent
from .errors import (
    ConfirmationMismatch,
    InvalidInput,
    InvalidTransition,
    RecordTampered,
    UnknownSession,
)
from .guides import current_guide, load_guide
from .participants import require_active, require_existing
from .study import Study
from .vault import Vault

INTERVIEW = "interview"
FOCUS_GROUP = "focus_group"

PLANNED, RECORDING, RECORDED = "planned", "recording", "recorded"
TRANSCRIBED, REVIEWED, EXPORTED, WITHDRAWN = "transcribed", "reviewed", "exported", "withdrawn"
SYNCED, RECEIVED, PURGED = "synced", "received", "purged"
CANCELLED = "cancelled"  # planned by mistake, or not held: never had audio
STATUSES = (
    PLANNED,
    RECORDING,
    RECORDED,
    TRANSCRIBED,
    REVIEWED,
    EXPORTED,
    SYNCED,
    RECEIVED,
    PURGED,
    WITHDRAWN,
    CANCELLED,
)

# Forward along the field day; a few steps back where real work needs them
# (re-transcribe with a better model, edit after review, re-export after edits).
# Withdrawal can end a session at any point of its life (its last participant withdrew);
# purging ends a received one. Both only as the session's key is destroyed.
TRANSITIONS: dict[str, set[str]] = {
    PLANNED: {RECORDING, WITHDRAWN, CANCELLED},
    # back to planned when no audio was kept: the recorder failed to start, or an import failed
    RECORDING: {RECORDED, PLANNED, WITHDRAWN},
    RECORDED: {RECORDING, TRANSCRIBED, WITHDRAWN},
    TRANSCRIBED: {REVIEWED, RECORDED, WITHDRAWN},
    REVIEWED: {EXPORTED, TRANSCRIBED, WITHDRAWN},
    EXPORTED: {REVIEWED, EXPORTED, SYNCED, RECEIVED, WITHDRAWN},
    # uploaded to the study store; received = the analysis team opened and verified it
    SYNCED: {REVIEWED, EXPORTED, SYNCED, RECEIVED, WITHDRAWN},
    RECEIVED: {REVIEWED, EXPORTED, RECEIVED, PURGED, WITHDRAWN},
    PURGED: set(),
    WITHDRAWN: set(),
    # its key still exists (wrapped for its participants): withdrawal destroys it like any other
    CANCELLED: {WITHDRAWN},
}
ENDINGS = (PURGED, WITHDRAWN)


@dataclass(frozen=True)
class Session:
    id: str
    kind: str
    wave: int
    guide_sha256: str
    status: str
    created_at: str
    updated_at: str
    participants: tuple[str, ...]


def normalise_session_id(text: str) -> str:
    cleaned = text.strip().upper()
    if cleaned.isdigit():
        cleaned = "S" + cleaned
    if not (len(cleaned) >= 2 and cleaned[0] == "S" and cleaned[1:].isdigit()):
        raise InvalidInput(f"{text!r} is not a session id; session ids look like S1, S2, S12.")
    return f"S{int(cleaned[1:])}"


@dataclass(frozen=True)
class SessionPlan:
    """When and where a session is planned (both optional; None for sessions planned before
    fieldscribe kept them, and for sessions whose key is gone)."""

    date: str | None  # ISO date, e.g. 2025-03-14
    site: str | None  # a site id from the study file


def parse_plan_date(text: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) as typed, checked; None for nothing."""
    if text is None or not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise InvalidInput(f"{text.strip()[:40]!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-03-14.") from None


def resolve_site(study: Study, text: str | None) -> str | None:
    """The id of one of the study's sites, given its id or its name (any case); None for nothing."""
    if text is None or not text.strip():
        return None
    wanted = text.strip().casefold()
    for site in study.study.sites:
        if wanted in (site.id.casefold(), site.name.casefold()):
            return site.id
    if not study.study.sites:
        raise InvalidInput("This study file lists no sites; add them under study: sites:, or plan without a site.")
    known = ", ".join(s.id for s in study.study.sites)
    raise InvalidInput(f"{text.strip()[:60]!r} is not one of this study's sites ({known}).")


def next_wave(vault: Vault, pid: str) -> int:
    """The wave to suggest for PID's next session: one past the highest wave of their sessions
    that were not cancelled (1 for someone with none)."""
    pid, _ = require_existing(vault, pid)
    row = vault.db.execute(
        "SELECT MAX(s.wave) FROM sessions s JOIN session_participants sp ON sp.session_id = s.id "
        "WHERE sp.participant_id = ? AND s.status != ?",
        (pid, CANCELLED),
    ).fetchone()
    highest = row[0] if row and isinstance(row[0], int) else 0
    return highest + 1


def session_plan(vault: Vault, sid: str) -> SessionPlan:
    """The date and site SID is planned for. A session whose key is gone (withdrawn, purged)
    reads as planned for no date and no site."""
    session = get_session(vault, sid)
    row = vault.db.execute("SELECT plan FROM sessions WHERE id = ?", (session.id,)).fetchone()
    if row is None or row[0] is None:
        return SessionPlan(None, None)
    if not vault.db.execute("SELECT 1 FROM session_keys WHERE session_id = ?", (session.id,)).fetchone():
        return SessionPlan(None, None)  # its key was destroyed (withdrawal, purge): nothing can be read
    key = session_key(vault, session.id)
    value = vault.open_json(key, row[0], "session", session.id, "plan")
    if not isinstance(value, dict):
        raise RecordTampered(f"plan of {session.id}")
    date, site = value.get("date"), value.get("site")
    return SessionPlan(date if isinstance(date, str) else None, site if isinstance(site, str) else None)


def create_session(
    vault: Vault,
    participant_ids: list[str],
    *,
    wave: int = 1,
    guide_ref: str | None = None,
    kind: str | None = None,
    date: str | None = None,
    site: str | None = None,
) -> str:
    """Plan a session and return its id. DATE (ISO, YYYY-MM-DD) and SITE (a site id or name from
    the session's study file) are optional; they are sealed with the session key."""
    if not participant_ids:
        raise InvalidInput("A session needs at least one participant; pass --participant P1.")
    pids = [require_active(vault, p) for p in participant_ids]
    if len(set(pids)) != len(pids):
        raise InvalidInput("The same participant is listed twice for this session.")
    if wave < 1:
        raise InvalidInput(f"Wave {wave} is not valid; waves are numbered from 1.")
    kind = kind or (FOCUS_GROUP if len(pids) > 1 else INTERVIEW)
    if kind not in (INTERVIEW, FOCUS_GROUP):
        raise InvalidInput(f"Unknown session kind {kind!r}; use {INTERVIEW} or {FOCUS_GROUP}.")
    if kind == INTERVIEW and len(pids) > 1:
        raise InvalidInput("An individual interview has one participant; use a focus group for several.")
    guide = current_guide(vault, guide_ref)
    planned_date = parse_plan_date(date)
    site_id = resolve_site(guide.study, site)
    groups = {
        r[0]: r[1]
        for r in vault.db.execute(
            f"SELECT id, study_group FROM participants WHERE id IN ({','.join('?' * len(pids))})", pids
        ).fetchall()
    }
    for pid in pids:
        if groups[pid] not in guide.study.group_ids:
            raise InvalidInput(f"{pid} is in group {groups[pid]!r}, which guide {guide.version} does not know.")
    session_key = crypto.random_key()
    with vault.db.atomic():
        seq = vault.db.execute("SELECT COALESCE(MAX(seq), 0) FROM sessions").fetchone()[0] + 1
        sid = f"S{seq}"
        now = now_iso()
        vault.db.table("sessions").insert(
            {
                "id": sid,
                "seq": seq,
                "kind": kind,
                "wave": wave,
                "guide_sha256": guide.sha256,
                "status": PLANNED,
                "created_at": now,
                "updated_at": now,
                "plan": (
                    vault.seal_json(session_key, {"date": planned_date, "site": site_id}, "session", sid, "plan")
                    if planned_date or site_id
                    else None
                ),
            }
        )
        for position, pid in enumerate(pids):
            vault.db.table("session_participants").insert(
                {"session_id": sid, "participant_id": pid, "position": position}
            )
            vault.db.table("session_keys").insert(
                {
                    "session_id": sid,
                    "participant_id": pid,
                    "wrapped": crypto.seal(vault.participant_key(pid), session_key, vault.aad("session-key", sid, pid)),
                }
            )
        ledger.update_session(
            vault,
            sid,
            "session.create",
            sid,
            participants=pids,
            wave=wave,
            kind=kind,
            guide=guide.version,
            planned=bool(planned_date or site_id),  # the date and site themselves stay sealed
        )
    return sid


def get_session(vault: Vault, sid: str) -> Session:
    sid = normalise_session_id(sid)
    row = vault.db.execute(
        "SELECT id, kind, wave, guide_sha256, status, created_at, updated_at FROM sessions WHERE id = ?", (sid,)
    ).fetchone()
    if row is None:
        raise UnknownSession(sid)
    pids = tuple(
        r[0]
        for r in vault.db.execute(
            "SELECT participant_id FROM session_participants WHERE session_id = ? ORDER BY position", (sid,)
        ).fetchall()
    )
    sid_, kind, wave, guide_sha256, status, created_at, updated_at = row
    return Session(sid_, kind, wave, guide_sha256, status, created_at, updated_at, participants=pids)


def list_sessions(vault: Vault) -> list[Session]:
    ids = [r[0] for r in vault.db.execute("SELECT id FROM sessions ORDER BY seq").fetchall()]
    return [get_session(vault, sid) for sid in ids]


def session_key(vault: Vault, sid: str) -> bytes:
    """Unwrap the session key through any participant who has not withdrawn."""
    return session_keys.unwrap(vault, get_session(vault, sid).id)


def set_status(vault: Vault, sid: str, new: str, *, reason: str | None = None) -> Session:
    """Move a session along its life: the one place its status changes, only along
    :data:`TRANSITIONS` (REASON, if given, goes into the audit entry). The status is sealed
    into the session's history, so a status edited in the clear (say to ``received``, which
    makes it purgeable) is caught. Purging and withdrawal end that history: the caller has
    destroyed the session's key in the same transaction, so its ledger is dropped instead (the
    caller checks the history before it deletes anything)."""
    session = get_session(vault, sid)
    if new not in TRANSITIONS.get(session.status, set()):
        raise InvalidTransition(f"Session {session.id} is {session.status}; it cannot become {new} from there.")
    ending = new in ENDINGS
    if ending and vault.db.execute("SELECT 1 FROM session_keys WHERE session_id = ?", (session.id,)).fetchone():
        raise InvalidTransition(
            f"Session {session.id} can become {new} only once its key is destroyed, and it still has one."
        )
    if not ending:
        ledger.check_session(vault, session.id)
    details = {"old": session.status, "new": new} | ({"reason": reason} if reason else {})
    with vault.db.atomic():
        vault.db.execute("UPDATE sessions SET status = ?, updated_at = ? WHERE id = ?", (new, now_iso(), session.id))
        seal = ledger.drop if ending else ledger.update
        seal(vault, ledger.session_scope(session.id), "session.status", session.id, **details)
    return get_session(vault, session.id)


def cancel_session(vault: Vault, sid: str) -> Session:
    """Cancel a planned session (made by mistake, or the interview did not happen). Only one that
    never had audio: the row stays, marked cancelled, and the audit log says who did it when."""
    session = get_session(vault, sid)
    has_audio = vault.db.execute("SELECT 1 FROM recordings WHERE session_id = ?", (session.id,)).fetchone()
    if session.status != PLANNED or has_audio:
        raise InvalidTransition(
            f"Session {session.id} is {session.status}; only a planned session with no audio can be cancelled."
        )
    return set_status(vault, session.id, CANCELLED, reason="cancelled before any recording")


def withdraw_participant(vault: Vault, pid: str, confirmation: str) -> list[str]:
    """Crypto-shred one participant; return the sessions that became unreadable with them.

    The typed confirmation must repeat the pseudonym, because this cannot be undone. This is
    the vault's part only; ``core.withdrawal.withdraw`` also reaches the replacement table,
    the outbox and the analysis team, and is what the app and the CLI call.
    """
    pid = require_active(vault, pid)
    if confirmation.strip().upper() != pid:
        raise ConfirmationMismatch(pid)
    with vault.db.atomic():
        shredded = shred_participant(vault, pid)
    vault.forget_participant_key(pid)
    vault.shred_residue()
    return shredded


def shred_participant(vault: Vault, pid: str) -> list[str]:
    """Destroy PID's key, key wraps and records (inside the caller's transaction), and end
    every session only PID could open: it becomes withdrawn, which drops its history (its key
    is gone, so it could not be opened again). Returns those sessions."""
    shredded = participants.shred_records(vault, pid)
    for sid in shredded:
        set_status(vault, sid, WITHDRAWN, reason=f"{pid} withdrew")
    return shredded


def start_recording(vault: Vault, sid: str) -> Session:
    """The gate every recorder goes through: no audio without audio-recording consent."""
    session = get_session(vault, sid)
    if session.status == WITHDRAWN:
        raise InvalidTransition(f"Session {session.id} was withdrawn; it cannot be recorded.")
    for pid in session.participants:
        require_active(vault, pid)
    study = load_guide(vault, session.guide_sha256).study
    require_recording_consent(vault, study, list(session.participants))
    return set_status(vault, session.id, RECORDING)
