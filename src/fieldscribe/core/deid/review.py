"""The reviewed redaction of a transcript: suggestions found in it, the reviewer's decisions,
and the de-identified text that may leave the laptop.

Nothing leaves the laptop from a transcript a person has not reviewed: every suggestion must
be accepted, rejected or edited first. Accepted words go into the study's replacement table
(``lists.py``, below this module), so one decision holds for every transcript of the study.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import ledger, sessions
from ..audit import now_iso
from ..errors import InvalidInput, InvalidTransition
from ..participants import (
    WITHDRAWN,
    require_existing,
)
from ..paths import actor
from ..transcripts import StoredSegment, TranscriptInfo, current_transcript, load_segments
from ..vault import Vault
from .descriptors import ROLES, base_of, numbered
from .detect import Identifier, Span, apply, detect, find_listed, prepare
from .lists import (
    bracketed,
    normalise,
    parse_identifier,
    participant_identifiers,
    rejected_strings,
    replacement_table,
    save_rejected,
    save_table,
    study_identifiers,
)

SUGGESTED, ACCEPTED, REJECTED = "suggested", "accepted", "rejected"


# -- suggestions and review ------------------------------------------------------------------------
@dataclass
class Suggestion:
    n: int  # the group's number shown to the reviewer: one decision for every occurrence
    segment: int
    start: int
    end: int
    original: str
    kind: str
    descriptor: str
    status: str
    source: str  # list, rule:<name>, ner:<model>, or table (decided earlier in the study)
    t: float  # time in the recording, to jump there
    weak: bool = False  # found by a heuristic or a model: look twice

    @property
    def key(self) -> str:
        return f"{self.segment}:{self.start}:{self.end}:{self.original}"

    @property
    def layer(self) -> str:
        """'list' (typed in), 'rule' or 'model' — what the reviewer is shown."""
        head = self.source.split(":", 1)[0]
        return {"ner": "model", "table": "list"}.get(head, head)


def _doc(vault: Vault, sid: str, version: int) -> dict[str, Any]:
    row = vault.db.execute(
        "SELECT sealed FROM redactions WHERE session_id = ? AND transcript_version = ?", (sid, version)
    ).fetchone()
    if row is None:
        return {"decisions": {}, "log": [], "reviewed": None}
    doc: dict[str, Any] = vault.open_json(sessions.session_key(vault, sid), row[0], "redactions", sid, str(version))
    return doc


def logged_originals(vault: Vault, sid: str) -> set[str]:
    """Every string the anonymisation log of any transcript version of SID replaced."""
    key = sessions.session_key(vault, sid)
    out: set[str] = set()
    for version, sealed in vault.db.execute(
        "SELECT transcript_version, sealed FROM redactions WHERE session_id = ?", (sid,)
    ).fetchall():
        doc = vault.open_json(key, sealed, "redactions", sid, str(version))
        out |= {str(entry["original"]) for entry in doc.get("log", []) if entry.get("original")}
    return out


def _save_doc(vault: Vault, sid: str, version: int, doc: dict[str, Any]) -> None:
    vault.db.table("redactions").upsert(
        {
            "session_id": sid,
            "transcript_version": version,
            "sealed": vault.seal_json(sessions.session_key(vault, sid), doc, "redactions", sid, str(version)),
            "reviewed": 1 if doc.get("reviewed") else 0,
            "updated_at": now_iso(),
        },
        pk=("session_id", "transcript_version"),
    )


def _transcript(vault: Vault, sid: str) -> TranscriptInfo:
    t = current_transcript(vault, sid)
    if t is None:
        raise InvalidInput(f"Session {sid} has no finished transcript to review; run `fieldscribe transcribe {sid}`.")
    return t


@dataclass
class Group:
    """One distinct string and all its occurrences in a transcript."""

    n: int
    original: str
    descriptor: str
    kind: str
    status: str
    layer: str
    weak: bool
    occurrences: list[Suggestion]


def groups(items: list[Suggestion]) -> list[Group]:
    out: dict[int, Group] = {}
    for s in items:
        g = out.get(s.n)
        if g is None:
            out[s.n] = Group(s.n, s.original, s.descriptor, s.kind, s.status, s.layer, s.weak, [s])
        else:
            g.occurrences.append(s)
            g.weak = g.weak and s.weak
            if s.status == SUGGESTED:
                g.status = SUGGESTED
    return list(out.values())


def active_members(vault: Vault, session: sessions.Session) -> list[str]:
    """The session's participants who have not withdrawn (a focus group outlives one member's
    withdrawal; their own identifier list went with their key, and what the group's review
    accepted stays in the replacement table)."""
    return [pid for pid in session.participants if require_existing(vault, pid)[1] != WITHDRAWN]


def _transcript_identifiers(vault: Vault, session: sessions.Session) -> list[Identifier]:
    idents = study_identifiers(vault)
    for pid in active_members(vault, session):
        idents += participant_identifiers(vault, pid)
    # what was accepted in any transcript of the study is looked for in every other one
    idents += [
        Identifier(original, descriptor, "identifier") for original, descriptor in replacement_table(vault).items()
    ]
    return idents


def _person_tokens(spans: list[Span]) -> set[str]:
    """Name words worth looking for elsewhere in the transcript: 'Hope' once 'Hope Mensah'
    was found ('Hope was the one…' at the start of a sentence is the same person)."""
    out = set()
    for sp in spans:
        if sp.kind in ("person", "name") and sp.layer != "list":
            for raw in sp.text.split():
                w = raw.strip(",.'’")
                if len(w) >= 3 and w[:1].isupper() and not w.isupper():
                    out.add(w)
    return out


def _number_descriptors(spans: list[Span], table: dict[str, str]) -> dict[str, str]:
    """Neutral descriptors numbered across the study ([person 3], [hospital 2]) so that
    two people stay two people for analysis; a name already in the table keeps its
    descriptor, and a first or last name alone takes the full name's."""
    generic = {f"[{en}]" for en, _ in ROLES.values()} | {f"[{zh}]" for _, zh in ROLES.values()}
    used: dict[str, int] = {}
    for d in table.values():
        base = base_of(d)
        tail = d.strip("[]")[len(base.strip("[]")) :].strip()
        if tail.isdigit():
            used[base] = max(used.get(base, 0), int(tail))
    out: dict[str, str] = {}
    full_names = {o: d for o, d in table.items() if " " in o}
    for sp in spans:
        if sp.text in table or sp.text in out or sp.layer == "list":
            continue
        if sp.kind not in ("person", "place", "organisation") or sp.descriptor not in generic:
            continue
        if sp.kind == "person" and " " not in sp.text:
            linked = [d for o, d in full_names.items() if sp.text in o.split()]
            if len(set(linked)) == 1:
                out[sp.text] = linked[0]
                continue
        used[sp.descriptor] = used.get(sp.descriptor, 0) + 1
        out[sp.text] = numbered(sp.descriptor, used[sp.descriptor])
        if sp.kind == "person" and " " in sp.text:
            full_names[sp.text] = out[sp.text]
    return out


def suggestions(vault: Vault, session_id: str) -> list[Suggestion]:
    """Every identifier found in the current transcript, grouped by distinct string (the
    group number is the one to decide on), with what the study already decided applied."""
    session = sessions.get_session(vault, session_id)
    t = _transcript(vault, session.id)
    idents = _transcript_identifiers(vault, session)
    table = replacement_table(vault)
    rejected = rejected_strings(vault)
    decisions = _doc(vault, session.id, t.version)["decisions"]
    segs = load_segments(vault, t)
    prepare([seg.text for seg in segs])
    found = [(seg, detect(seg.text, idents)) for seg in segs]
    # a name found anywhere in the transcript is looked for everywhere in it
    names = set().union(*(_person_tokens(spans) for _, spans in found)) if found else set()
    known = {i.text for i in idents}
    extra = [Identifier(w, "[person]", "person") for w in sorted(names) if w not in known]
    if extra:
        found = [(seg, _with_names(seg.text, spans, extra)) for seg, spans in found]
    numbers = _number_descriptors([sp for _, spans in found for sp in spans], table)
    out: list[Suggestion] = []
    group_of: dict[str, int] = {}
    for seg, spans in found:
        for span in spans:
            norm = normalise(span.text)
            n = group_of.setdefault(norm, len(group_of) + 1)
            in_table = span.text in table
            s = Suggestion(
                n,
                seg.idx,
                span.start,
                span.end,
                span.text,
                span.kind,
                table.get(span.text) or numbers.get(span.text, span.descriptor),
                ACCEPTED if in_table else REJECTED if norm in rejected else SUGGESTED,
                span.source,
                seg.start,
                span.weak,
            )
            d = decisions.get(s.key)  # a decision about this one occurrence (vaults before study-wide decisions)
            if d:
                s.status, s.descriptor = d["status"], d["descriptor"]
            out.append(s)
    return out


def _with_names(text: str, spans: list[Span], names: list[Identifier]) -> list[Span]:
    """Add occurrences of names found elsewhere in the transcript, where nothing was found."""
    extra = [
        Span(sp.start, sp.end, sp.text, "person", sp.descriptor, "rule:same_name", True)
        for sp in find_listed(text, names)
        if all(sp.end <= k.start or sp.start >= k.end for k in spans)
    ]
    return sorted(spans + extra, key=lambda sp: sp.start)


def decide(
    vault: Vault,
    session_id: str,
    *,
    accept: list[int] | None = None,
    reject: list[int] | None = None,
    edit: dict[int, str] | None = None,
    accept_all: bool = False,
) -> list[Suggestion]:
    """Decide groups by their number, for the whole study: an accepted string is replaced
    in every transcript from now on, a rejected one is no longer suggested anywhere."""
    sid = sessions.get_session(vault, session_id).id
    t = _transcript(vault, sid)
    current = suggestions(vault, sid)
    by_n: dict[int, list[Suggestion]] = {}
    for s in current:
        by_n.setdefault(s.n, []).append(s)
    wanted = set(accept or []) | set(reject or []) | set(edit or {})
    unknown = sorted(n for n in wanted if n not in by_n)
    if unknown:
        raise InvalidInput(
            f"No suggestion number {', '.join(map(str, unknown))}; `fieldscribe redact {sid}` lists them."
        )
    doc = _doc(vault, sid, t.version)
    table = replacement_table(vault)
    rejected = rejected_strings(vault)
    who, when = actor(), now_iso()
    changes = []
    accepted: list[str] = []
    for n, items in by_n.items():
        if n in (edit or {}):
            status, descriptor = ACCEPTED, bracketed((edit or {})[n])
        elif n in (reject or []):
            status, descriptor = REJECTED, items[0].descriptor
        elif n in (accept or []) or (accept_all and any(s.status == SUGGESTED for s in items)):
            status, descriptor = ACCEPTED, items[0].descriptor
        else:
            continue
        for s in items:
            doc["decisions"].pop(s.key, None)
            if status == ACCEPTED:
                table[s.original] = descriptor  # the same person or place reads the same everywhere
                accepted.append(s.original)
                rejected.discard(normalise(s.original))
            else:
                table.pop(s.original, None)
                rejected.add(normalise(s.original))
        # the anonymisation log: what was replaced by what, by whom, when (sealed; never exported)
        doc["log"].append(
            {
                "segment": items[0].segment,
                "original": items[0].original,
                "descriptor": descriptor,
                "status": status,
                "kind": items[0].kind,
                "occurrences": len(items),
                "found_by": items[0].source,
                "by": who,
                "at": when,
            }
        )
        changes.append(n)
    doc["reviewed"] = None  # any change re-opens the review
    with vault.db.atomic():
        _save_doc(vault, sid, t.version, doc)
        save_table(vault, table, sid, accepted)
        save_rejected(vault, rejected)
        ledger.update_session(vault, sid, "deid.decide", sid, version=t.version, decisions=len(changes))
        ledger.update_study(vault, "deid.study_decisions", sid, decisions=len(changes))
    return suggestions(vault, sid)


def review_started(vault: Vault, session_id: str, t: TranscriptInfo) -> bool:
    """Has a person begun reviewing transcript version T: corrected a segment, decided a
    redaction in this session, or marked it reviewed? (Then a newer machine transcript must not
    silently replace it.)"""
    doc = _doc(vault, session_id, t.version)
    if doc.get("decisions") or doc.get("log") or doc.get("reviewed"):
        return True
    return any(seg.edited for seg in load_segments(vault, t))


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
        ledger.update_session(vault, sid, "transcript.reviewed", sid, version=t.version)


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
    with vault.db.atomic():
        rejected = rejected_strings(vault)
        table[ident.text] = descriptor
        save_table(vault, table, sid, [ident.text])
        rejected.discard(normalise(ident.text))
        save_rejected(vault, rejected)
        ledger.update_study(vault, "deid.phrase_marked", sid)
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
    found = suggestions(vault, sid)
    undecided = [s for s in found if s.status == SUGGESTED]
    if undecided:
        # reviewed, yet something is undecided again: the study's decisions changed since
        # (or were removed on disk); nothing leaves until a person has looked again
        raise InvalidTransition(
            f"{len(undecided)} identifier suggestion(s) in {sid} are undecided although the transcript was marked "
            f"reviewed; decide them with `fieldscribe redact {sid}` and mark it reviewed again (nothing was exported)."
        )
    for s in found:
        if s.status == ACCEPTED:
            accepted.setdefault(s.segment, []).append(Span(s.start, s.end, s.original, s.kind, s.descriptor, s.source))
    idents = _transcript_identifiers(vault, sessions.get_session(vault, sid))
    out = []
    for seg in load_segments(vault, t):
        spans = accepted.get(seg.idx, [])
        seg.text = apply(seg.text, spans)
        seg.original_text, seg.edited = None, None  # Whisper's first words may name someone
        seg.words = [] if spans else seg.words  # word timings would leak the original words
        for note in seg.notes:
            if note.get("text"):
                note["text"] = _scrub(note["text"], idents)
        out.append(seg)
    return out


def _scrub(text: str, idents: list[Identifier]) -> str:
    """Field notes are typed in the moment and not reviewed one by one: every known
    identifier and every rule match is replaced."""
    return apply(text, detect(text, idents))
