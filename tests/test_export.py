"""Export: de-identified content in every format, in a signed age bundle that only the
analysis team can open, and that refuses anything tampered or hostile."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pyrage
import pytest
from click.testing import CliRunner
from lxml import etree

from fieldscribe.core.deid.lists import add_participant_identifiers, add_study_identifiers
from fieldscribe.core.deid.review import decide, mark_reviewed
from fieldscribe.core.errors import InvalidInput, InvalidTransition
from fieldscribe.core.export.bundle import BundleRefused, extract, open_bundle
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen

from .conftest import ROOT
from .test_deidentify import EN_IDENTIFIERS, EN_SECRETS, EN_TRANSCRIPT, STUDY_IDENTIFIERS, transcript_session

# the official schema, kept byte-for-byte in tests/data (see SOURCE.md there)
XSD = ROOT / "tests" / "data" / "refi-qda" / "Project.xsd"
XSD_SHA256 = "77608205d5c17c6a60f75e771dd825d8e36eb7db24f8fe7cb86d47e70f83c0f5"


def test_the_schema_is_the_official_one():
    import hashlib

    assert hashlib.sha256(XSD.read_bytes()).hexdigest() == XSD_SHA256


@pytest.fixture
def team(tmp_path):
    key, recipient = keygen(tmp_path / "keys" / "team.key")
    return key, recipient


@pytest.fixture
def reviewed(vault, study_en):
    events = [
        ("question", 0.0, {"question": "q1", "domain": "peers"}),
        ("note", 6.0, {"text": "laughs about Annie", "preset": None}),
        ("flag", 16.0, {"text": ""}),
        ("question", 14.0, {"question": "q3", "domain": "mutual_help"}),
    ]
    pid, sid = transcript_session(vault, study_en.study, "Ann Lee", EN_TRANSCRIPT, events=events)
    from fieldscribe.core import participants

    participants.update(vault, study_en.study, pid, baseline={"age": 47, "gender": "female", "diagnosis": "bipolar"})
    add_participant_identifiers(vault, pid, [e.replace("{pid}", pid) for e in EN_IDENTIFIERS])
    add_study_identifiers(vault, STUDY_IDENTIFIERS)
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    return pid, sid


def all_text(files: dict[str, bytes]) -> str:
    """Every byte of content a reader could see, including inside .docx and .qdpx zips."""
    parts = []
    for name, data in files.items():
        if name.endswith((".docx", ".qdpx")):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        else:
            parts.append(data.decode("utf-8", "replace"))
    return "\n".join(parts)


def test_round_trip_has_every_format_and_no_identifier(vault, reviewed, team, tmp_path):
    pid, sid = reviewed
    key, recipient = team
    bundle = export_sessions(vault, [sid], tmp_path / "out", [recipient])
    opened = open_bundle(bundle, key)
    names = set(opened.files)
    assert {
        "peer-support-daycare.qdpx",
        "cases.csv",
        "export.json",
        f"transcripts/{sid}.txt",
        f"transcripts/{sid}.docx",
        f"subtitles/{sid}.vtt",
        f"subtitles/{sid}.srt",
    } <= names
    text = all_text(opened.files)
    import re

    # clock times (the export's creation time, [00:00:47] stamps) are not the participant's age:
    # a run at 21:47 found the age "47" in creationDateTime
    untimed = re.sub(r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?", " ", text)
    for secret in EN_SECRETS:
        # as a word: "47" must not be found inside a GUID like 8477CA49
        m = re.search(r"(?<![0-9A-Za-z])" + re.escape(secret) + r"(?![0-9A-Za-z])", untimed)
        assert m is None, (secret, untimed[max(0, m.start() - 80) : m.start() + 40])
    assert f"[{pid}]" in text and "[day-care centre]" in text
    m = opened.manifest
    assert m["study"]["id"] == "peer-support-daycare" and sum(m["redactions"].values()) >= 12
    assert "Ann" not in json.dumps(m)
    # generalised attributes only
    exported = json.loads(opened.files["export.json"])
    assert exported["cases"][0]["quote_label"] == f"({pid})"
    from fieldscribe.core.export.content import CaseInfo

    assert (
        CaseInfo("P4", "service_user", {"Diagnosis": "Schizophrenia", "Gender": "Male"}).quote_label(
            ("Diagnosis", "Gender")
        )
        == "(P4, Schizophrenia, Male)"
    )
    csv_text = opened.files["cases.csv"].decode()
    assert "45–54" in csv_text and "47" not in csv_text
    assert vault.audit.entries()[-1].action == "export.bundle"
    files = extract(opened, tmp_path / "opened")
    assert len(files) == len(opened.files) + 1


def test_the_field_laptop_cannot_read_its_own_bundle(vault, reviewed, team, tmp_path):
    _pid, sid = reviewed
    _key, recipient = team
    bundle = export_sessions(vault, [sid], tmp_path / "out", [recipient])
    other, _ = keygen(tmp_path / "laptop.key")
    with pytest.raises(BundleRefused, match="not encrypted to this identity"):
        open_bundle(bundle, other)


def test_the_standard_age_tool_opens_the_bundle(vault, reviewed, team, tmp_path):
    _pid, sid = reviewed
    key, recipient = team
    bundle = export_sessions(vault, [sid], tmp_path / "out", [recipient])
    assert shutil.which("age"), "scripts/test installs Debian's age"
    tar_bytes = subprocess.run(["age", "-d", "-i", str(key), str(bundle)], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        assert {"manifest.json", "manifest.sig", f"transcripts/{sid}.txt"} <= set(tar.getnames())


def test_qdpx_validates_and_codes_segments_under_their_questions(vault, reviewed, team, tmp_path):
    _pid, sid = reviewed
    key, recipient = team
    opened = open_bundle(export_sessions(vault, [sid], tmp_path / "out", [recipient]), key)
    with zipfile.ZipFile(io.BytesIO(opened.files["peer-support-daycare.qdpx"])) as z:
        xml = etree.fromstring(z.read("project.qde"))
        sources = [n for n in z.namelist() if n.startswith("sources/")]
        body = z.read(sources[0]).decode()
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(xml), schema.error_log
    ns = {"q": "urn:QDA-XML:project:1.0"}
    codes = {c.get("guid"): c.get("name") for c in xml.iterfind(".//q:Code", ns)}
    assert len(codes) == 5 + 7 + 5  # domains, questions; the field marks and the case, each under its parent
    assert {"Field marks", "Field note", "Sensitive moment", "Cases", "Case P1"} <= set(codes.values())
    case = xml.find(".//q:Case", ns)
    values = [v.findtext("q:TextValue", namespaces=ns) for v in case.iterfind("q:VariableValue", ns)]
    assert "45–54" in values
    selections = xml.findall(".//q:PlainTextSelection", ns)
    assert selections
    for sel in selections:
        start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
        assert 0 <= start < end <= len(body)
    coded = {codes[ref.get("targetGUID")] for ref in xml.iterfind(".//q:Coding/q:CodeRef", ns)}
    assert any(name.startswith("q1:") for name in coded) and any(name.startswith("q3:") for name in coded)
    notes = [n.findtext("q:PlainTextContent", namespaces=ns) for n in xml.iterfind(".//q:Notes/q:Note", ns)]
    assert notes == ["[Field note 00:00:06, q1] laughs about [P1]", "[Sensitive moment 00:00:16, q3]"]


def test_docx_opens_and_has_timestamps(vault, reviewed, team, tmp_path):
    from docx import Document

    _pid, sid = reviewed
    key, recipient = team
    opened = open_bundle(export_sessions(vault, [sid], tmp_path / "out", [recipient]), key)
    doc = Document(io.BytesIO(opened.files[f"transcripts/{sid}.docx"]))
    paras = [p.text for p in doc.paragraphs]
    assert any(p.startswith("[00:00:00] ") for p in paras)
    assert any(p.startswith("[00:00:") and p != paras[0] for p in paras[3:])
    vtt = opened.files[f"subtitles/{sid}.vtt"].decode()
    assert vtt.startswith("WEBVTT") and "00:00:00.000 --> 00:00:04.000" in vtt
    assert "00:00:00,000 --> 00:00:04,000" in opened.files[f"subtitles/{sid}.srt"].decode()


def test_unreviewed_sessions_and_missing_recipients_are_refused(vault, study_en, reviewed, tmp_path):
    _pid2, other = transcript_session(vault, study_en.study, "Bob Chan", ["Hello from Harbour View."])
    with pytest.raises(InvalidTransition, match="has not been reviewed"):
        export_sessions(vault, [other], tmp_path / "out", ["age1qqq"])
    _pid, sid = reviewed
    with pytest.raises(InvalidInput, match="No recipient"):
        export_sessions(vault, [sid], tmp_path / "out", [])
    with pytest.raises(InvalidInput, match="not an age recipient"):
        export_sessions(vault, [sid], tmp_path / "out", ["not-a-key"])
    assert not list((tmp_path / "out").glob("*.age")) if (tmp_path / "out").exists() else True


# -- hostile and damaged bundles ------------------------------------------------------------------------
def _craft(
    tmp_path: Path,
    recipient: str,
    entries: list[tuple[str, bytes | None, str]],
    sign_files: dict | None = None,
    bad_signature: bool = False,
) -> Path:
    """Build a bundle by hand: entries are (name, data, type) with type file|symlink."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from pyrage import x25519

    from fieldscribe.core.export.keys import public_hex

    signer = Ed25519PrivateKey.generate()
    listed = sign_files if sign_files is not None else {n: d for n, d, t in entries if t == "file"}
    manifest = json.dumps(
        {
            "format": "fieldscribe-bundle/1",
            "device_public_key": public_hex(signer),
            "study": {"id": "x", "title": "x"},
            "device_id": "d",
            "sessions": [],
            "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in listed.items()},
        }
    ).encode()
    sig = signer.sign(manifest + (b"x" if bad_signature else b""))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data, kind in [("manifest.json", manifest, "file"), ("manifest.sig", sig, "file"), *entries]:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "crafted.age"
    out.write_bytes(pyrage.encrypt(buf.getvalue(), [x25519.Recipient.from_str(recipient)]))
    return out


@pytest.mark.parametrize(
    "entries,fragment",
    [
        ([("../../etc/evil", b"x", "file")], "unsafe path"),
        ([("/abs/evil", b"x", "file")], "unsafe path"),
        ([("a.txt", b"x", "file"), ("a.txt", b"y", "file")], "twice"),
        ([("link", None, "symlink")], "not a regular file"),
    ],
)
def test_malicious_archives_are_refused(team, tmp_path, entries, fragment):
    key, recipient = team
    with pytest.raises(BundleRefused, match=fragment):
        open_bundle(_craft(tmp_path, recipient, entries, sign_files={}), key)


def test_unlisted_files_and_bad_signatures_are_refused(team, tmp_path):
    key, recipient = team
    with pytest.raises(BundleRefused, match="does not match its manifest"):
        open_bundle(_craft(tmp_path, recipient, [("extra.txt", b"x", "file")], sign_files={}), key)
    with pytest.raises(BundleRefused, match="not validly signed"):
        open_bundle(_craft(tmp_path, recipient, [("a.txt", b"x", "file")], bad_signature=True), key)
    good = _craft(tmp_path, recipient, [("a.txt", b"x", "file")])
    assert open_bundle(good, key).files == {"a.txt": b"x"}


def test_tampered_and_truncated_bundles_are_refused(vault, reviewed, team, tmp_path):
    _pid, sid = reviewed
    key, recipient = team
    bundle = export_sessions(vault, [sid], tmp_path / "out", [recipient])
    raw = bundle.read_bytes()
    flipped = tmp_path / "flipped.age"
    flipped.write_bytes(raw[:-100] + bytes([raw[-100] ^ 1]) + raw[-99:])
    truncated = tmp_path / "truncated.age"
    truncated.write_bytes(raw[: len(raw) // 2])
    for bad in (flipped, truncated):
        with pytest.raises(BundleRefused, match="damaged or truncated"):
            open_bundle(bad, key)


def test_cli_keygen_export_open(vault, reviewed, tmp_path):
    from fieldscribe.cli import cli

    from .conftest import PASSPHRASE

    _pid, sid = reviewed
    path = str(vault.path)
    vault.close()
    runner = CliRunner()
    r = runner.invoke(cli, ["bundle", "keygen", "--out", str(tmp_path / "k" / "team")])
    assert r.exit_code == 0 and r.stdout.startswith("age1")
    r = runner.invoke(
        cli,
        [
            "--vault",
            path,
            "export",
            "--sessions",
            sid,
            "--to",
            str(tmp_path / "o"),
            "--recipient",
            str(tmp_path / "k" / "team.pub"),
        ],
        env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code == 0, r.output
    bundle = r.stdout.strip()
    r = runner.invoke(
        cli, ["bundle", "open", bundle, "--identity", str(tmp_path / "k" / "team"), "--out", str(tmp_path / "opened")]
    )
    assert r.exit_code == 0 and "Opened" in r.stdout
    r = runner.invoke(
        cli, ["bundle", "open", bundle, "--identity", str(tmp_path / "k" / "team.pub"), "--out", str(tmp_path / "x")]
    )
    assert r.exit_code == 1 and r.stderr.startswith("Error:") and "Traceback" not in r.output


def test_audio_only_with_an_explicit_option_and_matching_consent(vault, study_en, team, tmp_path):
    import numpy as np
    import soundfile as sf

    from fieldscribe.core import consent as consent_core
    from fieldscribe.core import participants, sessions
    from fieldscribe.core.audio.importer import import_file
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import parse_study

    from .audio_fakes import speechlike

    key, recipient = team
    text = study_en.text + "\nexport:\n  audio_sharing_consent: quotes\n"
    sf_study = parse_study(text)
    import_guide(vault, sf_study)
    pid = participants.enrol(vault, sf_study.study, group="service_user")
    consent_core.record_consent(vault, sf_study.study, pid, {c.id: True for c in sf_study.study.consent})
    sid = sessions.create_session(vault, [pid])
    wav = tmp_path / "a.wav"
    data = speechlike(2.0)
    sf.write(wav, data, 16000, subtype="PCM_16")
    import_file(vault, sid, wav)
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments

    t = begin_transcript(vault, sid, EngineSettings(model="test"), 2.0)
    store_segments(vault, t, sessions.session_key(vault, sid), [Segment(0.0, 2.0, "Hello.")], [], 2.0)
    complete_transcript(vault, t)
    mark_reviewed(vault, sid)
    plain = open_bundle(export_sessions(vault, [sid], tmp_path / "o1", [recipient]), key)
    assert not any(n.startswith("audio/") for n in plain.files) and plain.manifest["audio_included"] is False
    with_audio = open_bundle(export_sessions(vault, [sid], tmp_path / "o2", [recipient], with_audio=True), key)
    back, _ = sf.read(io.BytesIO(with_audio.files[f"audio/{sid}.flac"]), dtype="int16", always_2d=True)
    assert np.array_equal(back, data)
    # the .qdpx links the transcript to the same recording: a click on a line plays it
    from .refi_reader import read_standard

    qdpx = next(data for name, data in with_audio.files.items() if name.endswith(".qdpx"))
    (audio,) = read_standard(qdpx).audio
    assert audio.data == with_audio.files[f"audio/{sid}.flac"] and audio.sync == [
        (0, audio.transcript.index("[00:00:00] Hello."))
    ]
    assert not read_standard(next(d for n, d in plain.files.items() if n.endswith(".qdpx"))).audio
    consent_core.record_consent(vault, sf_study.study, pid, {"quotes": False})
    with pytest.raises(InvalidInput, match="did not consent to sharing the recording"):
        export_sessions(vault, [sid], tmp_path / "o3", [recipient], with_audio=True)
