"""Identifier lists, the study's replacement table, and the reviewed redaction of a transcript.

Qualitative archives replace identifiers with bracketed descriptors ("[P4]", "[female
friend]", "[day-care centre]") rather than blanks, consistently across every transcript of a
study. The table original → descriptor is the key to re-identification, so it lives sealed
in the vault and is never exported. Nothing leaves the laptop from a transcript a person has
not reviewed: every suggestion must be accepted, rejected or edited first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import sessions
from ..audit import now_iso
from ..errors import InvalidInput, InvalidTransition
from ..participants import _get, _put, require_active
from ..paths import actor
from ..transcripts import StoredSegment, current_transcript, load_segments
from ..vault import Vault
from .detect import Identifier, Span, apply, detect

SUGGESTED, ACCEPTED, REJECTED = "suggested", "accepted", "rejected"


def _descriptor(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("A descriptor cannot be empty; use a bracketed description such as [sister].")
    return text if text.startswith("[") and text.endswith("]") else f"[{text}]"


def parse_identifier(entry: str, default: str, kind: str = "identifier") -> Identifier:
    """'Mary Chan=sister' → Mary Chan → [sister]; 'Riverside' → Riverside → default."""
    text, sep, descriptor = entry.partition("=")
    if not text.strip():
        raise InvalidInput(f"{entry!r} names no identifier; use TEXT or TEXT=DESCRIPTOR.")
    return Identifier(text.strip(), _descriptor(descriptor) if sep else default, kind)


# -- identifier lists -----------------------------------------------------------------------------
def participant_identifiers(vault: Vault, pid: str) -> list[Identifier]:
    """The person's own name and contact details, plus what the interviewer added."""
    pid = require_active(vault, pid)
    key = vault.participant_key(pid)
    out = []
    identity = _get(vault, key, pid, "identity") or {}
    if identity.get("name"):
        out.append(Identifier(identity["name"], f"[{pid}]", "name"))
        # the given name alone is how people are addressed in an interview
        parts = identity["name"].split()
        if len(parts) > 1:
            out += [Identifier(p, f"[{pid}]", "name") for p in parts if len(p) > 1]
    if identity.get("contact"):
        out.append(Identifier(identity["contact"], "[contact details]", "contact"))
    out += [Identifier(**i) for i in (_get(vault, key, pid, "identifiers") or [])]
    return out


def add_participant_identifiers(vault: Vault, pid: str, entries: list[str]) -> list[Identifier]:
    pid = require_active(vault, pid)
    key = vault.participant_key(pid)
    current = _get(vault, key, pid, "identifiers") or []
    new = [parse_identifier(e, f"[{pid}]") for e in entries]  # their own nicknames read as them
    with vault.db.atomic():
        _put(vault, key, pid, "identifiers", current + [asdict(i) for i in new])
        vault.log("deid.identifiers_added", pid, count=len(new))
    return new


def study_identifiers(vault: Vault) -> list[Identifier]:
    row = vault.db.execute("SELECT sealed FROM study_records WHERE name = 'identifiers'").fetchone()
    return [Identifier(**i) for i in vault.open_json(vault.study_key, row[0], "study", "identifiers")] if row else []


def add_study_identifiers(vault: Vault, entries: list[str]) -> list[Identifier]:
    new = [parse_identifier(e, "[place]") for e in entries]
    items = [asdict(i) for i in study_identifiers(vault) + new]
    with vault.db.atomic():
        vault.db["study_records"].upsert(
            {"name": "identifiers", "sealed": vault.seal_json(vault.study_key, items, "study", "identifiers"),
             "updated_at": now_iso()}, pk="name")
        vault.log("deid.study_identifiers_added", "", count=len(new))
    return new


def replacement_table(vault: Vault) -> dict[str, str]:
    row = vault.db.execute("SELECT sealed FROM study_records WHERE name = 'replacements'").fetchone()
    return vault.open_json(vault.study_key, row[0], "study", "replacements") if row else {}


def _save_table(vault: Vault, table: dict[str, str]) -> None:
    vault.db["study_records"].upsert(
        {"name": "replacements", "sealed": vault.seal_json(vault.study_key, table, "study", "replacements"),
         "updated_at": now_iso()}, pk="name")


# -- suggestions and review ------------------------------------------------------------------------
@dataclass
class Suggestion:
    n: int                 # number shown to the reviewer
    segment: int
    start: int
    end: int
    original: str
    kind: str
    descriptor: str
    status: str
    source: str
    t: float               # time in the recording, to jump there

    @property
    def key(self) -> str:
        return f"{self.segment}:{self.start}:{self.end}:{self.original}"


def _doc(vault: Vault, sid: str, version: int) -> dict:
    row = vault.db.execute(
        "SELECT sealed FROM redactions WHERE session_id = ? AND transcript_version = ?", (sid, version)
    ).fetchone()
    if row is None:
        return {"decisions": {}, "log": [], "reviewed": None}
    return vault.open_json(sessions.session_key(vault, sid), row[0], "redactions", sid, str(version))


def _save_doc(vault: Vault, sid: str, version: int, doc: dict) -> None:
    vault.db["redactions"].upsert(
        {"session_id": sid, "transcript_version": version,
         "sealed": vault.seal_json(sessions.session_key(vault, sid), doc, "redactions", sid, str(version)),
         "reviewed": 1 if doc.get("reviewed") else 0, "updated_at": now_iso()},
        pk=("session_id", "transcript_version"))


def _transcript(vault: Vault, sid: str):
    t = current_transcript(vault, sid)
    if t is None:
        raise InvalidInput(f"Session {sid} has no finished transcript to review; run `fieldscribe transcribe {sid}`.")
    return t


def suggestions(vault: Vault, session_id: str) -> list[Suggestion]:
    session = sessions.get_session(vault, session_id)
    t = _transcript(vault, session.id)
    idents = study_identifiers(vault)
    for pid in session.participants:
        idents += participant_identifiers(vault, pid)
    table = replacement_table(vault)
    # what was accepted in any transcript of the study is looked for in every other one
    idents += [Identifier(original, descriptor, "identifier") for original, descriptor in table.items()]
    decisions = _doc(vault, session.id, t.version)["decisions"]
    out: list[Suggestion] = []
    for seg in load_segments(vault, t):
        for span in detect(seg.text, idents):
            s = Suggestion(len(out) + 1, seg.idx, span.start, span.end, span.text, span.kind,
                           table.get(span.text, span.descriptor), SUGGESTED, span.source, seg.start)
            d = decisions.get(s.key)
            if d:
                s.status, s.descriptor = d["status"], d["descriptor"]
            out.append(s)
    return out


def decide(vault: Vault, session_id: str, *, accept: list[int] | None = None, reject: list[int] | None = None,
           edit: dict[int, str] | None = None, accept_all: bool = False) -> list[Suggestion]:
    sid = sessions.get_session(vault, session_id).id
    t = _transcript(vault, sid)
    current = suggestions(vault, sid)
    by_n = {s.n: s for s in current}
    wanted = set(accept or []) | set(reject or []) | set(edit or {})
    unknown = sorted(n for n in wanted if n not in by_n)
    if unknown:
        raise InvalidInput(f"No suggestion number {', '.join(map(str, unknown))}; `fieldscribe redact {sid}` lists them.")
    doc = _doc(vault, sid, t.version)
    table = replacement_table(vault)
    who, when = actor(), now_iso()
    # an edited descriptor applies to every occurrence of the same words
    renamed = {by_n[n].original: _descriptor(d) for n, d in (edit or {}).items()}
    changes = []
    for s in current:
        if s.n in (edit or {}):
            status, descriptor = ACCEPTED, _descriptor(edit[s.n])
        elif s.n in (reject or []):
            status, descriptor = REJECTED, s.descriptor
        elif s.n in (accept or []) or (accept_all and s.status == SUGGESTED):
            status, descriptor = ACCEPTED, renamed.get(s.original, s.descriptor)
        else:
            continue
        doc["decisions"][s.key] = {"status": status, "descriptor": descriptor}
        # the anonymisation log: what was replaced by what, by whom, when (sealed; never exported)
        doc["log"].append({"segment": s.segment, "original": s.original, "descriptor": descriptor,
                           "status": status, "kind": s.kind, "by": who, "at": when})
        if status == ACCEPTED:
            table[s.original] = descriptor  # the same person or place reads the same everywhere
        changes.append(s.n)
    doc["reviewed"] = None  # any change re-opens the review
    with vault.db.atomic():
        _save_doc(vault, sid, t.version, doc)
        _save_table(vault, table)
        vault.log("deid.decide", sid, version=t.version, decisions=len(changes))
    return suggestions(vault, sid)


def mark_reviewed(vault: Vault, session_id: str) -> None:
    sid = sessions.get_session(vault, session_id).id
    t = _transcript(vault, sid)
    pending = [s for s in suggestions(vault, sid) if s.status == SUGGESTED]
    if pending:
        raise InvalidTransition(
            f"{len(pending)} redaction suggestion(s) in {sid} are not decided yet; accept, reject or edit them with "
            f"`fieldscribe redact {sid}` first."
        )
    doc = _doc(vault, sid, t.version)
    doc["reviewed"] = {"by": actor(), "at": now_iso()}
    with vault.db.atomic():
        _save_doc(vault, sid, t.version, doc)
        if sessions.get_session(vault, sid).status == sessions.TRANSCRIBED:
            sessions.set_status(vault, sid, sessions.REVIEWED)
        vault.log("transcript.reviewed", sid, version=t.version)


def reopen_review(vault: Vault, session_id: str, version: int) -> None:
    """After an edit the transcript needs another look before it may leave the laptop."""
    doc = _doc(vault, session_id, version)
    if doc.get("reviewed"):
        doc["reviewed"] = None
        _save_doc(vault, session_id, version, doc)
    # an edit after export means the team does not hold this version: back to review, so
    # it can be neither reported as received nor purged before it is exported again
    if sessions.get_session(vault, session_id).status in (sessions.EXPORTED, sessions.SYNCED, sessions.RECEIVED):
        sessions.set_status(vault, session_id, sessions.REVIEWED)
    if sessions.get_session(vault, session_id).status == sessions.REVIEWED:
        sessions.set_status(vault, session_id, sessions.TRANSCRIBED)


def redact_phrase(vault: Vault, session_id: str, entry: str) -> list[Suggestion]:
    """A reviewer's own mark: 'words' or 'words=descriptor'. The words join the study's
    replacement table, so they are replaced in every transcript, and are accepted here."""
    sid = sessions.get_session(vault, session_id).id
    ident = parse_identifier(entry, "[identifier]")
    table = replacement_table(vault)
    descriptor = table.get(ident.text, ident.descriptor) if "=" not in entry else ident.descriptor
    if not any(ident.text in seg.text for seg in load_segments(vault, _transcript(vault, sid))):
        raise InvalidInput(f"{ident.text!r} does not occur in the transcript of {sid}; check its spelling.")
    found = [s for s in suggestions(vault, sid) if s.original == ident.text]
    if not found:
        with vault.db.atomic():
            table[ident.text] = descriptor
            _save_table(vault, table)
        found = [s for s in suggestions(vault, sid) if s.original == ident.text]
    return decide(vault, sid, edit={s.n: descriptor for s in found})


def is_reviewed(vault: Vault, session_id: str) -> bool:
    sid = sessions.get_session(vault, session_id).id
    t = current_transcript(vault, sid)
    return t is not None and bool(_doc(vault, sid, t.version).get("reviewed"))


def deidentified_segments(vault: Vault, session_id: str) -> list[StoredSegment]:
    """The reviewed transcript with accepted replacements applied — what may be exported."""
    sid = sessions.get_session(vault, session_id).id
    if not is_reviewed(vault, sid):
        raise InvalidTransition(
            f"The transcript of {sid} has not been reviewed for identifiers; run `fieldscribe redact {sid}` and "
            f"`fieldscribe transcript review {sid} --done` first (nothing was exported)."
        )
    t = _transcript(vault, sid)
    accepted: dict[int, list[Span]] = {}
    for s in suggestions(vault, sid):
        if s.status == ACCEPTED:
            accepted.setdefault(s.segment, []).append(Span(s.start, s.end, s.original, s.kind, s.descriptor, s.source))
    table = replacement_table(vault)
    idents = study_identifiers(vault)
    for pid in sessions.get_session(vault, sid).participants:
        idents += participant_identifiers(vault, pid)
    out = []
    for seg in load_segments(vault, t):
        spans = accepted.get(seg.idx, [])
        seg.text = apply(seg.text, spans)
        seg.original_text, seg.edited = None, None  # Whisper's first words may name someone
        seg.words = [] if spans else seg.words  # word timings would leak the original words
        for note in seg.notes:
            if note.get("text"):
                note["text"] = _scrub(note["text"], idents, table)
        out.append(seg)
    return out


def _scrub(text: str, idents: list[Identifier], table: dict[str, str]) -> str:
    """Field notes are typed in the moment and not reviewed one by one: every known
    identifier and every rule match is replaced."""
    known = idents + [Identifier(original, descriptor) for original, descriptor in table.items()]
    return apply(text, detect(text, known))
