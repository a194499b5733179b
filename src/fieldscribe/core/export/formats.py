"""Plain formats from de-identified content: TXT and DOCX transcripts as turns with
[hh:mm:ss] timestamps at each turn (the form NVivo and MAXQDA import with time links), WebVTT
with voice tags, SRT with the speaker before each cue, a CSV case sheet for classification
sheets, a CSV sheet of turns, and JSON for scripts.

A turn reads "[00:01:10] P4: text" — the stamp, who speaks ("Interviewer", the participant's
pseudonym, or "Speaker A" for a voice nobody has named yet), then what was said. Where another
voice spoke during part of the turn the text starts with "(overlapping)", the way transcribers
note what is not words ("(laughs)"), so "P4:" stays the first thing after the stamp for tools
that find speakers by "Name:". A transcript with no speakers known (no diarization, no K
marks) keeps the unlabelled form "[00:01:10] text".
"""

from __future__ import annotations

import csv
import io
import json

from .content import ExportContent, SessionExport, Turn, turns

OVERLAP_MARK = "(overlapping)"


def stamp(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def turn_prefix(turn: Turn) -> str:
    """What comes between the stamp and the words: "P4: ", "P4: (overlapping) ", or ""."""
    who = f"{turn.speaker}: " if turn.speaker else ""
    return who + (f"{OVERLAP_MARK} " if turn.overlap else "")


def to_txt(session: SessionExport) -> str:
    lines = [
        f"Session {session.session_id} — {session.kind}, wave {session.wave}, "
        f"participants {', '.join(session.participants)}",
        "",
    ]
    current_q = None
    for turn in turns(session):
        q = turn.question
        if q and q != current_q:
            current_q = q
            domain, qtext = session.questions.get(q, ("", ""))
            lines += ["", f"## {q} ({domain}): {qtext}", ""]
        lines.append(f"{stamp(turn.start)} {turn_prefix(turn)}{turn.text}")
    return "\n".join(lines).strip() + "\n"


def _cue_time(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _vtt_escape(text: str) -> str:
    """Cue text and voice names as WebVTT reads them: & < > as character references (so no
    "-->" and no stray tag can end up in a cue) and no line breaks (a blank line ends a cue)."""
    text = " ".join(text.split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(session: SessionExport) -> str:
    """One cue per segment; a known speaker as the cue's voice: `<v P4>text`."""
    out = ["WEBVTT", ""]
    for seg in session.segments:
        if seg.text:
            voice = f"<v {_vtt_escape(seg.label)}>" if seg.label else ""
            out += [f"{_cue_time(seg.start, '.')} --> {_cue_time(seg.end, '.')}", voice + _vtt_escape(seg.text), ""]
    return "\n".join(out)


def to_srt(session: SessionExport) -> str:
    """One cue per segment, the speaker first: "Interviewer: text"."""
    out = []
    n = 0
    for seg in session.segments:
        if seg.text:
            n += 1
            who = f"{seg.label}: " if seg.label else ""
            text = " ".join(seg.text.split())  # a blank line would end the cue
            out += [str(n), f"{_cue_time(seg.start, ',')} --> {_cue_time(seg.end, ',')}", who + text, ""]
    return "\n".join(out)


def to_json(content: ExportContent) -> str:
    """Every segment with its speaker ("Interviewer", "P1", "Speaker A" or null), the stored
    speaker id ("interviewer", a pseudonym, or null for an unnamed voice), the diarized voice
    and whether voices overlapped; and each session's turns."""
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
                            "speaker": g.label or None,
                            "speaker_id": g.speaker,
                            "voice": g.voice,
                            "overlap": g.overlap,
                            "question": g.question,
                            "domain": g.domain,
                            "flags": g.flags,
                            "notes": [dict(n) for n in g.notes],
                        }
                        for g in s.segments
                        if g.text
                    ],
                    "turns": [
                        {
                            "start": t.start,
                            "end": t.end,
                            "speaker": t.speaker or None,
                            "overlap": t.overlap,
                            "question": t.question,
                            "text": t.text,
                        }
                        for t in turns(s)
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


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: one starting with = + - @ (or a tab or carriage
    return) would be taken for a formula, so it gets a leading apostrophe, as Excel does."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_turns_csv(content: ExportContent) -> str:
    """Every turn of every session, one row each: Session, Start, End (hh:mm:ss), Speaker,
    Overlapping, Question, Question text, Text. Written with a byte-order mark so Excel reads
    it as UTF-8 (Chinese transcripts), with CRLF rows as the CSV standard has them."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["Session", "Start", "End", "Speaker", "Overlapping", "Question", "Question text", "Text"])
    for s in content.sessions:
        for t in turns(s):
            qtext = s.questions.get(t.question, ("", ""))[1] if t.question else ""
            writer.writerow(
                [
                    s.session_id,
                    stamp(t.start)[1:-1],
                    stamp(t.end)[1:-1],
                    t.speaker,
                    "yes" if t.overlap else "",
                    t.question or "",
                    _cell(qtext),
                    _cell(t.text),
                ]
            )
    return "\ufeff" + buf.getvalue()


def to_docx(session: SessionExport) -> bytes:
    """The TXT transcript as a Word document: each turn a paragraph, the stamp plain, the
    speaker's label bold, "(overlapping)" in italics, then the words."""
    from docx import Document

    doc = Document()
    doc.add_heading(f"Session {session.session_id} — {session.kind}, wave {session.wave}", level=1)
    doc.add_paragraph(f"Participants: {', '.join(session.participants)}. Guide version {session.guide_version}.")
    current_q = None
    for turn in turns(session):
        q = turn.question
        if q and q != current_q:
            current_q = q
            domain, qtext = session.questions.get(q, ("", ""))
            doc.add_heading(f"{q} ({domain}): {qtext}", level=2)
        para = doc.add_paragraph(f"{stamp(turn.start)} ")
        if turn.speaker:
            para.add_run(f"{turn.speaker}:").bold = True
            para.add_run(" ")
        if turn.overlap:
            para.add_run(OVERLAP_MARK).italic = True
            para.add_run(" ")
        para.add_run(turn.text)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
