"""REFI-QDA project (.qdpx): the exchange format NVivo, ATLAS.ti, MAXQDA and QualCoder import.

One Case per participant with Variables from the generalised attributes; one TextSource per
session (text in sources/, referenced as internal://), one line per turn as the TXT
transcript has it ("[00:01:10] P1: …"); codes pre-created from the guide's domains and
questions and applied to each turn spoken under a question. Where speakers are known, a
"Speakers" code holds one code per speaker — "Interviewer", each participant's pseudonym,
and "Speaker A (S3)" for a voice nobody named in session S3 — and each turn's words are coded
to its speaker; a participant's turns are also linked to their Case (SelectionRef). Field
notes and sensitive-moment flags are Notes on a selection of the segment they were typed
during. GUIDs are derived from the study and object ids, so exporting again gives the same
GUIDs and analysts can merge.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from ..transcripts import INTERVIEWER, StoredSegment, speaker_label
from .content import ExportContent, SessionExport, Turn, turns
from .formats import stamp, turn_prefix

NS = "urn:QDA-XML:project:1.0"


def _guid(study_id: str, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fieldscribe:" + study_id + ":" + "/".join(parts))).upper()


def _el(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{NS}}}{tag}", {k: v for k, v in attrs.items() if v is not None})


def build_qdpx(content: ExportContent) -> bytes:
    ET.register_namespace("", NS)
    sid = content.study.study.id
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    user = _guid(sid, "user", "fieldscribe")
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
        code_guid[d.id] = dg
        for q in d.questions:
            qg = _guid(sid, "question", q.id)
            qcode = _el(dcode, "Code", guid=qg, name=f"{q.id}: {q.text}"[:250], isCodable="true")
            ET.SubElement(qcode, f"{{{NS}}}Description").text = q.text
            # Description must come first in a Code: move it before any child codes (none yet)
            code_guid[q.id] = qg
        desc = ET.Element(f"{{{NS}}}Description")
        desc.text = d.title
        dcode.insert(0, desc)

    # speakers: a "Speakers" code with one code per speaker, where any turn has one
    placed = {s.session_id: _plain_text(s) for s in content.sessions}
    speaker_code: dict[str, str] = {}  # _speaker_key -> code guid
    speaker_names: dict[str, str] = {}
    for s in content.sessions:
        for p in placed[s.session_id][1]:
            found = _speaker_key(s.session_id, p.turn)
            if found:
                speaker_names.setdefault(*found)
    if speaker_names:  # the interviewer and every case, then the unnamed voices
        names = {"interviewer": speaker_label(INTERVIEWER, None), **{f"participant/{c}": c for c in content.cases}}
        names.update(speaker_names)
        parent = _el(codebook, "Code", guid=_guid(sid, "speakers"), name="Speakers", isCodable="false")
        ET.SubElement(parent, f"{{{NS}}}Description").text = "Who speaks: each turn's words are coded to its speaker."
        for key in names:
            speaker_code[key] = _guid(sid, "speaker", key)
            code = _el(parent, "Code", guid=speaker_code[key], name=names[key], isCodable="true")
            ET.SubElement(code, f"{{{NS}}}Description").text = f"Turns spoken by {names[key]}."

    labels: list[str] = []
    for c in content.cases.values():
        labels += [k for k in ["Group", *c.attributes] if k not in labels]
    variables = _el(project, "Variables")
    var_guid = {label: _guid(sid, "variable", label) for label in labels}
    for label, g in var_guid.items():
        _el(variables, "Variable", guid=g, name=label, typeOfVariable="Text")

    source_guid = {s.session_id: _guid(sid, "source", s.session_id) for s in content.sessions}
    cases = _el(project, "Cases")
    for c in content.cases.values():
        case = _el(cases, "Case", guid=_guid(sid, "case", c.pseudonym), name=c.pseudonym)
        for label, value in [("Group", c.group), *c.attributes.items()]:
            vv = _el(case, "VariableValue")
            _el(vv, "VariableRef", targetGUID=var_guid[label])
            ET.SubElement(vv, f"{{{NS}}}TextValue").text = value
        for s in content.sessions:
            if c.pseudonym in s.participants:
                _el(case, "SourceRef", targetGUID=source_guid[s.session_id])
        for s in content.sessions:  # the participant's own turns belong to their case
            for k, p in enumerate(placed[s.session_id][1]):
                if p.turn.speaker_id == c.pseudonym:
                    _el(case, "SelectionRef", targetGUID=_guid(sid, "turn", s.session_id, str(k)))

    sources = _el(project, "Sources")
    notes_el: list[tuple[str, str, str]] = []  # (guid, name, text)
    texts: dict[str, str] = {}
    for s in content.sessions:
        g = source_guid[s.session_id]
        body, turn_spans = placed[s.session_id]
        texts[g] = body
        src = _el(
            sources,
            "TextSource",
            guid=g,
            name=f"{s.session_id} (wave {s.wave})",
            plainTextPath=f"internal://{g}.txt",
            creatingUser=user,
            creationDateTime=now,
        )
        for k, p in enumerate(turn_spans):
            turn = p.turn
            sel = _el(
                src,
                "PlainTextSelection",
                guid=_guid(sid, "turn", s.session_id, str(k)),
                name=f"{s.session_id} {stamp(turn.start)} {turn.speaker}".rstrip(),
                startPosition=str(p.start),
                endPosition=str(p.end),
                creatingUser=user,
                creationDateTime=now,
            )
            speaker = _speaker_key(s.session_id, turn)
            codes = [(speaker[0], speaker_code[speaker[0]])] if speaker else []
            codes += [(c, code_guid[c]) for c in (turn.domain, turn.question) if c and c in code_guid]
            for code_key, target in codes:
                coding = _el(
                    sel,
                    "Coding",
                    guid=_guid(sid, "coding", s.session_id, "turn", str(k), code_key),
                    creatingUser=user,
                    creationDateTime=now,
                )
                _el(coding, "CodeRef", targetGUID=target)
            # notes sit on the segment they were typed during (the turn's selection if it is one)
            for start, end, seg in p.segments:
                if not seg.notes:
                    continue
                where = sel
                if (start, end) != (p.start, p.end):
                    where = _el(
                        src,
                        "PlainTextSelection",
                        guid=_guid(sid, "sel", s.session_id, str(seg.idx)),
                        name=f"{s.session_id} {seg.start:.1f}s",
                        startPosition=str(start),
                        endPosition=str(end),
                        creatingUser=user,
                        creationDateTime=now,
                    )
                for j, note in enumerate(seg.notes):
                    ng = _guid(sid, "note", s.session_id, str(seg.idx), str(j))
                    label = "Sensitive moment" if note["kind"] == "flag" else (note.get("preset") or "Field note")
                    notes_el.append((ng, f"{s.session_id} {label}", note.get("text") or label))
                    _el(where, "NoteRef", targetGUID=ng)
    if notes_el:
        notes = _el(project, "Notes")
        for ng, name, text in notes_el:
            note_el = _el(notes, "Note", guid=ng, name=name, creatingUser=user, creationDateTime=now)
            ET.SubElement(note_el, f"{{{NS}}}PlainTextContent").text = text
    ET.SubElement(project, f"{{{NS}}}Description").text = (
        f"{content.study.study.title} — ethics reference {content.study.study.ethics_reference}. "
        "De-identified export from fieldscribe."
    )

    xml = ET.tostring(project, encoding="utf-8", xml_declaration=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("project.qde", xml)
        for g, body in texts.items():
            z.writestr(f"sources/{g}.txt", body.encode("utf-8"))
    return buf.getvalue()


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
    """A turn in the source text: the character range of its words, and of each segment's."""

    start: int
    end: int
    turn: Turn
    segments: list[tuple[int, int, StoredSegment]]


def _plain_text(session: SessionExport) -> tuple[str, list[_Placed]]:
    """The source text, one turn per line as the TXT transcript shows it ("[00:01:10] P1: …"),
    with the character range of each turn's words (not its stamp or label)."""
    lines: list[str] = []
    placed: list[_Placed] = []
    pos = 0
    for turn in turns(session):
        head = f"{stamp(turn.start)} {turn_prefix(turn)}"
        start = pos + len(head)
        segs: list[tuple[int, int, StoredSegment]] = []
        at = start
        for seg in turn.segments:
            segs.append((at, at + len(seg.text), seg))
            at += len(seg.text) + 1  # joined by one space
        line = head + turn.text
        placed.append(_Placed(start, pos + len(line), turn, segs))
        lines.append(line)
        pos += len(line) + 1
    return "\n".join(lines) + ("\n" if lines else ""), placed
