"""One study, three laptops, end to end: the laptops join the team (two at one site, one at
another), each enrols within its own pseudonym block, interviews and a focus group in wave 1,
a participant handed over from one laptop to another for wave 2, a withdrawal, everything
synced to one store (a real OpenSSH server on loopback) — and the study lead's
`bundle pull --assemble` makes one REFI-QDA project of the whole study: one case for the
handed-over participant holding both waves, no pseudonym used twice, the withdrawn participant
absent, the same GUIDs after new bundles arrive, and a laptop outside the team refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from fieldscribe.core import consent, handover, marking, participants, sessions, timeline
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.guides import import_guide
from fieldscribe.core.sync.membership import approve, join, make_join_request
from fieldscribe.core.vault import Vault
from fieldscribe.core.withdrawal import withdraw

from .conftest import FAST_KDF, PASSPHRASE
from .refi_reader import read_qualcoder, read_standard
from .team_setup import team_study, transcribed
from .test_cli import assert_ok, invoke
from .test_export import XSD
from .test_sync import ssh_creds
from .vault_access import sync_with

pytestmark = pytest.mark.slow
NS = {"q": "urn:QDA-XML:project:1.0"}


def _laptop(tmp_path: Path, name: str, study) -> Vault:
    v, _ = Vault.create(tmp_path / f"laptop-{name}", PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, study)
    return v


def _enrol(v: Vault, study, name: str) -> str:
    pid = participants.enrol(v, study.study, group="service_user", name=name, baseline={"age": "41"})
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    return pid


def _focus_group(v: Vault, pids: list[str], tmp: Path) -> str:
    """A group of PIDS: imported audio, a transcript stored by hand, the interviewer's K marks
    naming who speaks (placed after the fact), a field note; reviewed."""
    import numpy as np
    import soundfile as sf

    from fieldscribe.core.audio.importer import import_file
    from fieldscribe.core.deid.review import decide, mark_reviewed
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments

    sid = sessions.create_session(v, pids)
    wav = tmp / "group.wav"
    sf.write(wav, (np.sin(np.arange(16000 * 15) / 16000 * 2 * np.pi * 220) * 8000).astype(np.int16), 16000)
    import_file(v, sid, wav)
    wav.unlink()
    t = begin_transcript(v, sid, EngineSettings(model="test", language="en"), 15.0)
    lines = ["What brings you here?", "The lunches.", "The people.", "Cards, every week."]
    segs = [Segment(i * 3.5, i * 3.5 + 3.0, line) for i, line in enumerate(lines)]
    store_segments(v, t, sessions.session_key(v, sid), segs, [], 15.0)
    complete_transcript(v, t)
    marking.add_mark(v, sid, timeline.QUESTION, 0.0, question="q1")
    for i, pid in enumerate(pids):
        marking.add_mark(v, sid, timeline.SPEAKER, 3.6 + i * 3.5, participant=pid)
    marking.add_mark(v, sid, timeline.NOTE, 4.0, text="laughter all round")
    decide(v, sid, accept_all=True)
    mark_reviewed(v, sid)
    return sid


def _project(path: Path) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
        xml = etree.fromstring(z.read("project.qde"))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(xml), schema.error_log
    return xml


def _guids(xml: etree._Element) -> dict[str, str]:
    return {f"{etree.QName(el).localname}:{el.get('guid')}": el.get("name", "") for el in xml.iter() if el.get("guid")}


def _withdrawn_guids(xml: etree._Element, pid: str) -> set[str]:
    """What a project held of PID: their sources with everything in them (selections, codings,
    the notes those sources refer to), their case and case code."""
    out: set[str] = set()
    for src in xml.iterfind(".//q:TextSource", NS):
        if src.get("name", "").startswith(f"{pid} "):
            out |= set(_guids(src))
            for ref in src.iterfind("q:NoteRef", NS):
                out.add(f"Note:{ref.get('targetGUID')}")
    for el in xml.iter():
        if el.get("name") in (pid, f"Case {pid}") and el.get("guid"):
            out.add(f"{etree.QName(el).localname}:{el.get('guid')}")
    return out


def test_three_laptops_one_study_one_project(sshd, tmp_path, study_en):
    identity, recipient = keygen(tmp_path / "lead" / "team.key")
    study = team_study(study_en, identity)
    study_path = tmp_path / "lead" / "study.yaml"
    study_path.write_text(study.text, encoding="utf-8")
    team_path = tmp_path / "lead" / "TEAM.json"
    a, b, c, d = (_laptop(tmp_path, n, study) for n in "abcd")
    # 1. the team: A and B at Harbour View, C at Riverside; D never joins
    for v, who, site in ((a, "Ann Lee", "harbour_view"), (b, "Bo Chan", "harbour_view"), (c, "Cy Ng", "riverside")):
        approve(make_join_request(v, who, site), team_path, identity)
    for v in (a, b, c):
        join(v, team_path.read_bytes())
    url, creds = sshd.url + "/team-study", ssh_creds(sshd)

    # 2. wave 1: interviews on A and C, a focus group on B, each within its own block
    p_hope, p_ray = _enrol(a, study, "Hope Mensah"), _enrol(a, study, "Ray Quist")
    group = [_enrol(b, study, n) for n in ("Gina Holt", "Tom Reyes", "Lu Fang")]
    p_cy = _enrol(c, study, "Dev Patel")
    assert (p_hope, p_ray, group, p_cy) == ("P101", "P102", ["P201", "P202", "P203"], "P301")
    a1 = transcribed(a, p_hope, ["Tell me about the centre.", "Hope Mensah likes the garden."], tmp_path)
    a2 = transcribed(a, p_ray, ["How did you come here?", "Ray Quist came by bus."], tmp_path)
    g1 = _focus_group(b, group, tmp_path)
    c1 = transcribed(c, p_cy, ["Who do you see here?", "Mostly the cooks."], tmp_path)
    for v, sids in ((a, [a1, a2]), (b, [g1]), (c, [c1])):
        export_sessions(v, sids, tmp_path / f"outbox-{v.device_id[:6]}", [recipient])
        sync_with(v, url, creds)

    out, qdpx = tmp_path / "analysis", tmp_path / "lead" / "STUDY.qdpx"
    pull = [
        "bundle", "pull", url, "--identity", str(identity), "--out", str(out), "--team", str(team_path),
        "--study", str(study_path), "--assemble", str(qdpx),
        "--identity-file", creds.identity_file or "", "--known-hosts", creds.known_hosts or "",
    ]  # fmt: skip
    assert_ok(invoke(pull))
    first = _project(qdpx)
    first_guids = _guids(first)

    # 3. wave 2: Hope is handed over from A to B, who interviews her; Ray withdraws on A
    made = handover.hand_over(a, p_hope, b.device_id[:8])
    assert handover.receive(b, made.data).participant == p_hope
    b2 = transcribed(b, p_hope, ["How have things been since we last met?", "Better, thank you."], tmp_path, wave=2)
    # the team deletes Ray's bundle whole: Hope's wave-1 interview in it is exported again
    assert withdraw(a, p_ray, p_ray).export_again == [a1]
    c2 = transcribed(c, p_cy, ["And now?", "Still the cooks."], tmp_path, wave=2)
    for v, sids in ((a, [a1]), (b, [b2]), (c, [c2])):
        export_sessions(v, sids, tmp_path / f"outbox-{v.device_id[:6]}", [recipient])
    for v in (a, b, c):
        sync_with(v, url, creds)
    # a laptop outside the team puts a bundle on the store: it is refused, in one sentence
    p_d = _enrol(d, study, "Zed Outsider")
    export_sessions(d, [transcribed(d, p_d, ["Hello?", "Hi."], tmp_path)], tmp_path / "outbox-d", [recipient])
    sync_with(d, url, creds)

    result = invoke(pull)
    assert result.exit_code == 2, result.output  # something was refused: said, and the status says so
    refused = [line for line in result.stderr.splitlines() if line.startswith("Refused")]
    assert len(refused) == 1 and d.device_id[:12] in refused[0] and "unknown device" in refused[0], result.stderr
    assert "P102 withdrew from the study" in result.stdout, result.stdout
    second = _project(qdpx)

    # one case per pseudonym, the handed-over participant's holding both waves (two laptops)
    for read in (read_standard, read_qualcoder):
        got = read(qdpx.read_bytes())
        assert got.lost == [] and got.empty_selections == []
        hope = sorted(got.case_sources[p_hope])
        assert len([s for s in hope if not s.endswith(".flac")]) == 2, hope
        assert any("wave 1" in s for s in hope) and any("wave 2" in s for s in hope)
        assert {s.split("laptop ")[1].rstrip(")") for s in hope} == {a.device_id[:8], b.device_id[:8]}
        assert set(got.cases) == {p_hope, *group, p_cy}, sorted(got.cases)  # P102 withdrew; D refused
        assert p_ray not in " ".join(got.sources)
    # the focus group is one source, its members each a case with their own turns
    names = [s.get("name") for s in second.iterfind(".//q:TextSource", NS)]
    assert sum(n.startswith("focus group P201, P202, P203") for n in names) == 1, names
    assert len(names) == len(set(names)) == 5  # A1, B group, C1, B's wave 2 of P101, C2
    # no name reached the project
    with zipfile.ZipFile(qdpx) as z:
        everything = b"".join(z.read(n) for n in z.namelist())
    for name in (b"Hope Mensah", b"Ray Quist", b"Dev Patel", b"Gina Holt"):
        assert name not in everything
    # the same GUIDs for everything that was already there (bar the withdrawn participant's)
    second_guids = _guids(second)
    gone = _withdrawn_guids(first, p_ray)
    kept = {k: v for k, v in first_guids.items() if k not in gone and not k.startswith("Project")}
    missing = {k: v for k, v in kept.items() if k not in second_guids}
    assert not missing, missing
    assert len(second_guids) > len(kept)
    # the study lead's sheet: a row per session, the withdrawal named, nothing more about them
    sheet = (qdpx.parent / "STUDY-cases.csv").read_text(encoding="utf-8-sig")
    assert sheet.count(p_hope) == 2 and "withdrawn" in sheet and "Ray" not in sheet
    # the team file names each laptop's site and interviewer there
    hope_rows = [line for line in sheet.splitlines() if line.startswith(p_hope)]
    assert any("harbour_view" in r and "Ann Lee" in r for r in hope_rows)
    assert any("harbour_view" in r and "Bo Chan" in r for r in hope_rows)
    assert any(r.startswith(p_cy) and "riverside" in r and "Cy Ng" in r for r in sheet.splitlines())
