"""Plain formats from de-identified content, laid out once (turn_parts) and rendered many ways:
TXT and DOCX transcripts, WebVTT with voice tags and a plain WebVTT without them, SRT with the
speaker before each cue, a CSV case sheet for classification sheets, a CSV sheet of turns, and
JSON for scripts.

A turn is one line (TXT) or paragraph (DOCX):

    [00:00:03] P1: Mostly the cooks. [00:00:06] We play cards.

who speaks once ("Interviewer", the participant's pseudonym, or "Speaker A" for a voice nobody
has named yet), and every segment's own [hh:mm:ss] stamp before its words, so each sentence can
be found in the recording: NVivo and MAXQDA link a stamp anywhere in a paragraph to its time.
Where another voice spoke during part of the turn the words start with "(overlapping)", the way
transcribers note what is not words ("(laughs)"), so "P1:" stays the first thing after the
stamp for tools that find speakers by "Name:". A transcript with no speakers known (no
diarization, no K marks) keeps the unlabelled form "[00:01:10] text".

Field notes, sensitive-moment flags and probes sit under the turn they were typed during:
"    [Field note 00:00:05, q1] laughs" in TXT, a paragraph in the "Field note" style (or
"Sensitive moment" for a flag) in DOCX, a NOTE block before the cue in WebVTT. Their texts
were de-identified upstream with the transcript; a probe shows its words from the guide.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..transcripts import StoredSegment
from .content import ExportContent, SessionExport, Turn, turns

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument

    from ..study import StudyInfo

OVERLAP_MARK = "(overlapping)"


def stamp(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


STAMP, SPEAKER, OVERLAP, WORDS, SPACE = "stamp", "speaker", "overlap", "words", "space"


@dataclass(frozen=True)
class Part:
    """A piece of a turn's line, so that every format lays a turn out the same way and styles
    (DOCX) or locates (.qdpx) its pieces: KIND is one of stamp, speaker, overlap, words, space."""

    kind: str
    text: str
    segment: StoredSegment | None = None  # the segment whose stamp or words this is


def turn_parts(turn: Turn) -> list[Part]:
    """ "[00:01:10] P4: (overlapping) First words. [00:01:16] More words." — the turn's label
    once, and every segment's own stamp before its words, so each sentence can be found in
    the audio (MAXQDA and NVivo link a stamp anywhere in a paragraph to its time)."""
    parts: list[Part] = []
    for i, seg in enumerate(turn.segments):
        if i:
            parts.append(Part(SPACE, " "))
        parts += [Part(STAMP, stamp(seg.start), seg), Part(SPACE, " ")]
        if i == 0 and turn.speaker:
            parts += [Part(SPEAKER, f"{turn.speaker}:"), Part(SPACE, " ")]
        if i == 0 and turn.overlap:
            parts += [Part(OVERLAP, OVERLAP_MARK), Part(SPACE, " ")]
        parts.append(Part(WORDS, seg.text, seg))
    return parts


def turn_line(turn: Turn) -> str:
    """The turn as one line of text, as TXT writes it and DOCX's paragraph reads."""
    return "".join(p.text for p in turn_parts(turn))


def note_label(note: dict[str, Any]) -> str:
    """What kind of mark a note is, in words: "Field note", "Sensitive moment", "Probe"."""
    return {"flag": "Sensitive moment", "probe": "Probe"}.get(str(note.get("kind")), "Field note")


def note_text(note: dict[str, Any], session: SessionExport, seg: StoredSegment) -> str:
    """What the note says: its typed text, its preset ("laughs") when nothing more was typed,
    or for a probe the probe's words from the guide."""
    if note.get("kind") == "probe":
        probes = session.probes.get(note_question(note, seg) or "", [])
        n = note.get("probe")
        if isinstance(n, int) and 1 <= n <= len(probes):
            return probes[n - 1]
        return f"probe {n}" if n else ""
    text = " ".join(str(note.get("text") or "").split())
    preset = str(note.get("preset") or "")
    if preset and text and text != preset:
        return f"({preset}) {text}"
    return text or (f"({preset})" if preset else "")


def note_question(note: dict[str, Any], seg: StoredSegment) -> str | None:
    """The guide question a note belongs to: a probe's own (it may be asked just after the next
    question began, within one segment), else the segment's."""
    return str(note.get("question") or seg.question or "") or None


def note_heading(note: dict[str, Any], seg: StoredSegment) -> str:
    """ "Field note 00:12:31, q3": the kind, the time on the recording, the guide question."""
    t = stamp(float(note.get("t", seg.start)))[1:-1]
    question = note_question(note, seg)
    where = f", {question}" if question else ""
    return f"{note_label(note)} {t}{where}"


def note_line(note: dict[str, Any], session: SessionExport, seg: StoredSegment) -> str:
    """ "[Field note 00:12:31, q3] (laughs) she laughed at the question" — one line, as TXT and
    DOCX show a note under the turn it was typed during."""
    body = note_text(note, session, seg)
    return f"[{note_heading(note, seg)}]" + (f" {body}" if body else "")


NoteAt = tuple[dict[str, Any], StoredSegment]  # a note and the segment it was typed during


def turns_with_notes(session: SessionExport) -> list[tuple[Turn, list[NoteAt]]]:
    """Each turn with the notes to show under it, in the order they were typed: those typed
    during its segments, and those typed during a segment the hallucination guard emptied
    just before it — that segment has no turn of its own, and a note must not vanish from
    the transcript. Notes after the last turn go under the last turn."""
    ts = turns(session)
    owner = {id(seg): i for i, t in enumerate(ts) for seg in t.segments}
    notes: list[list[NoteAt]] = [[] for _ in ts]
    pending: list[NoteAt] = []
    for seg in session.segments:
        pending += [(n, seg) for n in seg.notes]
        if id(seg) in owner:
            notes[owner[id(seg)]] += pending
            pending = []
    if pending and ts:
        notes[-1] += pending
    return list(zip(ts, notes, strict=True))


def _header(session: SessionExport) -> str:
    return f"Session {session.session_id} — {session.kind}, wave {session.wave}"


def wordless_notes(session: SessionExport) -> list[NoteAt]:
    """The notes of a session in which no words were transcribed at all (every segment
    emptied by the hallucination guard, or silence): with no turn to sit under, they are
    listed on their own rather than lost."""
    if turns(session):
        return []
    return [(n, seg) for seg in session.segments for n in seg.notes]


WORDLESS = "No words were transcribed in this session; the notes typed during it:"


def to_txt(session: SessionExport) -> str:
    """The transcript as plain text: a line per turn, a "## q3 (domain): question" heading
    where the guide question changes, and each note indented on its own line under its turn
    (an indented line is not "[hh:mm:ss] Name:", so no tool takes it for a turn)."""
    lines = [f"{_header(session)}, participants {', '.join(session.participants)}", ""]
    current_q = None
    for turn, notes in turns_with_notes(session):
        q = turn.question
        if q and q != current_q:
            current_q = q
            domain, qtext = session.questions.get(q, ("", ""))
            lines += ["", f"## {q} ({domain}): {qtext}", ""]
        lines.append(turn_line(turn))
        lines += [f"    {note_line(n, session, seg)}" for n, seg in notes]
    alone = wordless_notes(session)
    if alone:
        lines += [WORDLESS, *[f"    {note_line(n, session, seg)}" for n, seg in alone]]
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


_REFERENCE_START = re.compile(r"&(?=[A-Za-z0-9#])")


def _plain_vtt_text(text: str) -> str:
    """Text that every WebVTT reader shows as it is, for readers that decode neither tags nor
    character references (Taguette shows "<v P1>" and "&amp;" literally), and for NOTE blocks,
    where nothing is decoded: one line (a blank line would end the block), "<" and ">" as the
    look-alike angle quotes "‹" and "›" (so no tag can start and no "-->" can end up in the
    text), and "&" before a letter, digit or "#" as the full-width "＆" (so nothing reads as a
    character reference such as "&amp;"); a lone "&" between words stays."""
    text = " ".join(text.split()).replace("<", "‹").replace(">", "›")
    return _REFERENCE_START.sub("＆", text)


def _vtt(session: SessionExport, cue_text: Callable[[StoredSegment], str], notes: bool) -> str:
    """One cue per segment with words, CUE_TEXT(segment) its text; with NOTES, every note as a
    NOTE block just before the cue of the segment it was typed during (or of the next cue,
    for a segment the hallucination guard emptied), so a reader finds it beside the words."""
    out = ["WEBVTT", ""]
    pending: list[NoteAt] = []
    for seg in session.segments:
        if notes:
            pending += [(n, seg) for n in seg.notes]
        if not seg.text:
            continue
        out += [f"NOTE {_plain_vtt_text(note_line(n, session, s))}\n" for n, s in pending]
        pending = []
        out += [f"{_cue_time(seg.start, '.')} --> {_cue_time(seg.end, '.')}", cue_text(seg), ""]
    out += [f"NOTE {_plain_vtt_text(note_line(n, session, s))}\n" for n, s in pending]
    return "\n".join(out)


def to_vtt(session: SessionExport) -> str:
    """One cue per segment; a known speaker as the cue's voice, `<v P4>text`, and notes, flags
    and probes as NOTE blocks before the cue they belong to."""

    def cue(seg: StoredSegment) -> str:
        voice = f"<v {_vtt_escape(seg.label)}>" if seg.label else ""
        return voice + _vtt_escape(seg.text)

    return _vtt(session, cue, notes=True)


def to_plain_vtt(session: SessionExport) -> str:
    """WebVTT for tools that show cue text as it is written (Taguette shows `<v P1>` in the
    text): "P1: words" like SRT, no voice tags, no character references, no NOTE blocks — only
    what such a tool can show right (see _plain_vtt_text for how < > & are written)."""

    def cue(seg: StoredSegment) -> str:
        return _plain_vtt_text(f"{seg.label}: {seg.text}" if seg.label else seg.text)

    return _vtt(session, cue, notes=False)


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
                        if g.text or g.notes  # a session with no words keeps its notes
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


def _cell(text: str) -> str:
    """Text a spreadsheet shows as text: one starting with = + - @ (or a tab or carriage
    return) would be taken for a formula, so it gets a leading apostrophe, as Excel does."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def excel_csv(rows: Iterable[Sequence[str]]) -> str:
    """A CSV that Excel opens right by a double click: a byte-order mark first, without which
    Excel reads the file in the computer's legacy code page ("35â€“44" for "35–44", Chinese as
    noise), CRLF rows as RFC 4180 has them, and every cell through _cell so nothing runs as
    a formula. LibreOffice, R and pandas (encoding="utf-8-sig") read the same file."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows([_cell(str(v)) for v in row] for row in rows)
    return "\ufeff" + buf.getvalue()


def to_csv(content: ExportContent) -> str:
    """The case sheet, one row per participant, for NVivo's and MAXQDA's classification
    sheets: Case (the pseudonym, as the .qdpx names cases), Group (what a person reads,
    "Service user"), Group id (the study file's id, "service_user", stable for scripts and
    joins), then each exportable attribute, already generalised ("45–54"), in the order the
    questionnaire first gives them. The label comes before the id since the sheet is read by
    people first; an Excel sheet (excel_csv)."""
    labels: list[str] = []
    for c in content.cases.values():
        labels += [k for k in c.attributes if k not in labels]
    rows = [["Case", "Group", "Group id", *labels]]
    rows += [
        [c.pseudonym, c.group_name, c.group, *[c.attributes.get(k, "") for k in labels]] for c in content.cases.values()
    ]
    return excel_csv(rows)


def to_turns_csv(content: ExportContent) -> str:
    """Every turn of every session, one row each: Session, Start, End (hh:mm:ss), Speaker,
    Overlapping, Question, Question text, Text; an Excel sheet (excel_csv), so Chinese
    transcripts read right."""
    rows = [["Session", "Start", "End", "Speaker", "Overlapping", "Question", "Question text", "Text"]]
    for s in content.sessions:
        for t in turns(s):
            qtext = s.questions.get(t.question, ("", ""))[1] if t.question else ""
            rows.append(
                [
                    s.session_id,
                    stamp(t.start)[1:-1],
                    stamp(t.end)[1:-1],
                    t.speaker,
                    "yes" if t.overlap else "",
                    t.question or "",
                    qtext,
                    t.text,
                ]
            )
    return excel_csv(rows)


NOTE_STYLE = "Field note"
FLAG_STYLE = "Sensitive moment"


def _note_styles(doc: DocxDocument) -> None:
    """The paragraph styles notes are written in, so they read as notes beside the words
    (small, grey, italic, indented under the turn) and an analyst can restyle or hide them
    all at once in Word. A flagged sensitive moment is the same, in dark red: it asks for
    care when the passage is quoted."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Cm, Pt, RGBColor

    note = doc.styles.add_style(NOTE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    note.base_style = doc.styles["Normal"]
    note.quick_style = True
    note.font.italic = True
    note.font.size = Pt(9)
    note.font.color.rgb = RGBColor(0x59, 0x59, 0x59)
    note.paragraph_format.left_indent = Cm(1)
    note.paragraph_format.space_before = Pt(0)
    note.paragraph_format.space_after = Pt(6)
    flag = doc.styles.add_style(FLAG_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    flag.base_style = note
    flag.quick_style = True
    flag.font.color.rgb = RGBColor(0xA3, 0x1F, 0x1F)


def _properties(doc: DocxDocument, session: SessionExport, study: StudyInfo | None, now: datetime) -> None:
    """File > Properties says what the document is — the study and the session — and nothing
    about anyone in it: no pseudonyms, no names; the author is the app, not the template's
    "python-docx", and the dates are the export's, not the template's 2013."""
    cp = doc.core_properties
    what = f"session {session.session_id}"
    cp.title = (f"{study.title} — {what}" if study else what.capitalize())[:255]
    cp.subject = f"De-identified {session.kind} transcript, wave {session.wave}, guide version {session.guide_version}"
    cp.author = cp.last_modified_by = "fieldscribe"
    cp.comments = (f"Ethics reference: {study.ethics_reference}" if study else "")[:255]
    cp.keywords = "; ".join(k for k in (study.id if study else "", session.session_id, f"wave {session.wave}") if k)
    cp.category = "Interview transcript"
    cp.language = session.language
    cp.created = cp.modified = now.astimezone(UTC)
    cp.revision = 1


def to_docx(session: SessionExport, study: StudyInfo | None = None, now: datetime | None = None) -> bytes:
    """The TXT transcript as a Word document: each turn a paragraph laid out by turn_parts
    (the stamps plain, the speaker's label bold, "(overlapping)" in italics, the words plain,
    so the paragraph's text is the TXT line), the notes under it in the "Field note" or
    "Sensitive moment" style, and properties naming STUDY's session (as of NOW, UTC)."""
    from docx import Document

    doc = Document()
    _note_styles(doc)
    doc.add_heading(_header(session), level=1)
    doc.add_paragraph(f"Participants: {', '.join(session.participants)}. Guide version {session.guide_version}.")
    current_q = None
    for turn, notes in turns_with_notes(session):
        q = turn.question
        if q and q != current_q:
            current_q = q
            domain, qtext = session.questions.get(q, ("", ""))
            doc.add_heading(f"{q} ({domain}): {qtext}", level=2)
        para = doc.add_paragraph()
        plain = ""  # stamps, spaces and words run together in one plain run
        for part in turn_parts(turn):
            if part.kind in (SPEAKER, OVERLAP):
                if plain:
                    para.add_run(plain)
                    plain = ""
                run = para.add_run(part.text)
                run.bold, run.italic = (True, None) if part.kind == SPEAKER else (None, True)
            else:
                plain += part.text
        if plain:
            para.add_run(plain)
        _docx_notes(doc, session, notes)
    alone = wordless_notes(session)
    if alone:
        doc.add_paragraph(WORDLESS)
        _docx_notes(doc, session, alone)
    _properties(doc, session, study, now or datetime.now(UTC))
    buf = io.BytesIO()
    doc.save(buf)
    return _own_app_properties(buf.getvalue())


def _docx_notes(doc: Any, session: SessionExport, notes: list[NoteAt]) -> None:
    """Each note a paragraph in the "Field note" style (a flag in "Sensitive moment"), its
    heading bold."""
    for note, seg in notes:
        p = doc.add_paragraph(style=FLAG_STYLE if note.get("kind") == "flag" else NOTE_STYLE)
        p.add_run(f"[{note_heading(note, seg)}]").bold = True
        body = note_text(note, session, seg)
        if body:
            p.add_run(f" {body}")


APP_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>fieldscribe</Application></Properties>"
)


def _own_app_properties(docx: bytes) -> bytes:
    """The document's application properties (docProps/app.xml) say fieldscribe wrote it:
    python-docx's template says "Microsoft Macintosh Word", with a template name and word
    counts of an empty page, and python-docx has no API for that part."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = APP_XML.encode("utf-8") if item.filename == "docProps/app.xml" else src.read(item)
            dst.writestr(item, data)
    return out.getvalue()
