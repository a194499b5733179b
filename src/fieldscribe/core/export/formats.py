"""Plain formats from de-identified content: TXT and DOCX transcripts with [hh:mm:ss]
timestamps at each turn (the form NVivo and MAXQDA import with time links), WebVTT, SRT,
a CSV case sheet for classification sheets, and JSON for scripts."""

from __future__ import annotations

import csv
import io
import json

from .content import ExportContent, SessionExport


def stamp(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def _turns(session: SessionExport) -> list[tuple[float, str, str, str | None]]:
    """(start, speaker, text, question) — consecutive segments of one speaker under one
    question become one turn."""
    turns: list[tuple[float, str, str, str | None]] = []
    for seg in session.segments:
        if not seg.text:
            continue
        speaker = seg.speaker or ""
        if turns and turns[-1][1] == speaker and turns[-1][3] == seg.question:
            start, sp, text, q = turns[-1]
            turns[-1] = (start, sp, f"{text} {seg.text}", q)
        else:
            turns.append((seg.start, speaker, seg.text, seg.question))
    return turns


def to_txt(session: SessionExport) -> str:
    lines = [
        f"Session {session.session_id} — {session.kind}, wave {session.wave}, "
        f"participants {', '.join(session.participants)}",
        "",
    ]
    current_q = None
    for start, speaker, text, q in _turns(session):
        if q and q != current_q:
            current_q = q
            domain, qtext = session.questions.get(q, ("", ""))
            lines += ["", f"## {q} ({domain}): {qtext}", ""]
        who = f"{speaker}: " if speaker else ""
        lines.append(f"{stamp(start)} {who}{text}")
    return "\n".join(lines).strip() + "\n"


def _cue_time(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_vtt(session: SessionExport) -> str:
    out = ["WEBVTT", ""]
    for seg in session.segments:
        if seg.text:
            voice = f"<v {seg.speaker}>" if seg.speaker else ""
            out += [f"{_cue_time(seg.start, '.')} --> {_cue_time(seg.end, '.')}", voice + seg.text, ""]
    return "\n".join(out)


def to_srt(session: SessionExport) -> str:
    out = []
    n = 0
    for seg in session.segments:
        if seg.text:
            n += 1
            out += [str(n), f"{_cue_time(seg.start, ',')} --> {_cue_time(seg.end, ',')}", seg.text, ""]
    return "\n".join(out)


def to_json(content: ExportContent) -> str:
    return json.dumps(
        {
            "study": {
                "id": content.study.study.id,
                "title": content.study.study.title,
                "ethics_reference": content.study.study.ethics_reference,
            },
            "cases": [
                {
                    "pseudonym": c.pseudonym,
                    "group": c.group,
                    "attributes": c.attributes,
                    "quote_label": c.quote_label(tuple(content.study.export.quote_label)),
                }
                for c in content.cases.values()
            ],
            "sessions": [
                {
                    "id": s.session_id,
                    "kind": s.kind,
                    "wave": s.wave,
                    "guide_version": s.guide_version,
                    "language": s.language,
                    "participants": s.participants,
                    "segments": [
                        {
                            "start": g.start,
                            "end": g.end,
                            "text": g.text,
                            "speaker": g.speaker,
                            "question": g.question,
                            "domain": g.domain,
                            "flags": g.flags,
                            "notes": [dict(n) for n in g.notes],
                        }
                        for g in s.segments
                        if g.text
                    ],
                }
                for s in content.sessions
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def to_csv(content: ExportContent) -> str:
    labels: list[str] = []
    for c in content.cases.values():
        labels += [k for k in c.attributes if k not in labels]
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["Case", "Group", *labels])
    for c in content.cases.values():
        writer.writerow([c.pseudonym, c.group, *[c.attributes.get(k, "") for k in labels]])
    return buf.getvalue()


def to_docx(session: SessionExport) -> bytes:
    from docx import Document

    doc = Document()
    doc.add_heading(f"Session {session.session_id} — {session.kind}, wave {session.wave}", level=1)
    doc.add_paragraph(f"Participants: {', '.join(session.participants)}. Guide version {session.guide_version}.")
    current_q = None
    for start, speaker, text, q in _turns(session):
        if q and q != current_q:
            current_q = q
            domain, qtext = session.questions.get(q, ("", ""))
            doc.add_heading(f"{q} ({domain}): {qtext}", level=2)
        who = f"{speaker}: " if speaker else ""
        doc.add_paragraph(f"{stamp(start)} {who}{text}")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
