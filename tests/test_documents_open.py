"""The files analysts open, opened by real readers rather than by our own parsing: the Word
transcript converted by LibreOffice to a PDF and read back with poppler, the subtitles parsed by
webvtt-py and srt (independent WebVTT and SubRip readers from PyPI), the sheets read by the csv
module the way Excel would need them, and the document's properties read back with python-docx.
Built from hand-made ExportContent (tests/export_samples.py) through build_files, so the files
are the bundle's files."""

from __future__ import annotations

import csv
import html
import io
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldscribe.core.export.content import ExportContent
from fieldscribe.core.export.exporter import build_files

from .export_samples import CHINESE, TURNS, document_content, turn_line


@pytest.fixture(scope="module")
def content(study_en) -> ExportContent:
    return document_content(study_en.study)


@pytest.fixture(scope="module")
def files(content) -> dict[str, bytes]:
    return build_files(content)


def squash(text: str) -> str:
    """Text with every run of whitespace as one space: a PDF breaks lines where it likes."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def pdfs(files, tmp_path_factory) -> dict[str, Path]:
    """Each session's .docx converted to PDF by LibreOffice, headless, with a profile of its own
    (two runs sharing the user's profile would wait on each other's lock)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed; scripts/test installs libreoffice-writer-nogui")
    assert shutil.which("pdftotext") and shutil.which("pdftoppm"), "scripts/test installs poppler-utils"
    root = tmp_path_factory.mktemp("docx")
    docs = []
    for name, data in files.items():
        if name.endswith(".docx"):
            (root / Path(name).name).write_bytes(data)
            docs.append(str(root / Path(name).name))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={(root / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(root / "pdf"),
            *docs,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return {Path(d).stem: root / "pdf" / f"{Path(d).stem}.pdf" for d in docs}


def pdf_text(pdf: Path) -> str:
    return squash(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout)


def pdf_fonts(pdf: Path) -> set[str]:
    out = subprocess.run(["pdffonts", str(pdf)], check=True, capture_output=True, text=True).stdout
    return {line.split()[0].split("+")[-1] for line in out.splitlines()[2:] if line.strip()}


def test_the_word_transcript_renders_in_libreoffice_with_stamps_speakers_notes_and_chinese(pdfs, tmp_path):
    assert set(pdfs) == {"S1", "S5", "S6"} and all(p.stat().st_size > 1000 for p in pdfs.values())
    s1 = pdf_text(pdfs["S1"])
    for t in TURNS:
        assert squash(turn_line(*t)) in s1, t
    assert "[Field note 00:00:05, q1] laughs" in s1

    s5 = pdf_text(pdfs["S5"])
    assert "[Probe 00:00:03, q1] What do you do together?" in s5  # the probe's words, not "Field note"
    assert "[00:00:04] P1: Mostly the cooks. [00:00:12] We play cards --> after <lunch> & R&amp;D." in s5
    assert "[Sensitive moment 00:00:10, q1] the [hospital] stay" in s5

    s6 = pdf_text(pdfs["S6"])
    assert "[00:00:00] Interviewer: 你平时在这里和谁在一起？" in s6
    assert f"[00:00:03] P1: {CHINESE[1].text} [00:00:07] {CHINESE[2].text}" in s6
    assert "[Field note 00:00:05, q1] 笑了" in s6
    # the Chinese glyphs came from a font of their own (no empty boxes): one the English PDF lacks
    assert pdf_fonts(pdfs["S6"]) - pdf_fonts(pdfs["S5"]), pdf_fonts(pdfs["S6"])

    # and the page draws: a picture of page 1, as a person would see it
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdfs["S6"]), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("page*.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000


def test_the_word_transcript_says_what_it_is_and_nothing_about_anyone(files, content):
    from docx import Document

    now = datetime.now(UTC)
    for s in content.sessions:
        cp = Document(io.BytesIO(files[f"transcripts/{s.session_id}.docx"])).core_properties
        assert cp.title == f"{content.study.study.title} — session {s.session_id}"
        assert cp.author == cp.last_modified_by == "fieldscribe"
        assert cp.comments == f"Ethics reference: {content.study.study.ethics_reference}"
        assert content.study.study.id in cp.keywords and cp.subject.startswith("De-identified interview transcript")
        assert cp.revision == 1 and cp.language == s.language and cp.last_printed is None
        assert cp.created == cp.modified and cp.created.year == now.year
        assert timedelta(0) <= now - cp.created < timedelta(minutes=5)
        props = " ".join(
            str(getattr(cp, k))
            for k in ("author", "title", "subject", "comments", "keywords", "category", "last_modified_by")
        )
        assert "python-docx" not in props and "2013" not in props
        # no pseudonym, no words of the transcript
        assert not any(p in props.split() for p in ("P1", "P1;", "P2")), props
        assert not any(seg.text and seg.text in props for seg in s.segments)
        # and the application properties name the program that wrote it, not the template's
        with zipfile.ZipFile(io.BytesIO(files[f"transcripts/{s.session_id}.docx"])) as z:
            app = z.read("docProps/app.xml").decode()
        assert "<Application>fieldscribe</Application>" in app and "Word" not in app and "Normal.dotm" not in app


def test_webvtt_py_reads_cues_voices_and_notes(files):
    import webvtt

    s1 = webvtt.from_string(files["subtitles/S1.vtt"].decode("utf-8"))
    assert [(c.start, c.end, c.voice) for c in s1.captions][:3] == [
        ("00:00:00.000", "00:00:03.000", "Interviewer"),
        ("00:00:03.500", "00:00:06.000", "P1"),
        ("00:00:06.000", "00:00:09.000", "P1"),
    ]
    assert [c.voice for c in s1.captions] == ["Interviewer", "P1", "P1", "Interviewer", "P1", "Interviewer"] + [
        "Speaker C",
        "P1",
    ]
    assert s1.captions[1].text == "Mostly [friend] and the cooks."
    assert s1.captions[1].comments == ["[Field note 00:00:05, q1] laughs"]  # the note, before its cue

    s5 = webvtt.from_string(files["subtitles/S5.vtt"].decode("utf-8"))
    # every cue survived the NOTE blocks around it, each note sits before the cue it belongs to
    assert [html.unescape(c.text) for c in s5.captions] == [
        "Who do you spend time with here?",
        "Mostly the cooks.",
        "We play cards --> after <lunch> & R&amp;D.",
        "Good.",
    ]
    assert s5.header_comments == ["[Probe 00:00:03, q1] What do you do together?"]
    assert [c.comments for c in s5.captions[1:]] == [
        ["[Field note 00:00:06, q1] (laughs) at [friend]"],
        ["[Sensitive moment 00:00:10, q1] the [hospital] stay"],
        ["[Field note 00:01:16, q3] first line second --\u203a line", "[Sensitive moment 00:01:17, q3]"],
    ]
    s6 = webvtt.from_string(files["subtitles/S6.vtt"].decode("utf-8"))
    assert [(c.voice, c.text) for c in s6.captions] == [("Interviewer", CHINESE[0].text)] + [
        ("P1", s.text) for s in CHINESE[1:]
    ]


def test_the_plain_webvtt_has_speakers_as_text_and_no_markup(files):
    import webvtt

    for sid in ("S1", "S5", "S6"):
        plain = webvtt.from_string(files[f"subtitles/{sid}.plain.vtt"].decode("utf-8"))
        voiced = webvtt.from_string(files[f"subtitles/{sid}.vtt"].decode("utf-8"))
        assert [(c.start, c.end) for c in plain.captions] == [(c.start, c.end) for c in voiced.captions]
        for p, v in zip(plain.captions, voiced.captions, strict=True):
            assert p.voice is None and p.raw_text == p.text  # no tags at all
            assert p.text.startswith(f"{v.voice}: ") and "&" not in p.text.replace(" & ", "")
        assert not plain.header_comments and not any(c.comments for c in plain.captions)
    s5 = webvtt.from_string(files["subtitles/S5.plain.vtt"].decode("utf-8"))
    assert s5.captions[2].text == "P1: We play cards --\u203a after \u2039lunch\u203a & R\uff06amp;D."


def test_srt_reads_cues_with_the_speaker_first(files):
    import srt

    subs = list(srt.parse(files["subtitles/S1.srt"].decode("utf-8")))
    assert [s.index for s in subs] == list(range(1, 9))
    assert (subs[1].start, subs[1].end, subs[1].content) == (
        timedelta(seconds=3.5),
        timedelta(seconds=6),
        "P1: Mostly [friend] and the cooks.",
    )
    assert subs[5].content == "Interviewer: Tell me about a time someone helped you."
    s5 = list(srt.parse(files["subtitles/S5.srt"].decode("utf-8")))
    assert [s.content for s in s5][2:] == ["P1: We play cards --> after <lunch> & R&amp;D.", "P1: Good."]
    assert [s.content for s in srt.parse(files["subtitles/S6.srt"].decode("utf-8"))][1] == f"P1: {CHINESE[1].text}"


def test_the_sheets_open_in_excel_as_utf8_with_labels(files):
    for name in ("cases.csv", "turns.csv"):
        raw = files[name]
        assert raw.startswith(b"\xef\xbb\xbf"), name  # the BOM that makes Excel read UTF-8
        assert raw.count(b"\n") == raw.count(b"\r\n") > 1, name  # CRLF rows
    rows = list(csv.reader(io.StringIO(files["cases.csv"].decode("utf-8-sig"), newline="")))
    assert rows == [
        ["Case", "Group", "Group id", "Age", "Role"],
        ["P1", "Service user", "service_user", "45–54", "'=cmd|' /C calc'!A0"],
        ["P2", "staff", "staff", "35–44", ""],
    ]
    turns = list(csv.DictReader(io.StringIO(files["turns.csv"].decode("utf-8-sig"), newline="")))
    assert [(r["Speaker"], r["Text"]) for r in turns if r["Session"] == "S6"] == [
        ("Interviewer", CHINESE[0].text),
        ("P1", f"{CHINESE[1].text} {CHINESE[2].text}"),
    ]
