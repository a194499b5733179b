"""REFI-QDA project (.qdpx): the exchange format NVivo, ATLAS.ti, MAXQDA and QualCoder import.

One Case per participant with Variables from the generalised attributes; one TextSource per
session (text in sources/, referenced as internal://), named for whose interview it is
("P4 — wave 1, 2026-11 (S1)"), one line per turn as the TXT transcript has it ("[00:01:10]
P1: … [00:01:16] …"); codes pre-created from the guide's domains and questions and applied to
each turn spoken under a question. Where speakers are known, a "Speakers" code holds one code
per speaker — "Interviewer", each participant's pseudonym, and "Speaker A (S3)" for a voice
nobody named in session S3 — and each turn's words are coded to its speaker.

Tools read different parts of the standard, so some things are said twice, where the schema
allows it (docs/qdpx.md has the reasoning):

- a case's sources are its SourceRefs and its turns its SelectionRefs (the standard), and
  also a code with the Case's GUID under the non-codable "Cases" code, coding the case's part
  of each source (how NVivo exports cases, and the only link QualCoder reads);
- each field note, probe and sensitive-moment flag is one Note, referenced once, from its
  TextSource, whose text says its kind, time and question and which carries the position of
  the segment it was typed during (QualCoder's annotation form); the segment itself is coded
  to "Field note", "Probe" or "Sensitive moment" (under the non-codable "Field marks"), so
  every tool can find the passage;
- every PlainTextSelection carries at least one Coding (QualCoder turns any other into an
  empty annotation);
- with consented audio, an AudioSource (the FLAC inside the .qdpx) whose Transcript has the
  TextSource's text and a SyncPoint at each segment's stamp; codings and notes stay on the
  TextSource only, so nothing is counted twice.

GUIDs are derived from the study and object ids, so exporting again gives the same GUIDs and
analysts can merge; the only GUID used twice is a case's, by its Case and its case code.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from ..sessions import FOCUS_GROUP
from ..transcripts import INTERVIEWER, StoredSegment, speaker_label
from .content import ExportContent, SessionExport, Turn, turns
from .formats import (
    STAMP,
    WORDLESS,
    WORDS,
    note_heading,
    note_label,
    note_line,
    stamp,
    turn_line,
    turn_parts,
    wordless_notes,
)

NS = "urn:QDA-XML:project:1.0"
MARK_DESCRIPTIONS = {
    "Field note": "Where the interviewer typed a field note; the note is attached to the session.",
    "Probe": "Where the interviewer asked one of the guide's probes; the probe is attached to the session.",
    "Sensitive moment": "Where the interviewer flagged a sensitive moment.",
}


def _guid(study_id: str, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fieldscribe:" + study_id + ":" + "/".join(parts))).upper()


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{tag}", {k: v for k, v in attrs.items() if v is not None})


def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{NS}}}{tag}")
    el.text = text
    return el


def _ref(session: SessionExport) -> str:
    """The session's identity in the project's GUIDs and names: its id, or in a project of
    several laptops (whose session ids collide) its source id, "<laptop>-<session>"."""
    return session.source_id or session.session_id


def source_name(session: SessionExport) -> str:
    """Whose interview it is, as a tool lists it: "P4 — wave 1, 2026-11 (S1)", or for a group
    "focus group P2, P3, P5 — wave 1, 2026-11 (S2)". The month is a date band, not a day. In a
    project of several laptops the laptop is named too: "… (S3, laptop 1a2b3c4d)"."""
    who = ", ".join(session.participants)
    if session.kind == FOCUS_GROUP:
        who = f"focus group {who}".strip()
    when = f"wave {session.wave}" + (f", {session.month}" if session.month else "")
    ref = _ref(session)
    if ref != session.session_id:
        laptop = ref.removesuffix(f"-{session.session_id}")
        ref = f"{session.session_id}, laptop {laptop}" if laptop != ref else ref
    return f"{who} — {when} ({ref})" if who else f"{when} ({ref})"


def build_qdpx(content: ExportContent, audio: dict[str, bytes] | None = None) -> bytes:
    ET.register_namespace("", NS)
    sid = content.study.study.id
    audio = audio or {}
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    user = _guid(sid, "user", "fieldscribe")
    stamped = {"creatingUser": user, "creationDateTime": now}
    project = ET.Element(
        f"{{{NS}}}Project",
        {
            "name": content.study.study.title,
            "origin": "fieldscribe",
            "creatingUserGUID": user,
            "creationDateTime": now,
        },
    )
    users = _el(project, "Users")
    _el(users, "User", guid=user, name="fieldscribe export")

    # codes: one per domain, one per question under it
    codebook = _el(_el(project, "CodeBook"), "Codes")
    code_guid: dict[str, str] = {}
    for d in content.study.guide.domains:
        dg = _guid(sid, "domain", d.id)
        dcode = _el(codebook, "Code", guid=dg, name=d.title, isCodable="true")
        _text(dcode, "Description", d.title)  # Description comes first in a Code
        code_guid[d.id] = dg
        for q in d.questions:
            qg = _guid(sid, "question", q.id)
            qcode = _el(dcode, "Code", guid=qg, name=f"{q.id}: {q.text}"[:250], isCodable="true")
            _text(qcode, "Description", q.text)
            code_guid[q.id] = qg

    # speakers: a "Speakers" code with one code per speaker, where any turn has one
    placed = {_ref(s): _plain_text(s) for s in content.sessions}
    speaker_names: dict[str, str] = {}
    for s in content.sessions:
        for p in placed[_ref(s)][1]:
            found = _speaker_key(_ref(s), p.turn)
            if found:
                speaker_names.setdefault(*found)
    if speaker_names:  # the interviewer and every case, then the unnamed voices
        names = {"interviewer": speaker_label(INTERVIEWER, None), **{f"participant/{c}": c for c in content.cases}}
        names.update(speaker_names)
        parent = _el(codebook, "Code", guid=_guid(sid, "speakers"), name="Speakers", isCodable="false")
        _text(parent, "Description", "Who speaks: each turn's words are coded to its speaker.")
        for key, name in names.items():
            code_guid[key] = _guid(sid, "speaker", key)
            _text(
                _el(parent, "Code", guid=code_guid[key], name=name, isCodable="true"),
                "Description",
                f"Turns spoken by {name}.",
            )

    # field marks: one code per kind of note typed during the sessions, coding where it was typed
    kinds = [note_label(n) for s in content.sessions for seg in s.segments if seg.text for n in seg.notes]
    if kinds:
        parent = _el(codebook, "Code", guid=_guid(sid, "marks"), name="Field marks", isCodable="false")
        _text(parent, "Description", "Moments marked during the sessions; each note is attached to its session.")
        for label in MARK_DESCRIPTIONS:
            if label in kinds:
                code_guid[f"mark/{label}"] = _guid(sid, "mark", label)
                _text(
                    _el(parent, "Code", guid=code_guid[f"mark/{label}"], name=label, isCodable="true"),
                    "Description",
                    MARK_DESCRIPTIONS[label],
                )

    # cases as codes too (same GUID as the Case): the link NVivo writes and QualCoder reads
    case_guid = {c: _guid(sid, "case", c) for c in content.cases}
    if case_guid:
        parent = _el(codebook, "Code", guid=_guid(sid, "cases"), name="Cases", isCodable="false")
        _text(parent, "Description", "One code per case (participant), coding their part of each session.")
        for pseudonym, g in case_guid.items():
            code_guid[f"case/{pseudonym}"] = g
            _text(
                _el(parent, "Code", guid=g, name=f"Case {pseudonym}", isCodable="true"),
                "Description",
                f"What belongs to {pseudonym}.",
            )

    labels: list[str] = []
    for c in content.cases.values():
        labels += [k for k in ["Group", *c.attributes] if k not in labels]
    variables = _el(project, "Variables")
    var_guid = {label: _guid(sid, "variable", label) for label in labels}
    for label, g in var_guid.items():
        _el(variables, "Variable", guid=g, name=label, typeOfVariable="Text")

    source_guid = {_ref(s): _guid(sid, "source", _ref(s)) for s in content.sessions}
    audio_guid = {_ref(s): _guid(sid, "audio", _ref(s)) for s in content.sessions if _ref(s) in audio}
    whole = {_ref(s): _whole_source_cases(s, placed[_ref(s)][1]) for s in content.sessions}
    cases = _el(project, "Cases")
    for c in content.cases.values():
        case = _el(cases, "Case", guid=case_guid[c.pseudonym], name=c.pseudonym)
        for label, value in [("Group", c.group_name), *c.attributes.items()]:
            vv = _el(case, "VariableValue")
            _el(vv, "VariableRef", targetGUID=var_guid[label])
            _text(vv, "TextValue", value)
        for s in content.sessions:
            if c.pseudonym in s.participants:
                _el(case, "SourceRef", targetGUID=source_guid[_ref(s)])
                if _ref(s) in audio_guid:
                    _el(case, "SourceRef", targetGUID=audio_guid[_ref(s)])
        for s in content.sessions:  # the participant's own turns belong to their case
            for k, p in enumerate(placed[_ref(s)][1]):
                if p.turn.speaker_id == c.pseudonym:
                    _el(case, "SelectionRef", targetGUID=_guid(sid, "turn", _ref(s), str(k)))

    sources = _el(project, "Sources")
    notes: list[ET.Element] = []
    project_notes: list[str] = []
    files: dict[str, bytes] = {}
    for s in content.sessions:
        g = source_guid[_ref(s)]
        body, turn_spans = placed[_ref(s)]
        files[f"{g}.txt"] = body.encode("utf-8")
        name = source_name(s)
        src = _el(sources, "TextSource", guid=g, name=name, plainTextPath=f"internal://{g}.txt", **stamped)

        if whole[_ref(s)] and body:  # the session is these cases' as a whole
            sel = _el(
                src,
                "PlainTextSelection",
                guid=_guid(sid, "whole", _ref(s)),
                name=f"{_ref(s)} whole session",
                startPosition="0",
                endPosition=str(len(body.rstrip("\n"))),
                **stamped,
            )
            _code(sid, code_guid, stamped, sel, [f"case/{c}" for c in whole[_ref(s)]], (_ref(s), "whole"))
        note_refs: list[str] = []
        for k, p in enumerate(turn_spans):
            turn = p.turn
            speaker = _speaker_key(_ref(s), turn)
            keys = [speaker[0]] if speaker else []
            keys += [c for c in (turn.domain, turn.question) if c and c in code_guid]
            if turn.speaker_id in content.cases and len(s.participants) > 1:
                keys.append(f"case/{turn.speaker_id}")  # in a group, a member's turns are their case's
            for start, end, seg in p.segments:
                marks = list(dict.fromkeys(f"mark/{note_label(n)}" for n in seg.notes))
                if marks and (start, end) == (p.start, p.end):
                    keys += marks
                elif marks:  # the segment it was typed during, within a longer turn
                    mark = _el(
                        src,
                        "PlainTextSelection",
                        guid=_guid(sid, "sel", _ref(s), str(seg.idx)),
                        name=f"{_ref(s)} {stamp(seg.start)} {', '.join(note_label(n) for n in seg.notes)}",
                        startPosition=str(start),
                        endPosition=str(end),
                        **stamped,
                    )
                    _code(sid, code_guid, stamped, mark, marks, (_ref(s), "seg", str(seg.idx)))
                for j, note in enumerate(seg.notes):
                    ng = _guid(sid, "note", _ref(s), str(seg.idx), str(j))
                    note_el = ET.Element(
                        f"{{{NS}}}Note", {"guid": ng, "name": f"{_ref(s)} {note_heading(note, seg)}", **stamped}
                    )
                    _text(note_el, "PlainTextContent", note_line(note, s, seg))
                    # where it was typed, in the session's text: QualCoder's annotation form
                    _el(
                        note_el,
                        "PlainTextSelection",
                        guid=_guid(sid, "note-at", _ref(s), str(seg.idx), str(j)),
                        startPosition=str(start),
                        endPosition=str(end),
                    )
                    notes.append(note_el)
                    note_refs.append(ng)
            if keys:  # a turn nothing codes (no speaker, no question, no mark) is no selection at all
                sel = _el(
                    src,
                    "PlainTextSelection",
                    guid=_guid(sid, "turn", _ref(s), str(k)),
                    name=f"{_ref(s)} {stamp(turn.start)} {turn.speaker}".rstrip(),
                    startPosition=str(p.start),
                    endPosition=str(p.end),
                    **stamped,
                )
                _code(sid, code_guid, stamped, sel, keys, (_ref(s), "turn", str(k)))
        for note, seg, j in _numbered(wordless_notes(s)):
            # no words to point at: the note's text is its own file (QualCoder keeps it as a journal)
            ng = _guid(sid, "note", _ref(s), str(seg.idx), str(j))
            notes.append(
                ET.Element(
                    f"{{{NS}}}Note",
                    {
                        "guid": ng,
                        "name": f"{_ref(s)} {note_heading(note, seg)}",
                        "plainTextPath": f"internal://{ng}.txt",
                        **stamped,
                    },
                )
            )
            files[f"{ng}.txt"] = (f"{source_name(s)}: {WORDLESS}\n{note_line(note, s, seg)}\n").encode()
            # a note of the project, not of the source: QualCoder takes a note its source refers
            # to for an annotation, and an annotation needs a position in words
            project_notes.append(ng)
        for ng in note_refs:  # NoteRefs follow the selections in a TextSource
            _el(src, "NoteRef", targetGUID=ng)
        if _ref(s) in audio_guid:
            files.update(
                _audio_source(sources, sid, s, placed[_ref(s)], name, audio_guid[_ref(s)], audio[_ref(s)], stamped)
            )
    if notes:
        _el(project, "Notes").extend(notes)
    _text(
        project,
        "Description",
        f"{content.study.study.title} — ethics reference {content.study.study.ethics_reference}. "
        "De-identified export from fieldscribe.",
    )
    for ng in project_notes:  # after the Description, as the schema orders a Project
        _el(project, "NoteRef", targetGUID=ng)

    xml = ET.tostring(project, encoding="utf-8", xml_declaration=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", xml)
        for file_name, data in files.items():
            z.writestr(f"sources/{file_name}", data)
    return buf.getvalue()


def _numbered(notes: list[tuple[dict[str, Any], StoredSegment]]) -> list[tuple[dict[str, Any], StoredSegment, int]]:
    """Each note with its place among its segment's notes (for its GUID: two notes may say the same)."""
    seen: dict[int, int] = {}
    out = []
    for note, seg in notes:
        j = seen.get(seg.idx, 0)
        seen[seg.idx] = j + 1
        out.append((note, seg, j))
    return out


def _code(
    sid: str,
    code_guid: dict[str, str],
    stamped: dict[str, str],
    sel: ET.Element,
    keys: list[str],
    where: tuple[str, ...],
) -> None:
    """Code SEL to each of KEYS (keys of CODE_GUID); WHERE names the selection in the GUIDs."""
    for key in keys:
        coding = _el(sel, "Coding", guid=_guid(sid, "coding", *where, key), **stamped)
        _el(coding, "CodeRef", targetGUID=code_guid[key])


def _audio_source(
    sources: ET.Element,
    sid: str,
    s: SessionExport,
    placed: tuple[str, list[_Placed]],
    name: str,
    g: str,
    flac: bytes,
    stamped: dict[str, str],
) -> dict[str, bytes]:
    """The recording, so a click on a line plays it (NVivo, ATLAS.ti, MAXQDA): its Transcript
    is the TextSource's text with a SyncPoint (milliseconds, character offset) at each
    segment's stamp. Named "….flac" and its transcript "….flac.txt", the names QualCoder files
    them under. No codings or notes here: they are on the TextSource, counted once."""
    body, turn_spans = placed
    tg = _guid(sid, "transcript", _ref(s))
    src = _el(sources, "AudioSource", guid=g, name=f"{name}.flac", path=f"internal://{g}.flac", **stamped)
    transcript = _el(
        src, "Transcript", guid=tg, name=f"{name}.flac.txt", plainTextPath=f"internal://{tg}.txt", **stamped
    )
    for p in turn_spans:
        for at, seg in p.stamps:
            _el(
                transcript,
                "SyncPoint",
                guid=_guid(sid, "sync", _ref(s), str(seg.idx)),
                timeStamp=str(round(seg.start * 1000)),
                position=str(at),
            )
    return {f"{g}.flac": flac, f"{tg}.txt": body.encode("utf-8")}


def _whole_source_cases(session: SessionExport, placed: list[_Placed]) -> list[str]:
    """The cases a session belongs to as a whole: an interview's participant, and in a group
    each member none of whose turns is known (so the session still lists among their files)."""
    if len(session.participants) == 1:
        return list(session.participants)
    spoke = {p.turn.speaker_id for p in placed}
    return [c for c in session.participants if c not in spoke]


def _speaker_key(session_id: str, turn: Turn) -> tuple[str, str] | None:
    """(key, code name) of the turn's speaker: the interviewer and each participant are one
    code across sessions; an unnamed voice is one within its session only."""
    if not turn.speaker:
        return None
    if turn.speaker_id == INTERVIEWER:
        return "interviewer", turn.speaker
    if turn.speaker_id:
        return f"participant/{turn.speaker_id}", turn.speaker
    return f"voice/{session_id}/{turn.voice}", f"{turn.speaker} ({session_id})"


@dataclass
class _Placed:
    """A turn in the source text: the character range of its words, of each segment's words,
    and where each segment's stamp starts."""

    start: int
    end: int
    turn: Turn
    segments: list[tuple[int, int, StoredSegment]]
    stamps: list[tuple[int, StoredSegment]]


def _plain_text(session: SessionExport) -> tuple[str, list[_Placed]]:
    """The source text, one turn per line as the TXT transcript shows it ("[00:01:10] P1: …
    [00:01:16] …"), with the character range of each turn's words (not its first stamp or its
    label) and of each segment's words."""
    lines: list[str] = []
    placed: list[_Placed] = []
    pos = 0
    for turn in turns(session):
        segs: list[tuple[int, int, StoredSegment]] = []
        stamps: list[tuple[int, StoredSegment]] = []
        at = pos
        first_words: int | None = None
        for part in turn_parts(turn):
            if part.kind == WORDS and part.segment is not None:
                first_words = at if first_words is None else first_words
                segs.append((at, at + len(part.text), part.segment))
            elif part.kind == STAMP and part.segment is not None:
                stamps.append((at, part.segment))
            at += len(part.text)
        line = turn_line(turn)
        placed.append(_Placed(first_words if first_words is not None else pos, pos + len(line), turn, segs, stamps))
        lines.append(line)
        pos += len(line) + 1
    return "\n".join(lines) + ("\n" if lines else ""), placed
