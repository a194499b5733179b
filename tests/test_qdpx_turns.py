"""The .qdpx as turns: each speaker's turns coded at the right characters, GUIDs stable
across exports. Built from ExportContent directly (tests/test_qdpx_import.py reads it the way
the tools import it)."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from fieldscribe.core.export.content import ExportContent
from fieldscribe.core.export.qdpx import build_qdpx

from .export_samples import sample_content
from .test_export import XSD

NS = {"q": "urn:QDA-XML:project:1.0"}

# S1 as the source has it: one turn a line, every segment with its own stamp
S1_LINES = [
    "[00:00:00] Interviewer: Could you tell me about the people here?",
    "[00:00:03] P1: Mostly [friend] and the cooks. [00:00:06] We play cards after lunch.",
    "[00:00:09] Interviewer: And how is that?",
    "[00:00:10] P1: (overlapping) Good, mostly good.",
    "[00:00:14] Interviewer: Tell me about a time someone helped you.",
    "[00:00:16] Speaker C: She helped me once, a staff member.",
    "[00:01:01] P1: Yes, that was in [month].",
]
# what each turn's selection covers: its words, from the first to the end of the line
S1_WORDS = [line.split(": ", 1)[1].removeprefix("(overlapping) ") for line in S1_LINES]


@pytest.fixture
def content(study_en) -> ExportContent:
    return sample_content(study_en.study)


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

    s1 = xml.find(".//q:TextSource[@name='P1 — wave 1 (S1)']", NS)
    body = bodies[s1.get("plainTextPath").removeprefix("internal://").removesuffix(".txt")]
    # the source reads like the TXT transcript: one turn a line, stamp and speaker first
    assert body.splitlines() == S1_LINES

    by_code: dict[str, list[str]] = {}
    for sel in s1.iterfind("q:PlainTextSelection", NS):
        words = body[int(sel.get("startPosition")) : int(sel.get("endPosition"))]
        for ref in sel.iterfind("q:Coding/q:CodeRef", NS):
            by_code.setdefault(codes[ref.get("targetGUID")], []).append(words)
    assert by_code["Interviewer"] == [S1_WORDS[i] for i in (0, 2, 4)]
    assert by_code["P1"] == [S1_WORDS[i] for i in (1, 3, 6)]
    assert by_code["P1"][0] == "Mostly [friend] and the cooks. [00:00:06] We play cards after lunch."
    assert by_code["Speaker C (S1)"] == ["She helped me once, a staff member."]
    q1 = next(name for name in by_code if name.startswith("q1:"))
    assert by_code[q1] == S1_WORDS[:4]
    assert by_code["Experience of mutual help with peers"] == S1_WORDS[4:]
    # the segment the note was typed during, inside P1's turn, is coded as a field note
    assert by_code["Field note"] == ["Mostly [friend] and the cooks."]
    # the interview is P1's as a whole
    assert by_code["Case P1"] == [body.rstrip("\n")]

    # the note hangs on the source (once), says what, when and under which question, and
    # carries the position of its segment
    (note_ref,) = s1.findall("q:NoteRef", NS)
    assert not s1.findall(".//q:PlainTextSelection/q:NoteRef", NS)
    note = xml.find(f".//q:Note[@guid='{note_ref.get('targetGUID')}']", NS)
    assert note.findtext("q:PlainTextContent", namespaces=NS) == "[Field note 00:00:05, q1] laughs"
    at = note.find("q:PlainTextSelection", NS)
    assert body[int(at.get("startPosition")) : int(at.get("endPosition"))] == "Mostly [friend] and the cooks."
    assert at.find("q:Coding", NS) is None  # nothing codes the note's own text

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
    s2 = xml.find(".//q:TextSource[@name='P1 — wave 1 (S2)']", NS)
    body2 = bodies[s2.get("plainTextPath").removeprefix("internal://").removesuffix(".txt")]
    assert body2 == "[00:00:00] Hello, I am here. [00:00:04] It is fine.\n[00:00:09] We help each other.\n"
    coded2 = [codes[r.get("targetGUID")] for r in s2.iterfind(".//q:CodeRef", NS)]
    assert coded2 and not set(coded2) & {"Interviewer", "P1"}


def test_qdpx_guids_are_the_same_on_a_second_export(content):
    first, _ = read_qdpx(build_qdpx(content))
    second, _ = read_qdpx(build_qdpx(content))
    guids = lambda x: [e.get("guid") for e in x.iter() if e.get("guid")]  # noqa: E731
    assert guids(first) == guids(second)
    # every element has its own GUID, except each case's code, which has the Case's GUID
    repeated = {g for g in guids(first) if guids(first).count(g) > 1}
    case = first.find(".//q:Case[@name='P1']", NS).get("guid")
    assert repeated == {case} and guids(first).count(case) == 2
    assert first.find(f".//q:Code[@guid='{case}']", NS).get("name") == "Case P1"


def test_qdpx_without_speakers_has_no_speaker_codes(content):
    plain = ExportContent(content.study, content.cases, [content.sessions[1]], {})
    xml, _ = read_qdpx(build_qdpx(plain))
    assert xml.find(".//q:Code[@name='Speakers']", NS) is None
    assert xml.find(".//q:SelectionRef", NS) is None
