"""Exports as turns: who said what ("Interviewer:", "P1:", "Speaker C:") with a stamp at
each segment and the notes under their turn in TXT and DOCX, voice tags and NOTE blocks in
WebVTT, a plain WebVTT without markup, the speaker before each SRT cue, speakers in JSON, and
sheets Excel reads. Built from ExportContent directly: these are unit tests of the formats
(tests/test_documents_open.py opens the same files in real readers)."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest

from fieldscribe.core.export import formats
from fieldscribe.core.export.content import CaseInfo, ExportContent, turns
from fieldscribe.core.export.exporter import build_files
from fieldscribe.core.transcription.render import render

from .export_samples import IV, NOTED, TURNS, sample_content, seg, session, turn_line

NS = {"q": "urn:QDA-XML:project:1.0"}


@pytest.fixture
def content(study_en) -> ExportContent:
    return sample_content(study_en.study)


def test_turns_join_one_speakers_segments_and_break_at_speakers_and_questions(content):
    got = [(t.speaker, t.overlap, t.text) for t in turns(content.sessions[0])]
    assert got == [(who, overlap, text) for _s, who, overlap, text in TURNS]
    assert [t.question for t in turns(content.sessions[0])] == ["q1"] * 4 + ["q3"] * 3


def test_txt_is_turns_with_a_stamp_and_a_speaker_each(content):
    txt = formats.to_txt(content.sessions[0])
    assert "[00:00:03] P1: Mostly [friend] and the cooks. [00:00:06] We play cards after lunch." in txt
    assert (
        txt.splitlines()
        == [
            "Session S1 — interview, wave 1, participants P1",
            "",
            "",
            "## q1 (Experience with peers in the day-care centre): Who do you spend time with here?",
            "",
            turn_line(*TURNS[0]),
            turn_line(*TURNS[1]),
            "    [Field note 00:00:05, q1] laughs",  # under the turn it was typed during
            *[turn_line(*t) for t in TURNS[2:4]],
            "",
            "## q3 (Experience of mutual help with peers): A time when someone here helped you?",
            "",
            *[turn_line(*t) for t in TURNS[4:]],
        ]
    )


def test_unlabelled_segments_keep_the_plain_form(content):
    txt = formats.to_txt(content.sessions[1])
    lines = [line for line in txt.splitlines() if line.startswith("[")]
    assert lines == ["[00:00:00] Hello, I am here. [00:00:04] It is fine.", "[00:00:09] We help each other."]
    assert "<v" not in formats.to_vtt(content.sessions[1])
    assert "00:00:00,000 --> 00:00:04,000\nHello, I am here.\n" in formats.to_srt(content.sessions[1])
    assert all(s["speaker"] is None for s in json.loads(formats.to_json(content))["sessions"][1]["segments"])


def test_docx_lays_out_turns_as_the_txt_does_with_the_speaker_bold_and_the_stamps_plain(content):
    from docx import Document

    doc = Document(io.BytesIO(formats.to_docx(content.sessions[0])))
    paras = [p for p in doc.paragraphs if p.style.name == "Normal" and p.text.startswith("[")]
    assert [p.text for p in paras] == [turn_line(*t) for t in TURNS]
    for p, (stamp, who, overlap, text) in zip(paras, TURNS, strict=True):
        assert [r.text for r in p.runs if r.bold] == [f"{who}:"], p.text
        assert p.runs[0].text == f"{stamp} " and not p.runs[0].bold and not p.runs[0].italic
        assert [r.text for r in p.runs if r.italic] == (["(overlapping)"] if overlap else [])
        # the words, with the stamps of later segments among them, are plain
        assert p.runs[-1].text.endswith(text.split(". ")[-1]) and not p.runs[-1].bold and not p.runs[-1].italic
    assert paras[1].runs[-1].text == " Mostly [friend] and the cooks. [00:00:06] We play cards after lunch."
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 2"]
    assert [h.split(" ")[0] for h in headings] == ["q1", "q3"]
    # the note, in its own style right under P1's first turn
    i = [p.text for p in doc.paragraphs].index(paras[1].text)
    assert (doc.paragraphs[i + 1].style.name, doc.paragraphs[i + 1].text) == (
        "Field note",
        "[Field note 00:00:05, q1] laughs",
    )
    # the unlabelled session: no bold label, the words right after the stamp
    plain = Document(io.BytesIO(formats.to_docx(content.sessions[1])))
    turn_paras = [p for p in plain.paragraphs if p.text.startswith("[")]
    assert [p.text for p in turn_paras] == [
        "[00:00:00] Hello, I am here. [00:00:04] It is fine.",
        "[00:00:09] We help each other.",
    ]
    assert not any(r.bold for p in turn_paras for r in p.runs)


def test_notes_flags_and_probes_sit_under_their_turn_in_txt_and_docx():
    from docx import Document
    from docx.shared import Pt, RGBColor

    noted = session("S5", NOTED)
    lines = formats.to_txt(noted).splitlines()
    assert lines[5:] == [
        "[00:00:00] Interviewer: Who do you spend time with here?",
        "    [Probe 00:00:03, q1] What do you do together?",  # the probe's words from the guide
        "[00:00:04] P1: Mostly the cooks. [00:00:12] We play cards --> after <lunch> & R&amp;D.",
        "    [Field note 00:00:06, q1] (laughs) at [friend]",
        # typed during a segment the guard emptied: under the next turn, not lost
        "    [Sensitive moment 00:00:10, q1] the [hospital] stay",
        "",
        "## q3 (Experience of mutual help with peers): A time when someone here helped you?",
        "",
        "[00:01:15] P1: Good.",
        "    [Field note 00:01:16, q3] first line second --> line",  # one line: no blank line inside
        "    [Sensitive moment 00:01:17, q3]",
    ]
    doc = Document(io.BytesIO(formats.to_docx(noted)))
    body = [(p.style.name, p.text) for p in doc.paragraphs][3:]
    assert body == [
        ("Normal", lines[5]),
        ("Field note", lines[6].strip()),
        ("Normal", lines[7]),
        ("Field note", lines[8].strip()),
        ("Sensitive moment", lines[9].strip()),
        ("Heading 2", lines[11].removeprefix("## ")),
        ("Normal", lines[13]),
        ("Field note", lines[14].strip()),
        ("Sensitive moment", lines[15].strip()),
    ]
    note = doc.styles["Field note"]
    assert note.font.italic and note.font.size == Pt(9) and note.font.color.rgb == RGBColor(0x59, 0x59, 0x59)
    assert note.paragraph_format.left_indent > 0
    flag = doc.styles["Sensitive moment"]
    assert flag.base_style.name == "Field note" and flag.font.color.rgb != note.font.color.rgb
    # the label in bold, the text plain, in every note
    for p in doc.paragraphs:
        if p.style.name in ("Field note", "Sensitive moment"):
            assert p.runs[0].bold and p.runs[0].text.startswith("[") and p.runs[0].text.endswith("]")
            assert not any(r.bold for r in p.runs[1:])


def parse_vtt(text: str) -> list[tuple[str, str, str | None, str]]:
    """(start, end, voice, text) per cue, by the WebVTT rules this export uses; NOTE blocks
    (comments) are skipped."""
    blocks = text.strip().split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for block in blocks[1:]:
        if block.startswith("NOTE"):
            assert "-->" not in block and "\n" not in block, block  # a comment, one line
            continue
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


def test_vtt_notes_are_note_blocks_before_their_cue_and_cannot_break_it():
    vtt = formats.to_vtt(session("S5", NOTED))
    blocks = vtt.strip().split("\n\n")
    assert blocks[1:4] == [
        "NOTE [Probe 00:00:03, q1] What do you do together?",
        "00:00:00.000 --> 00:00:04.000\n<v Interviewer>Who do you spend time with here?",
        "NOTE [Field note 00:00:06, q1] (laughs) at [friend]",
    ]
    # the flag of the emptied segment comes before the next cue; a note's "-->" and blank line are gone
    assert blocks[5] == "NOTE [Sensitive moment 00:00:10, q1] the [hospital] stay"
    assert blocks[7:10] == [
        "NOTE [Field note 00:01:16, q3] first line second --\u203a line",
        "NOTE [Sensitive moment 00:01:17, q3]",
        "00:01:15.000 --> 00:01:18.000\n<v P1>Good.",
    ]
    assert [c[2:] for c in parse_vtt(vtt)] == [
        ("Interviewer", "Who do you spend time with here?"),
        ("P1", "Mostly the cooks."),
        ("P1", "We play cards --> after <lunch> & R&amp;D."),
        ("P1", "Good."),
    ]


def test_plain_vtt_has_the_speaker_as_text_and_no_markup(content):
    plain = formats.to_plain_vtt(content.sessions[0])
    blocks = plain.strip().split("\n\n")
    assert blocks[0] == "WEBVTT" and len(blocks) == 9  # a cue per segment with words, no NOTE blocks
    assert blocks[2] == "00:00:03.500 --> 00:00:06.000\nP1: Mostly [friend] and the cooks."
    assert blocks[7] == "00:00:16.500 --> 00:00:20.000\nSpeaker C: She helped me once, a staff member."
    tricky = formats.to_plain_vtt(session("S5", NOTED))
    # look-alikes for what a reader would take for a tag, a timing arrow or a character reference
    assert "P1: We play cards --\u203a after \u2039lunch\u203a & R\uff06amp;D." in tricky
    cue_lines = [line for line in tricky.splitlines()[1:] if line and "-->" not in line]
    assert len(cue_lines) == 4 and not any(c in line for line in cue_lines for c in "<>")
    assert "NOTE" not in tricky
    # no speakers known: the words alone
    assert (
        formats.to_plain_vtt(content.sessions[1]).split("\n\n")[1] == "00:00:00.000 --> 00:00:04.000\nHello, I am here."
    )


def test_case_sheet_has_labels_beside_ids_and_reads_in_excel(content):
    raw = formats.to_csv(content).encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == 2 and b"\n" not in raw.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows == [["Case", "Group", "Group id", "Age"], ["P1", "Service user", "service_user", "45–54"]]
    # no label known: the id; a value a spreadsheet would run as a formula stays text
    cases = {
        "P2": CaseInfo("P2", "staff", {"Role": "=1+1", "Age": "35–44"}),
        "P3": CaseInfo("P3", "staff", {"Age": "25–34"}, "Staff"),
    }
    sheet = formats.to_csv(ExportContent(content.study, cases, [], {}))
    assert list(csv.reader(io.StringIO(sheet.removeprefix("\ufeff")))) == [
        ["Case", "Group", "Group id", "Role", "Age"],
        ["P2", "staff", "staff", "'=1+1", "35–44"],
        ["P3", "Staff", "staff", "", "25–34"],
    ]


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


def test_render_shows_the_speaker_label(content):
    lines = render(content.sessions[0].segments)
    assert lines[1] == "[00:00:00] Interviewer: Could you tell me about the people here?"
    assert "[00:00:03] P1: Mostly [friend] and the cooks. [laughs]" in lines
    assert "[00:00:10] P1: (overlapping) Good, mostly good." in lines
    assert "[00:00:16] Speaker C: She helped me once, a staff member." in lines
    assert render(content.sessions[1].segments)[1] == "[00:00:00] Hello, I am here."
