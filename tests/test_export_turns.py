"""Exports as turns: who said what ("Interviewer:", "P1:", "Speaker C:") with a stamp at
each turn in TXT and DOCX, voice tags in WebVTT, the speaker before each SRT cue, speakers
in JSON and a turns sheet, and each speaker's turns coded in the .qdpx. Built from
ExportContent directly: these are unit tests of the formats."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile

import pytest
from lxml import etree

from fieldscribe.core.export import formats
from fieldscribe.core.export.content import CaseInfo, ExportContent, SessionExport, turns
from fieldscribe.core.export.exporter import build_files
from fieldscribe.core.export.qdpx import build_qdpx
from fieldscribe.core.transcription.render import render
from fieldscribe.core.transcripts import StoredSegment

from .test_export import XSD

NS = {"q": "urn:QDA-XML:project:1.0"}


def seg(idx, start, end, text, speaker=None, voice=None, question="q1", domain="peers", **kw) -> StoredSegment:
    return StoredSegment(
        idx=idx,
        start=start,
        end=end,
        text=text,
        speaker=speaker,
        voice=voice,
        question=question,
        domain=domain,
        **kw,
    )


IV = "interviewer"
INTERVIEW = [
    seg(0, 0.0, 3.0, "Could you tell me about the people here?", IV, 0),
    seg(1, 3.5, 6.0, "Mostly [friend] and the cooks.", "P1", 1, notes=[{"kind": "note", "t": 5.0, "text": "laughs"}]),
    seg(2, 6.0, 9.0, "We play cards after lunch.", "P1", 1),
    seg(3, 9.5, 11.0, "And how is that?", IV, 0),
    seg(4, 10.5, 14.0, "Good, mostly good.", "P1", 1, overlap=True),
    seg(5, 14.0, 16.0, "Tell me about a time someone helped you.", IV, 0, "q3", "mutual_help"),
    seg(6, 16.5, 20.0, "She helped me once, a staff member.", None, 2, "q3", "mutual_help"),
    seg(7, 20.0, 21.0, "", None, None, "q3", "mutual_help", flags=["dropped:repeat"]),
    seg(8, 61.0, 65.0, "Yes, that was in [month].", "P1", 1, "q3", "mutual_help"),
]
# no diarization and no K marks: today's unlabelled form
UNLABELLED = [
    seg(0, 0.0, 4.0, "Hello, I am here."),
    seg(1, 4.0, 8.0, "It is fine."),
    seg(2, 9.0, 12.0, "We help each other.", question="q3", domain="mutual_help"),
]


def session(sid: str, segments: list[StoredSegment]) -> SessionExport:
    return SessionExport(
        session_id=sid,
        kind="interview",
        wave=1,
        guide_version="f84d7fce6609",
        language="en",
        participants=["P1"],
        segments=segments,
        questions={
            "q1": ("Experience with peers in the day-care centre", "Who do you spend time with here?"),
            "q3": ("Experience of mutual help with peers", "A time when someone here helped you?"),
        },
        domains={"peers": "Experience with peers in the day-care centre", "mutual_help": "Mutual help"},
    )


@pytest.fixture
def content(study_en) -> ExportContent:
    return ExportContent(
        study=study_en.study,
        cases={"P1": CaseInfo("P1", "service_user", {"Age": "45–54"})},
        sessions=[session("S1", INTERVIEW), session("S2", UNLABELLED)],
        redaction_counts={},
    )


# what each turn of S1 says, in order
TURNS = [
    ("[00:00:00]", "Interviewer", False, "Could you tell me about the people here?"),
    ("[00:00:03]", "P1", False, "Mostly [friend] and the cooks. We play cards after lunch."),
    ("[00:00:09]", "Interviewer", False, "And how is that?"),
    ("[00:00:10]", "P1", True, "Good, mostly good."),
    ("[00:00:14]", "Interviewer", False, "Tell me about a time someone helped you."),
    ("[00:00:16]", "Speaker C", False, "She helped me once, a staff member."),
    ("[00:01:01]", "P1", False, "Yes, that was in [month]."),
]


def turn_line(stamp: str, who: str, overlap: bool, text: str) -> str:
    return f"{stamp} {who}: " + ("(overlapping) " if overlap else "") + text


def test_turns_join_one_speakers_segments_and_break_at_speakers_and_questions(content):
    got = [(t.speaker, t.overlap, t.text) for t in turns(content.sessions[0])]
    assert got == [(who, overlap, text) for _s, who, overlap, text in TURNS]
    assert [t.question for t in turns(content.sessions[0])] == ["q1"] * 4 + ["q3"] * 3


def test_txt_is_turns_with_a_stamp_and_a_speaker_each(content):
    txt = formats.to_txt(content.sessions[0])
    assert txt.splitlines() == [
        "Session S1 — interview, wave 1, participants P1",
        "",
        "",
        "## q1 (Experience with peers in the day-care centre): Who do you spend time with here?",
        "",
        *[turn_line(*t) for t in TURNS[:4]],
        "",
        "## q3 (Experience of mutual help with peers): A time when someone here helped you?",
        "",
        *[turn_line(*t) for t in TURNS[4:]],
    ]


def test_unlabelled_segments_keep_the_plain_form(content):
    txt = formats.to_txt(content.sessions[1])
    lines = [line for line in txt.splitlines() if line.startswith("[")]
    assert lines == ["[00:00:00] Hello, I am here. It is fine.", "[00:00:09] We help each other."]
    assert "<v" not in formats.to_vtt(content.sessions[1])
    assert "00:00:00,000 --> 00:00:04,000\nHello, I am here.\n" in formats.to_srt(content.sessions[1])
    assert all(s["speaker"] is None for s in json.loads(formats.to_json(content))["sessions"][1]["segments"])


def test_docx_alternates_turns_with_the_speaker_bold_and_the_stamp_plain(content):
    from docx import Document

    doc = Document(io.BytesIO(formats.to_docx(content.sessions[0])))
    paras = [p for p in doc.paragraphs if p.text.startswith("[")]
    assert [p.text for p in paras] == [turn_line(*t) for t in TURNS]
    for p, (stamp, who, overlap, text) in zip(paras, TURNS, strict=True):
        bold = [r.text for r in p.runs if r.bold]
        assert bold == [f"{who}:"], p.text
        assert p.runs[0].text.startswith(stamp) and not p.runs[0].bold
        assert [r.text for r in p.runs if r.italic] == (["(overlapping)"] if overlap else [])
        assert p.runs[-1].text == text
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert [h.split(" ")[0] for h in headings] == ["q1", "q3"]
    # the unlabelled session: no bold label, the words right after the stamp
    plain = Document(io.BytesIO(formats.to_docx(content.sessions[1])))
    turn_paras = [p for p in plain.paragraphs if p.text.startswith("[")]
    assert [p.text for p in turn_paras] == [
        "[00:00:00] Hello, I am here. It is fine.",
        "[00:00:09] We help each other.",
    ]
    assert not any(r.bold for p in turn_paras for r in p.runs)


def parse_vtt(text: str) -> list[tuple[str, str, str | None, str]]:
    """(start, end, voice, text) per cue, by the WebVTT rules this export uses."""
    blocks = text.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for block in blocks[1:]:
        timing, payload = block.split("\n")  # one line of text per cue, no blank line inside
        m = re.fullmatch(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})", timing)
        assert m, timing
        v = re.fullmatch(r"<v ([^>]+)>(.*)", payload)
        voice, body = (html.unescape(v.group(1)), v.group(2)) if v else (None, payload)
        assert "<" not in body and "-->" not in body
        cues.append((m.group(1), m.group(2), voice, html.unescape(body)))
    return cues


def test_vtt_has_a_voice_tag_per_cue(content):
    cues = parse_vtt(formats.to_vtt(content.sessions[0]))
    assert [c[2] for c in cues] == ["Interviewer", "P1", "P1", "Interviewer", "P1", "Interviewer", "Speaker C", "P1"]
    assert cues[1] == ("00:00:03.500", "00:00:06.000", "P1", "Mostly [friend] and the cooks.")


def test_vtt_escapes_cue_text_and_voice_names(content):
    tricky = session(
        "S3", [seg(0, 0.0, 2.0, "Me & <him> --> later\nand more", "P<2>&", None), seg(1, 2.0, 3.0, "ok", IV)]
    )
    vtt = formats.to_vtt(tricky)
    assert "<v P&lt;2&gt;&amp;>Me &amp; &lt;him&gt; --&gt; later and more" in vtt
    cues = parse_vtt(vtt)
    assert cues[0][2:] == ("P<2>&", "Me & <him> --> later and more") and cues[1][2:] == ("Interviewer", "ok")


def test_srt_puts_the_speaker_before_each_cue(content):
    srt = formats.to_srt(content.sessions[0])
    blocks = srt.strip().split("\n\n")
    assert blocks[0] == "1\n00:00:00,000 --> 00:00:03,000\nInterviewer: Could you tell me about the people here?"
    assert blocks[4] == "5\n00:00:10,500 --> 00:00:14,000\nP1: Good, mostly good."
    assert blocks[6] == "7\n00:00:16,500 --> 00:00:20,000\nSpeaker C: She helped me once, a staff member."
    assert len(blocks) == 8  # the dropped segment has no cue


def test_json_segments_and_turns_carry_speakers(content):
    data = json.loads(formats.to_json(content))
    s1 = data["sessions"][0]
    assert [(g["speaker"], g["speaker_id"], g["voice"], g["overlap"]) for g in s1["segments"]][:5] == [
        ("Interviewer", "interviewer", 0, False),
        ("P1", "P1", 1, False),
        ("P1", "P1", 1, False),
        ("Interviewer", "interviewer", 0, False),
        ("P1", "P1", 1, True),
    ]
    assert s1["segments"][6]["speaker"] == "Speaker C" and s1["segments"][6]["speaker_id"] is None
    assert [(t["speaker"], t["overlap"], t["text"]) for t in s1["turns"]] == [(w, o, x) for _s, w, o, x in TURNS]
    assert s1["turns"][1]["start"] == 3.5 and s1["turns"][1]["end"] == 9.0
    assert [t["speaker"] for t in data["sessions"][1]["turns"]] == [None, None]


def test_turns_sheet_reads_in_a_spreadsheet(content):
    raw = formats.to_turns_csv(content).encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Session", "Start", "End", "Speaker", "Overlapping", "Question", "Question text", "Text"]
    s1 = [r for r in rows[1:] if r[0] == "S1"]
    assert [(r[3], r[7]) for r in s1] == [(w, x) for _s, w, _o, x in TURNS]
    assert s1[1][:6] == ["S1", "00:00:03", "00:00:09", "P1", "", "q1"]
    assert s1[3][4] == "yes" and s1[6][1] == "00:01:01"
    assert [(r[3], r[7]) for r in rows[1:] if r[0] == "S2"] == [
        ("", "Hello, I am here. It is fine."),
        ("", "We help each other."),
    ]
    # a turn a spreadsheet would take for a formula stays text
    risky = session("S4", [seg(0, 0.0, 1.0, "=HYPERLINK(1)", "P1", 1)])
    sheet = formats.to_turns_csv(ExportContent(content.study, content.cases, [risky], {}))
    assert list(csv.reader(io.StringIO(sheet.lstrip("\ufeff"))))[1][7] == "'=HYPERLINK(1)"
    assert "turns.csv" in build_files(content) and "cases.csv" in build_files(content)


def read_qdpx(data: bytes) -> tuple[etree._Element, dict[str, str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = etree.fromstring(z.read("project.qde"))
        bodies = {
            n.removeprefix("sources/").removesuffix(".txt"): z.read(n).decode()
            for n in z.namelist()
            if n.startswith("sources/")
        }
    return xml, bodies


def test_qdpx_codes_each_speakers_turns_at_the_right_characters(content):
    xml, bodies = read_qdpx(build_qdpx(content))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(xml), schema.error_log

    codes = {c.get("guid"): c.get("name") for c in xml.iterfind(".//q:Code", NS)}
    speakers = xml.find(".//q:Code[@name='Speakers']", NS)
    assert speakers is not None and speakers.get("isCodable") == "false"
    assert [c.get("name") for c in speakers.iterfind("q:Code", NS)] == ["Interviewer", "P1", "Speaker C (S1)"]

    s1 = xml.find(".//q:TextSource[@name='S1 (wave 1)']", NS)
    body = bodies[s1.get("plainTextPath").removeprefix("internal://").removesuffix(".txt")]
    # the source reads like the TXT transcript: one turn a line, stamp and speaker first
    assert body.splitlines() == [turn_line(*t) for t in TURNS]

    by_code: dict[str, list[str]] = {}
    for sel in s1.iterfind("q:PlainTextSelection", NS):
        words = body[int(sel.get("startPosition")) : int(sel.get("endPosition"))]
        for ref in sel.iterfind("q:Coding/q:CodeRef", NS):
            by_code.setdefault(codes[ref.get("targetGUID")], []).append(words)
    assert by_code["Interviewer"] == [t[3] for t in TURNS if t[1] == "Interviewer"]
    assert by_code["P1"] == [t[3] for t in TURNS if t[1] == "P1"]
    assert by_code["Speaker C (S1)"] == ["She helped me once, a staff member."]
    q1 = next(name for name in by_code if name.startswith("q1:"))
    assert by_code[q1] == [t[3] for t in TURNS[:4]]
    assert by_code["Experience of mutual help with peers"] == [t[3] for t in TURNS[4:]]

    # the note sits on the segment it was typed during, inside P1's turn
    note_ref = s1.find(".//q:PlainTextSelection/q:NoteRef", NS)
    sel = note_ref.getparent()
    assert body[int(sel.get("startPosition")) : int(sel.get("endPosition"))] == "Mostly [friend] and the cooks."
    note = xml.find(f".//q:Note[@guid='{note_ref.get('targetGUID')}']", NS)
    assert note.findtext("q:PlainTextContent", namespaces=NS) == "laughs"

    # P1's turns belong to P1's case
    case = xml.find(".//q:Case[@name='P1']", NS)
    refs = {r.get("targetGUID") for r in case.iterfind("q:SelectionRef", NS)}
    p1_turns = {
        sel.get("guid")
        for sel in s1.iterfind("q:PlainTextSelection", NS)
        if any(codes[r.get("targetGUID")] == "P1" for r in sel.iterfind("q:Coding/q:CodeRef", NS))
    }
    assert refs == p1_turns and len(refs) == 3

    # the unlabelled session: turns coded to questions, none to a speaker
    s2 = xml.find(".//q:TextSource[@name='S2 (wave 1)']", NS)
    body2 = bodies[s2.get("plainTextPath").removeprefix("internal://").removesuffix(".txt")]
    assert body2 == "[00:00:00] Hello, I am here. It is fine.\n[00:00:09] We help each other.\n"
    coded2 = [codes[r.get("targetGUID")] for r in s2.iterfind(".//q:CodeRef", NS)]
    assert coded2 and not set(coded2) & {"Interviewer", "P1"}


def test_qdpx_guids_are_the_same_on_a_second_export(content):
    first, _ = read_qdpx(build_qdpx(content))
    second, _ = read_qdpx(build_qdpx(content))
    guids = lambda x: [e.get("guid") for e in x.iter() if e.get("guid")]  # noqa: E731
    assert guids(first) == guids(second) and len(set(guids(first))) == len(guids(first))


def test_qdpx_without_speakers_has_no_speaker_codes(content):
    plain = ExportContent(content.study, content.cases, [content.sessions[1]], {})
    xml, _ = read_qdpx(build_qdpx(plain))
    assert xml.find(".//q:Code[@name='Speakers']", NS) is None
    assert xml.find(".//q:SelectionRef", NS) is None


def test_render_shows_the_speaker_label(content):
    lines = render(content.sessions[0].segments)
    assert lines[1] == "[00:00:00] Interviewer: Could you tell me about the people here?"
    assert "[00:00:03] P1: Mostly [friend] and the cooks. [laughs]" in lines
    assert "[00:00:10] P1: (overlapping) Good, mostly good." in lines
    assert "[00:00:16] Speaker C: She helped me once, a staff member." in lines
    assert render(content.sessions[1].segments)[1] == "[00:00:00] Hello, I am here."
