"""The .qdpx as the tools import it: read back with tests/refi_reader.py under the standard's
rules and under QualCoder's importer rules. What an analyst relies on: each case linked to its
interviews, every field note, probe and flag present once at the moment it was typed, no
empty selections (QualCoder's empty annotations), codes at the right characters, and with
consented audio a recording whose transcript plays from each segment's stamp."""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import pytest
from lxml import etree

from fieldscribe.core.export.content import CaseInfo, ExportContent
from fieldscribe.core.export.qdpx import build_qdpx

from .export_samples import INTERVIEW, IV, UNLABELLED, seg, session
from .refi_reader import Passage, read_qualcoder, read_standard
from .test_export import XSD

PROBES = {"q1": ["Who do you sit with at lunch?", "What do you do together?"]}
# a focus group: P2 speaks (a flag during her first sentence), P3 speaks (a probe asked),
# P5 was there but none of their turns is known, and a voice nobody named
FOCUS_GROUP = [
    seg(0, 0.0, 4.0, "What brings you all here?", IV, 0),
    seg(1, 4.5, 8.0, "The lunches, honestly.", "P2", 1, notes=[{"kind": "flag", "t": 6.0, "text": ""}]),
    seg(2, 8.0, 11.0, "And the people.", "P2", 1),
    seg(3, 11.5, 15.0, "I come for the cards.", "P3", 2, notes=[{"kind": "probe", "t": 14.0, "probe": 2}]),
    seg(4, 15.5, 18.0, "Somebody else said that.", None, 3),
]
FLAC = {"S1": b"fLaC recording of S1", "S3": b"fLaC recording of S3"}

S1 = "P1 — wave 1, 2026-11 (S1)"
S2 = "P1 — wave 1 (S2)"  # no month known: no date band
S3 = "focus group P2, P3, P5 — wave 1, 2026-12 (S3)"


@pytest.fixture
def content(study_en) -> ExportContent:
    fg = dataclasses.replace(
        session("S3", FOCUS_GROUP), kind="focus_group", participants=["P2", "P3", "P5"], month="2026-12", probes=PROBES
    )
    return ExportContent(
        study=study_en.study,
        cases={
            "P1": CaseInfo("P1", "service_user", {"Age": "45–54"}, "Service user"),
            **{p: CaseInfo(p, "service_user", {"Age": "25–34"}, "Service user") for p in ("P2", "P3", "P5")},
        },
        sessions=[dataclasses.replace(session("S1", INTERVIEW), month="2026-11"), session("S2", UNLABELLED), fg],
        redaction_counts={},
    )


@pytest.fixture
def qdpx(content) -> bytes:
    return build_qdpx(content, FLAC)


# every note as it must read, and the words of the segment it was typed during
NOTES = [
    (S1, "[Field note 00:00:05, q1] laughs", "Mostly [friend] and the cooks."),
    (S3, "[Sensitive moment 00:00:06, q1]", "The lunches, honestly."),
    (S3, "[Probe 00:00:14, q1] What do you do together?", "I come for the cards."),
]


def test_the_project_is_valid_against_the_official_schema(qdpx):
    with zipfile.ZipFile(io.BytesIO(qdpx)) as z:
        xml = etree.fromstring(z.read("project.qde"))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(xml), schema.error_log


def test_standard_rules_cases_sources_notes_and_codes(qdpx):
    got = read_standard(qdpx)
    assert got.lost == [] and got.empty_selections == []
    assert set(got.sources) == {S1, S2, S3}
    # each case lists its interviews (and their recordings)
    assert got.case_sources == {
        "P1": {S1, S2, f"{S1}.flac"},
        "P2": {S3, f"{S3}.flac"},
        "P3": {S3, f"{S3}.flac"},
        "P5": {S3, f"{S3}.flac"},
    }
    assert got.cases["P2"] == {"Group": "Service user", "Age": "25–34"}
    # a case's SelectionRefs are its own turns
    assert [p.text for p in got.case_passages["P2"]] == ["The lunches, honestly. [00:00:08] And the people."]
    assert got.case_passages["P5"] == []
    # every note once, attached once, to its session
    assert sorted((n.text, n.attached_to) for n in got.notes.values()) == sorted(
        (text, [f"source:{source}"]) for source, text, _ in NOTES
    )
    # codes at the right characters
    assert got.coded("P3", S3) == ["I come for the cards."]
    assert got.coded("Speaker D (S3)") == ["Somebody else said that."]
    assert got.coded("Sensitive moment") == ["The lunches, honestly."]
    assert got.coded("Probe") == ["I come for the cards."]
    assert got.codes["Case P2"] == "Cases" and "Cases" in got.categories
    assert got.coded("Case P1") == [got.sources[S1].rstrip("\n"), got.sources[S2].rstrip("\n")]
    assert got.coded("Case P2") == ["The lunches, honestly. [00:00:08] And the people."]
    assert got.coded("Case P5") == [got.sources[S3].rstrip("\n")]  # in the group, words unknown


def test_qualcoder_rules_keep_every_note_case_and_coding(qdpx):
    got = read_qualcoder(qdpx)
    assert got.lost == []
    # every note an annotation at the segment it was typed during; no empty annotations
    assert got.empty_selections == []
    assert sorted((p.source, memo, p.text) for p, memo in got.annotations) == sorted(NOTES)
    assert got.journals == {}
    # every case has its files (via its case code, which QualCoder then removes)
    assert {c: got.case_sources[c] for c in got.cases} == {"P1": {S1, S2}, "P2": {S3}, "P3": {S3}, "P5": {S3}}
    assert [p.text for p in got.case_passages["P3"]] == ["I come for the cards."]
    assert not any(code.startswith("Case ") for code in got.codes)
    assert got.cases["P1"] == {"Group": "Service user", "Age": "45–54"}
    # speakers, questions and marks survive (no code lost to a repeated name)
    assert got.coded("P1", S1) == [
        "Mostly [friend] and the cooks. [00:00:06] We play cards after lunch.",
        "Good, mostly good.",
        "Yes, that was in [month].",
    ]
    assert got.coded("P2") == ["The lunches, honestly. [00:00:08] And the people."]
    assert got.coded("Interviewer", S3) == ["What brings you all here?"]
    assert got.coded("Field note") == ["Mostly [friend] and the cooks."]
    q3 = next(code for code in got.codes if code.startswith("q3:"))
    assert got.coded(q3, S2) == ["We help each other."]
    assert got.categories == ["Speakers", "Field marks", "Cases"]


def test_audio_plays_from_each_segments_stamp(qdpx, content):
    for read in (read_standard, read_qualcoder):
        got = read(qdpx)
        assert [(a.name, a.data) for a in got.audio] == [(f"{S1}.flac", FLAC["S1"]), (f"{S3}.flac", FLAC["S3"])]
        for a, s, name in zip(got.audio, (content.sessions[0], content.sessions[2]), (S1, S3), strict=True):
            assert a.transcript == got.sources[name]  # the same text as the TextSource
            segments = [g for g in s.segments if g.text]
            assert [ms for ms, _ in a.sync] == [round(g.start * 1000) for g in segments]
            # each sync point is where the segment's stamp stands in the transcript
            stamps = [a.transcript[pos : pos + 10] for _, pos in a.sync]
            assert stamps == [f"[00:{int(g.start) // 60:02d}:{int(g.start) % 60:02d}]" for g in segments]
    # QualCoder files the transcript under the recording's name; codings stay on the TextSource
    got = read_qualcoder(qdpx)
    assert f"{S1}.flac.txt" in got.sources
    assert {p.source for _, p in got.codings} == {S1, S2, S3}


def test_without_audio_only_text_sources(content):
    data = build_qdpx(content, None)
    assert read_standard(data).audio == []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert all(n.endswith((".qde", ".txt")) for n in z.namelist())
    assert build_qdpx(content, {}) != b"" and read_standard(build_qdpx(content, {})).audio == []


# the forms the independent check found, by hand: the reader must see what QualCoder drops
OLD_FORM = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="old">
 <CodeBook><Codes><Code guid="C0000000-0000-0000-0000-000000000001" name="q1" isCodable="true"/></Codes></CodeBook>
 <Cases><Case guid="C0000000-0000-0000-0000-000000000002" name="P1">
  <SourceRef targetGUID="C0000000-0000-0000-0000-000000000003"/></Case></Cases>
 <Sources><TextSource guid="C0000000-0000-0000-0000-000000000003" name="S1 (wave 1)"
   plainTextPath="internal://C0000000-0000-0000-0000-000000000003.txt" creationDateTime="2026-01-01T00:00:00Z">
  <PlainTextSelection guid="C0000000-0000-0000-0000-000000000004" startPosition="0" endPosition="5">
   <Coding guid="C0000000-0000-0000-0000-000000000005"><CodeRef targetGUID="C0000000-0000-0000-0000-000000000001"/></Coding>
  </PlainTextSelection>
  <PlainTextSelection guid="C0000000-0000-0000-0000-000000000006" startPosition="6" endPosition="11">
   <NoteRef targetGUID="C0000000-0000-0000-0000-000000000007"/></PlainTextSelection>
 </TextSource></Sources>
 <Notes><Note guid="C0000000-0000-0000-0000-000000000007" name="S1 Field note" creationDateTime="2026-01-01T00:00:00Z">
  <PlainTextContent>laughs</PlainTextContent></Note></Notes>
</Project>"""


def test_the_reader_sees_what_qualcoder_dropped_in_the_old_form():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("project.qde", OLD_FORM)
        z.writestr("sources/C0000000-0000-0000-0000-000000000003.txt", "Hello there.")
    standard, qualcoder = read_standard(buf.getvalue()), read_qualcoder(buf.getvalue())
    assert standard.case_sources == {"P1": {"S1 (wave 1)"}}
    assert [n.text for n in standard.notes.values()] == ["laughs"]
    assert qualcoder.case_sources == {"P1": set()}  # the case has no files
    assert qualcoder.annotations == [(Passage("S1 (wave 1)", 6, 11, "there"), "")]  # an empty annotation
    assert any("NoteRef inside selection" in x for x in qualcoder.lost)
    assert any("neither an annotation nor a journal" in x for x in qualcoder.lost)  # the note is gone


def test_a_note_typed_during_an_emptied_segment_is_kept(study_en):
    """The hallucination guard may empty the segment a note was typed during: the note moves to
    the segment with words before it (as gather does for every format), and no tool loses it."""
    from fieldscribe.core.export.content import notes_kept

    segments = [dataclasses.replace(s, notes=list(s.notes)) for s in INTERVIEW]
    segments[7] = dataclasses.replace(segments[7], notes=[{"kind": "flag", "t": 20.5, "text": "crying"}])
    one = ExportContent(
        study_en.study,
        {"P1": CaseInfo("P1", "service_user", {}, "Service user")},
        [dataclasses.replace(session("S1", notes_kept(segments)), month="2026-11")],
        {},
    )
    for read in (read_standard, read_qualcoder):
        got = read(build_qdpx(one))
        texts = [n.text for n in got.notes.values()] if read is read_standard else [m for _p, m in got.annotations]
        assert "[Sensitive moment 00:00:20, q3] crying" in texts, texts
    assert segments[6].notes == [{"kind": "flag", "t": 20.5, "text": "crying"}]


def test_a_transcript_with_no_speakers_and_no_marks_has_no_empty_selection(study_en):
    """An imported recording transcribed with --no-speakers and not yet marked: nothing codes
    its turns, so none becomes a selection (QualCoder's empty annotation) — the case still has
    the whole session."""
    bare = [
        seg(0, 0.0, 3.0, "Hello there.", question=None, domain=None),
        seg(1, 3.0, 6.0, "Fine.", question=None, domain=None),
    ]
    one = ExportContent(
        study_en.study, {"P1": CaseInfo("P1", "service_user", {}, "Service user")}, [session("S1", bare)], {}
    )
    for read in (read_standard, read_qualcoder):
        got = read(build_qdpx(one))
        assert got.empty_selections == [] and got.lost == []
        assert got.case_sources["P1"] == {"P1 — wave 1 (S1)"}


def test_notes_of_a_session_with_no_words_are_kept(study_en):
    """Every segment emptied by the hallucination guard (or silence): the notes have no words
    to sit beside, so the .qdpx keeps them as notes of the session (a journal in QualCoder)
    and the TXT lists them."""
    from fieldscribe.core.export import formats

    silent = [
        seg(0, 0.0, 3.0, "", question=None, domain=None, notes=[{"kind": "note", "t": 1.0, "text": "no answer"}]),
        seg(1, 3.0, 6.0, "", question=None, domain=None, notes=[{"kind": "flag", "t": 4.0, "text": "crying"}]),
    ]
    one = ExportContent(
        study_en.study, {"P1": CaseInfo("P1", "service_user", {}, "Service user")}, [session("S1", silent)], {}
    )
    data = build_qdpx(one)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert etree.XMLSchema(etree.parse(str(XSD))).validate(etree.fromstring(z.read("project.qde")))
    got = read_standard(data)
    assert sorted(n.text.splitlines()[-1] for n in got.notes.values()) == [
        "[Field note 00:00:01] no answer",
        "[Sensitive moment 00:00:04] crying",
    ]
    assert sorted(m.splitlines()[-1] for m in read_qualcoder(data).journals.values()) == [
        "[Field note 00:00:01] no answer",
        "[Sensitive moment 00:00:04] crying",
    ]
    txt = formats.to_txt(one.sessions[0])
    assert "    [Field note 00:00:01] no answer" in txt and "    [Sensitive moment 00:00:04] crying" in txt
    # and the JSON (which `study assemble` rebuilds projects from) keeps them
    segments = json.loads(formats.to_json(one))["sessions"][0]["segments"]
    assert [n["text"] for s in segments for n in s["notes"]] == ["no answer", "crying"]
