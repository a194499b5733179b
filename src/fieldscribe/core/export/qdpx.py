"""REFI-QDA project (.qdpx): the exchange format NVivo, ATLAS.ti, MAXQDA and QualCoder import.

One Case per participant with Variables from the generalised attributes; one TextSource per
session (text in sources/, referenced as internal://); codes pre-created from the guide's
domains and questions and applied to the text spoken under each question; field notes and
sensitive-moment flags as Notes attached to the selections. GUIDs are derived from the study
and object ids, so exporting again gives the same GUIDs and analysts can merge.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from ..transcripts import StoredSegment
from .content import ExportContent, SessionExport

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

    sources = _el(project, "Sources")
    notes_el: list[tuple[str, str, str]] = []  # (guid, name, text)
    texts: dict[str, str] = {}
    for s in content.sessions:
        g = source_guid[s.session_id]
        body, spans = _plain_text(s)
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
        for i, (start, end, seg) in enumerate(spans):
            sel = _el(
                src,
                "PlainTextSelection",
                guid=_guid(sid, "sel", s.session_id, str(i)),
                name=f"{s.session_id} {seg.start:.1f}s",
                startPosition=str(start),
                endPosition=str(end),
                creatingUser=user,
                creationDateTime=now,
            )
            for code in [seg.domain, seg.question]:
                if code and code in code_guid:
                    coding = _el(
                        sel,
                        "Coding",
                        guid=_guid(sid, "coding", s.session_id, str(i), code),
                        creatingUser=user,
                        creationDateTime=now,
                    )
                    _el(coding, "CodeRef", targetGUID=code_guid[code])
            for j, note in enumerate(seg.notes):
                ng = _guid(sid, "note", s.session_id, str(i), str(j))
                label = "Sensitive moment" if note["kind"] == "flag" else (note.get("preset") or "Field note")
                notes_el.append((ng, f"{s.session_id} {label}", note.get("text") or label))
                _el(sel, "NoteRef", targetGUID=ng)
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


def _plain_text(session: SessionExport) -> tuple[str, list[tuple[int, int, StoredSegment]]]:
    """The source text, one segment per line, with each segment's character range."""
    parts: list[str] = []
    spans: list[tuple[int, int, StoredSegment]] = []
    pos = 0
    for seg in session.segments:
        if not seg.text:
            continue
        line = f"[{int(seg.start) // 3600:02d}:{int(seg.start) % 3600 // 60:02d}:{int(seg.start) % 60:02d}] "
        line += (f"{seg.speaker}: " if seg.speaker else "") + seg.text
        start = pos + len(line) - len(seg.text)
        spans.append((start, start + len(seg.text), seg))
        parts.append(line)
        pos += len(line) + 1
    return "\n".join(parts) + ("\n" if parts else ""), spans
