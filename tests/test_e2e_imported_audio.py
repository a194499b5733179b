"""An interview recorded on a handheld device, end to end through the real program: the file is
imported, the interviewer says where each guide question began (`fieldscribe mark`, some marks
before transcribing and some after), Whisper transcribes it, it is reviewed and exported — and
the analyst's .qdpx codes every answer under its question, and every transcript line carries
its own time stamp."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lxml import etree

from .conftest import PASSPHRASE
from .conversation import INTERVIEW, VOICES, conversation
from .test_e2e_record import prepared_vault
from .test_export import XSD

pytestmark = pytest.mark.slow

FS = str(Path(sys.executable).parent / "fieldscribe")
NS = {"q": "urn:QDA-XML:project:1.0"}


def _fs(vault: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [FS, "--vault", str(vault), *args],
        env={**os.environ, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert (r.returncode == 0) == ok, f"{args}: {r.stdout}\n{r.stderr}"
    return r


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']{4,}", text.lower()))


def test_a_handheld_recording_is_coded_by_question_from_marks_added_afterwards(tmp_path):
    vault = tmp_path / "vault"
    sid = prepared_vault(vault)
    lines = INTERVIEW[:8]
    audio, ref = conversation(lines, ["Interviewer", "P1"] * 4, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=7)
    wav = tmp_path / "handheld.wav"
    sf.write(wav, np.clip(audio, -1, 1), 16000, subtype="PCM_16")
    assert "Imported" in _fs(vault, "audio", "import", sid, str(wav)).stdout
    wav.unlink()

    asked = [r for r in ref if r.speaker == "Interviewer"]
    questions = ["q1", "q2", "q3", "q4"]
    # two questions marked before transcribing, two after: both paths code the transcript
    for r, q in zip(asked[:2], questions[:2], strict=True):
        out = _fs(vault, "mark", sid, "--at", _mmss(r.start), "--question", q).stdout
        assert f"{q} begins" in out
    _fs(vault, "transcribe", sid, "--model", "tiny.en")
    for r, q in zip(asked[2:], questions[2:], strict=True):
        _fs(vault, "mark", sid, "--at", _mmss(r.start), "--question", q)
    answer = next(r for r in ref if r.speaker == "P1" and r.start > asked[1].start)
    _fs(vault, "mark", sid, "--at", _mmss(answer.start + 1), "--note", "laughs")
    _fs(vault, "mark", sid, "--at", _mmss(answer.start + 2), "--flag", "--note", "voice shaking")
    listed = _fs(vault, "marks", sid).stdout
    assert listed.count(" begins") == 4 and "sensitive moment 'voice shaking'" in listed

    # mistakes are one sentence and change nothing
    bad = _fs(vault, "mark", sid, "--at", "99:00", "--question", "q5", ok=False)
    assert bad.stderr.strip().startswith("Error:") and "past the end" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert _fs(vault, "marks", sid).stdout == listed

    _fs(vault, "redact", sid, "--accept-all")
    _fs(vault, "transcript", "review", sid, "--done")
    key = tmp_path / "k" / "team"
    _fs(vault, "bundle", "keygen", "--out", str(key))
    bundle = _fs(vault, "export", "--sessions", sid, "--to", str(tmp_path / "o"), "--recipient", f"{key}.pub")
    opened = tmp_path / "opened"
    _fs(vault, "bundle", "open", bundle.stdout.strip(), "--identity", str(key), "--out", str(opened))

    # the .qdpx: each question's code holds what was said under it, the answer included
    (qdpx,) = opened.rglob("*.qdpx")
    with zipfile.ZipFile(io.BytesIO(qdpx.read_bytes())) as z:
        project = etree.fromstring(z.read("project.qde"))
        bodies = {n: z.read(n).decode() for n in z.namelist() if n.startswith("sources/") and n.endswith(".txt")}
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(project), schema.error_log
    codes = {c.get("guid"): c.get("name") for c in project.iterfind(".//q:Code", NS)}
    (source,) = project.iterfind(".//q:TextSource", NS)
    body = bodies["sources/" + source.get("plainTextPath").removeprefix("internal://")]
    coded: dict[str, str] = {}
    for sel in source.iterfind("q:PlainTextSelection", NS):
        for ref_el in sel.iterfind("q:Coding/q:CodeRef", NS):
            name = codes[ref_el.get("targetGUID")]
            coded[name] = coded.get(name, "") + " " + body[int(sel.get("startPosition")) : int(sel.get("endPosition"))]
    for i, q in enumerate(questions):
        code = next(n for n in coded if n.startswith(f"{q}:"))
        said = [r for r in ref if asked[i].start <= r.start < (asked[i + 1].start if i + 1 < 4 else 1e9)]
        assert len(said) == 2
        for r in said:  # the question and its answer, recognised well enough to be found
            assert len(_words(r.text) & _words(coded[code])) >= 0.5 * len(_words(r.text)), (q, r.text, coded[code])

    # the TXT and DOCX: one stamp per segment, and the note and the flag shown where they were
    data = json.loads((opened / "export.json").read_text(encoding="utf-8"))
    segments = data["sessions"][0]["segments"]
    txt = next(opened.rglob(f"{sid}.txt")).read_text(encoding="utf-8")
    spoken = [ln for ln in txt.splitlines() if re.match(r"\[\d\d:\d\d:\d\d\]", ln)]
    assert sum(len(re.findall(r"\[\d\d:\d\d:\d\d\]", ln)) for ln in spoken) == len(segments)
    assert len(segments) > 4
    assert re.search(r"^## q3 ", txt, re.M) and re.search(r"^## q4 ", txt, re.M)
    assert re.search(r"^    \[Field note \d\d:\d\d:\d\d, q2\] \(?laughs\)?$", txt, re.M), txt
    assert re.search(r"^    \[Sensitive moment \d\d:\d\d:\d\d, q2\] voice shaking$", txt, re.M), txt

    from docx import Document

    docx = Document(str(next(opened.rglob(f"{sid}.docx"))))
    text = "\n".join(p.text for p in docx.paragraphs)
    assert len(re.findall(r"\[\d\d:\d\d:\d\d\]", text)) >= len(segments)
    assert "voice shaking" in text
