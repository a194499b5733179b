"""The study at a glance — people, sessions and what needs attention — decided once here and
worded by each front end (the app's dashboard, `fieldscribe status`, `participant list`).

A participant or session whose history was edited on disk is shown as tampered, with the
sentence that names what changed, and never hides the others: one edited record must not keep
an interviewer from the rest of the study, nor make an edited status (say "received") look true.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ledger, participants, sessions
from .consent import consent_state
from .errors import RecordTampered
from .recovery import interrupted_sessions
from .study import Study
from .transcripts import list_transcripts
from .vault import Vault

TAMPERED = "tampered"
WITHDRAWN = "withdrawn"
# what a session's status asks of the interviewer next (worded by each front end)
FOLLOW_UP = (sessions.RECORDED, sessions.TRANSCRIBED, sessions.EXPORTED, sessions.RECEIVED)


@dataclass(frozen=True)
class PersonState:
    id: str
    group: str
    site: str | None
    status: str
    consent: str  # complete | partial | no audio | none | withdrawn | tampered


@dataclass(frozen=True)
class SessionState:
    id: str
    kind: str
    wave: int
    participants: tuple[str, ...]
    status: str  # the session's status, or "tampered"
    transcribed_share: float | None = None  # a transcription under way, 0–1


@dataclass(frozen=True)
class Attention:
    subject: str  # a pseudonym or session id ("" for the vault)
    kind: str  # interrupted | consent | tampered | one of FOLLOW_UP
    detail: str = ""  # for tampered: the sentence naming what changed


@dataclass
class Overview:
    people: list[PersonState] = field(default_factory=list)
    sessions: list[SessionState] = field(default_factory=list)
    attention: list[Attention] = field(default_factory=list)


def overview(vault: Vault, study: Study) -> Overview:
    out = Overview()
    out.attention += [Attention(sid, "interrupted") for sid in interrupted_sessions(vault)]
    for s in sessions.list_sessions(vault):
        status, share = s.status, None
        try:
            if s.status not in (sessions.PURGED, sessions.WITHDRAWN):
                ledger.check_session(vault, s.id)  # a status edited on disk is not shown as true
            running = [t for t in list_transcripts(vault, s.id) if t.state == "running"]
            if running and s.status == sessions.RECORDED and running[-1].total_s:
                share = running[-1].done_s / running[-1].total_s
        except RecordTampered as exc:
            status = TAMPERED
            out.attention.append(Attention(s.id, TAMPERED, str(exc)))
        out.sessions.append(SessionState(s.id, s.kind, s.wave, tuple(s.participants), status, share))
    for p in participants.list_participants(vault):
        if p.withdrawn:
            state = WITHDRAWN
        else:
            try:
                state = consent_state(vault, study, p.id)
            except RecordTampered as exc:
                state = TAMPERED
                out.attention.append(Attention(p.id, TAMPERED, str(exc)))
        if state not in (WITHDRAWN, TAMPERED, "complete"):
            out.attention.append(Attention(p.id, "consent", state))
        out.people.append(PersonState(p.id, p.group, p.site, p.status, state))
    out.attention += [Attention(s.id, s.status) for s in out.sessions if s.status in FOLLOW_UP]
    return out
