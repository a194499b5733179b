"""One study, many laptops: every pulled bundle of a study in one REFI-QDA project and one
sheet, built from real bundles of two real vaults, synced to a folder store and pulled the way
the analysis team pulls them."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lxml import etree

from fieldscribe.core import consent, marking, participants, sessions, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.deid.review import decide, mark_reviewed
from fieldscribe.core.errors import InvalidInput
from fieldscribe.core.export.assemble import assemble, write_assembly
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import StudyFile
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments
from fieldscribe.core.vault import Vault
from fieldscribe.core.withdrawal import withdraw

from .conftest import FAST_KDF, PASSPHRASE
from .refi_reader import read_qualcoder, read_standard
from .test_cli import invoke
from .test_export import XSD
from .test_sync import with_receipt_key
from .vault_access import pull_from_store, reopen, sync_with

NS = {"q": "urn:QDA-XML:project:1.0"}
STUDY_ID = "peer-support-daycare"


@pytest.fixture
def team(tmp_path):
    return keygen(tmp_path / "team" / "team.key")


def laptop(tmp_path: Path, name: str, study, team) -> Vault:
    v, _ = Vault.create(tmp_path / name, PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, with_receipt_key(study, team[0]))
    return v


def study_file(study, team, tmp_path: Path) -> tuple[StudyFile, Path]:
    """The study file the laptops imported (the team's receipt key added), and it on disk."""
    sf = with_receipt_key(study, team[0])
    path = tmp_path / "study.yaml"
    path.write_text(sf.text, encoding="utf-8")
    return sf, path


def enrol(v: Vault, study, name: str) -> str:
    pid = participants.enrol(v, study.study, group="service_user", name=name)
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    return pid


def interview(
    v: Vault,
    study,
    tmp: Path,
    pid: str,
    lines: list[str],
    *,
    wave: int = 1,
    note: str = "",
    group: tuple[str, ...] = (),
) -> str:
    """A reviewed interview of PID without Whisper: imported audio, segments stored by hand,
    the first question marked at the start and a field note typed during the second line.
    GROUP: further participants, making it a focus group whose line I is spoken by member I."""
    sid = sessions.create_session(v, [pid, *group], wave=wave, kind=sessions.FOCUS_GROUP if group else None)
    wav = tmp / f"{pid}-{sid}.wav"
    sf.write(wav, (np.sin(np.arange(160000) / 16000 * 2 * np.pi * 220) * 8000).astype(np.int16), 16000)
    import_file(v, sid, wav)
    wav.unlink()
    t = begin_transcript(v, sid, EngineSettings(model="test", language="en"), 10.0)
    segs = [Segment(i * 3.0, i * 3.0 + 2.0, line) for i, line in enumerate(lines)]
    store_segments(v, t, sessions.session_key(v, sid), segs, [], 10.0)
    complete_transcript(v, t)
    marking.add_mark(v, sid, timeline.QUESTION, 0.0, question="q1")
    if note:
        marking.add_mark(v, sid, timeline.NOTE, 3.5, text=note)
    for i, who in enumerate([pid, *group] if group else []):
        marking.add_mark(v, sid, timeline.SPEAKER, i * 3.0, participant=who)
    decide(v, sid, accept_all=True)
    mark_reviewed(v, sid)
    return sid


def ship(v: Vault, sids: list[str], tmp: Path, team, url: str) -> str:
    """Export SIDS in one bundle and sync it; the bundle's name."""
    bundle = export_sessions(v, sids, tmp / "outbox", [team[1]])
    assert bundle.name in sync_with(v, url).uploaded
    return bundle.name


def project(data: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = etree.fromstring(z.read("project.qde"))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(xml), schema.error_log
    return xml


def guids(xml: etree._Element) -> dict[str, str]:
    """Every GUID → its element's tag and name; a case's Case and its case code share one."""
    out: dict[str, str] = {}
    for el in xml.iter():
        g = el.get("guid")
        if g is None:
            continue
        what = f"{etree.QName(el).localname}:{el.get('name', '')}"
        if g in out:  # only a Case and its code "Case P…" may share a GUID
            pair = {out[g].split(":")[0], what.split(":")[0]}
            assert pair == {"Case", "Code"}, (g, out[g], what)
        out[g] = what
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def case_of(pid: str, device: str) -> str:
    """The project's case of a pre-team pseudonym (P1–P100): one per laptop, named by it."""
    return f"{pid} (laptop {device[:8]})"


def test_two_laptops_two_waves_one_project_stable_guids_and_withdrawal(tmp_path, study_en, team):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    analysis = tmp_path / "analysis"
    used, _ = study_file(study_en, team, tmp_path)

    # laptop A: Ann (P1) and Bo (P2) in wave 1
    a = laptop(tmp_path, "laptop-a", study_en, team)
    with a:
        ann = enrol(a, study_en, "Ann Lee")
        bo = enrol(a, study_en, "Bo Chen")
        a_ann = interview(a, study_en, tmp_path, ann, ["I came here first.", "We talk a lot."], note="smiles")
        a_bo = interview(a, study_en, tmp_path, bo, ["It is calm here.", "I like the lunch."], note="quiet")
        ship(a, [a_ann, a_bo], tmp_path / "a", team, url)
        dev_a = a.device_id
    # laptop B, also set up before teams (no blocks): its own P1, Cy — someone else than A's
    # P1 — in wave 2, and Dee (P4) in wave 1
    b = laptop(tmp_path, "laptop-b", study_en, team)
    with b:
        cy = enrol(b, study_en, "Cy Ross")
        enrol(b, study_en, "Somebody Else")
        enrol(b, study_en, "Another Person")
        dee = enrol(b, study_en, "Dee Moss")
        assert (cy, dee) == (ann, "P4")
        b_ann = interview(b, study_en, tmp_path, cy, ["A year on, still coming.", "Less anxious now."], wave=2)
        b_dee = interview(b, study_en, tmp_path, dee, ["The group helps me.", "I cook on Fridays."], note="tearful")
        assert (b_ann, b_dee) == (a_ann, a_bo) == ("S1", "S2"), "session ids collide across laptops"
        ship(b, [b_ann], tmp_path / "b", team, url)
        dee_bundle = ship(b, [b_dee], tmp_path / "b", team, url)
        dev_b = b.device_id
    # pseudonyms P1–P100 are each laptop's own: a case per laptop, named with it
    case_ann, case_bo, case_cy, case_dee = (
        case_of(ann, dev_a),
        case_of(bo, dev_a),
        case_of(cy, dev_b),
        case_of(dee, dev_b),
    )
    first = pull_from_store(url, team[0], analysis)
    assert [p.error for p in first.bundles] == [None, None, None]

    one, sheet = write_assembly(analysis, [used], tmp_path / "study.qdpx")
    xml1 = project(one.qdpx)
    std = read_standard(one.qdpx)
    assert std.lost == [] and std.empty_selections == []
    assert set(std.cases) == {case_ann, case_bo, case_cy, case_dee}, "A's P1 and B's P1 are two people"
    assert [("wave 1" in s) for s in std.case_sources[case_ann]] == [True]
    assert [("wave 2" in s) for s in std.case_sources[case_cy]] == [True]
    assert all("laptop " in s for s in std.sources), std.sources
    assert len(std.sources) == 4
    g1 = guids(xml1)
    notes = sorted(n.text for n in std.notes.values())
    assert len(notes) == 3 and any("smiles" in n for n in notes) and any("tearful" in n for n in notes)
    q1 = "q1: " + used.study.guide.domains[0].questions[0].text
    assert len(std.coded(q1)) == 4, "every session's first question is coded"
    qc = read_qualcoder(one.qdpx)
    assert qc.lost == [] and len(qc.annotations) == 3
    sheet_rows = rows(sheet)
    assert sheet == tmp_path / "study-cases.csv"
    assert sorted((r["Case"], r["Laptop session"], r["Wave"]) for r in sheet_rows) == sorted(
        [(case_ann, "S1", "1"), (case_bo, "S2", "1"), (case_cy, "S1", "2"), (case_dee, "S2", "1")]
    )
    assert {r["Status"] for r in sheet_rows} == {"received"} and len({r["Session"] for r in sheet_rows}) == 4
    assert {r["Month"] for r in sheet_rows} != {""}

    # assembling again with nothing new gives the same project
    assert set(guids(project(assemble(analysis, [used]).qdpx))) == set(g1)
    # a later guide version that dropped q1: codes are reconciled by id, so q1 (from the
    # bundles' own codebook) keeps its GUID and its codings, and the unknown version is named
    first_domain = used.study.guide.domains[0]
    later_guide = used.study.guide.model_copy(
        update={
            "domains": [
                first_domain.model_copy(update={"questions": first_domain.questions[1:]}),
                *used.study.guide.domains[1:],
            ]
        }
    )
    later = StudyFile(study=used.study.model_copy(update={"guide": later_guide}), text="", sha256="0" * 64)
    reconciled = assemble(analysis, [later])
    assert reconciled.unknown_guides == [used.version]
    assert set(guids(project(reconciled.qdpx))) == set(g1)
    assert read_standard(reconciled.qdpx).coded(q1) == std.coded(q1)

    # laptop A: a note added to Bo's wave 1 after export (exported again), and Bo's wave 2
    with reopen(tmp_path / "laptop-a") as a:
        marking.add_mark(a, a_bo, timeline.NOTE, 0.5, text="late arrival")
        mark_reviewed(a, a_bo)
        a_bo2 = interview(a, study_en, tmp_path, bo, ["Still calm.", "New staff now."], wave=2)
        ship(a, [a_bo, a_bo2], tmp_path / "a", team, url)
    pull_from_store(url, team[0], analysis)
    two = assemble(analysis, [used])
    g2 = guids(project(two.qdpx))
    std2 = read_standard(two.qdpx)
    assert set(g1) <= set(g2), "nothing the analyst may have coded changes its GUID"
    assert len(std2.sources) == 5 and two.superseded == 1
    bo_w1 = [s for s in std2.case_sources[case_bo] if "wave 1" in s]
    assert len(bo_w1) == 1, "a session exported twice appears once"
    bo_notes = [n.text for n in std2.notes.values() if f"{a_bo} " in n.name and "late arrival" in n.text]
    assert bo_notes, "the newest copy is the one used"
    assert len(std2.notes) == 4

    # Dee withdraws on laptop B; the notice reaches the team, whose pull deletes her bundle;
    # a copy of the folder that survives (restored from a backup) must not bring her back
    dee_folder = next((analysis / STUDY_ID).glob(f"*/{dee_bundle.removesuffix('.fsbundle.age')}"))
    backup = tmp_path / "backup"
    shutil.copytree(dee_folder, backup)
    with reopen(tmp_path / "laptop-b") as b:
        withdraw(b, dee, dee)
        assert sync_with(b, url).notices_sent
    third = pull_from_store(url, team[0], analysis)
    assert [w.participant for w in third.withdrawals] == [dee] and not dee_folder.exists()
    shutil.copytree(backup, dee_folder)
    three, sheet3 = write_assembly(analysis, [used], tmp_path / "study.qdpx", tmp_path / "lead.csv")
    std3 = read_standard(three.qdpx)
    assert set(std3.cases) == {case_ann, case_bo, case_cy}
    assert three.withdrawn == [case_dee] and three.withdrawn_sessions == 1
    assert not [n for n in std3.notes.values() if "tearful" in n.text]
    assert dee not in "".join(std3.sources) and f"Case {case_dee}" not in std3.codes
    g3 = guids(project(three.qdpx))
    assert set(g3) <= set(g2), "a withdrawal only takes things out"
    assert all(g in g3 for g, what in g2.items() if what.startswith("TextSource") and case_dee not in what)
    lead = rows(sheet3)
    laptop_b = next(r["Laptop"] for r in lead if r["Case"] == case_cy and r["Wave"] == "2")
    assert laptop_b == dev_b[:8]
    assert [r for r in lead if r["Status"] == "withdrawn"] == [
        {**dict.fromkeys(lead[0], ""), "Case": case_dee, "Laptop": laptop_b, "Status": "withdrawn"}
    ]
    assert not [r for r in lead if r["Status"] == "received" and dee in r["Case"]]


def test_cli_study_assemble_and_pull_assemble(tmp_path, study_en, team):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v = laptop(tmp_path, "laptop", study_en, team)
    with v:
        pid = enrol(v, study_en, "Ann Lee")
        device = v.device_id
        ship(
            v,
            [interview(v, study_en, tmp_path, pid, ["Hello there.", "We meet weekly."], note="nods")],
            tmp_path,
            team,
            url,
        )
    analysis = tmp_path / "analysis"
    _, study_path = study_file(study_en, team, tmp_path)
    # nothing pulled yet: one sentence
    (analysis / STUDY_ID).mkdir(parents=True)
    r = invoke(["study", "assemble", str(analysis), "--study", str(study_path), "--out", str(tmp_path / "x.qdpx")])
    assert r.exit_code != 0 and "holds no unpacked bundles" in r.stderr and len(r.stderr.strip().splitlines()) == 1

    r = invoke(
        [
            "bundle",
            "pull",
            url,
            "--identity",
            str(team[0]),
            "--out",
            str(analysis),
            "--assemble",
            str(tmp_path / "p.qdpx"),
        ]
    )
    assert r.exit_code != 0 and "needs the study file" in r.stderr
    r = invoke(
        [
            "bundle",
            "pull",
            url,
            "--identity",
            str(team[0]),
            "--out",
            str(analysis),
            "--study",
            str(study_path),
            "--assemble",
            str(tmp_path / "p.qdpx"),
        ]
    )
    assert r.exit_code == 0, r.stderr
    assert "1 case(s), 1 session(s)" in r.stdout and "Warning" not in r.stderr and (tmp_path / "p-cases.csv").exists()
    project((tmp_path / "p.qdpx").read_bytes())

    r = invoke(
        [
            "study",
            "assemble",
            str(analysis / STUDY_ID),
            "--study",
            str(study_path),
            "--out",
            str(tmp_path / "s.qdpx"),
            "--csv",
            str(tmp_path / "sheet.csv"),
        ]
    )
    assert r.exit_code == 0, r.stderr
    assert set(guids(project((tmp_path / "s.qdpx").read_bytes()))) == set(
        guids(project((tmp_path / "p.qdpx").read_bytes()))
    )
    [row] = rows(tmp_path / "sheet.csv")
    assert row["Case"] == case_of(pid, device) and row["Status"] == "received"
    assert row["Session"] == f"{device[:8]}-S1" and row["Laptop"] == device[:8]


def test_a_folder_of_another_study_is_one_sentence(tmp_path, study_en):
    with pytest.raises(InvalidInput, match="holds no bundles of the study"):
        assemble(tmp_path, [study_en])


def test_a_pre_team_pseudonym_is_a_case_per_laptop_and_withdraws_only_there(tmp_path, study_en, team):
    """Two laptops set up before teams each gave out P1, to two different people: two cases,
    each with its own turns and speaker code, and one's withdrawal leaves the other whole."""
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    analysis = tmp_path / "analysis"
    used, _ = study_file(study_en, team, tmp_path)
    a = laptop(tmp_path, "laptop-a", study_en, team)
    with a:
        ann = enrol(a, study_en, "Ann Lee")
        bo = enrol(a, study_en, "Bo Chen")
        s_ann = interview(a, study_en, tmp_path, ann, ["I came here first.", "We talk."], group=(bo,))
        ship(a, [s_ann], tmp_path / "a", team, url)
        case_ann = case_of(ann, dev_a := a.device_id)
    b = laptop(tmp_path, "laptop-b", study_en, team)
    with b:
        zed = enrol(b, study_en, "Zed Quinn")
        yan = enrol(b, study_en, "Yan Ode")
        s_zed = interview(b, study_en, tmp_path, zed, ["Different person.", "Yes."], group=(yan,))
        ship(b, [s_zed], tmp_path / "b", team, url)
        case_zed = case_of(zed, dev_b := b.device_id)
    assert (ann, bo) == (zed, yan) == ("P1", "P2") and case_ann != case_zed
    pull_from_store(url, team[0], analysis)
    one = assemble(analysis, [used])
    xml1 = project(one.qdpx)
    std = read_standard(one.qdpx)
    assert std.lost == []
    cases = {case_of(p, v) for p, v in ((ann, dev_a), (bo, dev_a), (zed, dev_b), (yan, dev_b))}
    assert set(std.cases) == cases and len(cases) == 4, "four people, four cases"
    assert all(len(std.case_sources[c]) == 1 for c in cases)
    assert {f"Case {c}" for c in cases} <= set(std.codes)
    assert cases <= set(std.codes), "each P1's speaker code is their own"
    assert " ".join(std.coded(case_ann)) == "I came here first." == " ".join(std.coded(f"Case {case_ann}"))
    assert " ".join(std.coded(case_zed)) == "Different person." == " ".join(std.coded(f"Case {case_zed}"))
    assert sorted(r["Case"] for r in csv.DictReader(io.StringIO(one.csv.lstrip("\ufeff")))) == sorted(
        [f"{case_ann}, {case_of(bo, dev_a)}", f"{case_zed}, {case_of(yan, dev_b)}"]
    )
    g1 = guids(xml1)

    # Zed withdraws on laptop B: Ann's interview stays, with the same GUIDs
    with reopen(tmp_path / "laptop-b") as b:
        withdraw(b, zed, zed)
        assert sync_with(b, url).notices_sent
    pull_from_store(url, team[0], analysis)
    two = assemble(analysis, [used])
    std2 = read_standard(two.qdpx)
    assert set(std2.cases) == {case_ann, case_of(bo, dev_a)} and two.withdrawn == [case_zed]
    assert " ".join(std2.coded(case_ann)) == "I came here first."
    assert not [s for s in std2.sources if "Different person" in s or case_zed in s]
    g2 = guids(project(two.qdpx))
    assert all(g in g2 for g, what in g1.items() if case_ann in what or what == "Code:Speakers")
    lead = list(csv.DictReader(io.StringIO(two.csv.lstrip("\ufeff"))))
    assert [(r["Case"], r["Status"]) for r in lead] == [
        (f"{case_ann}, {case_of(bo, dev_a)}", "received"),
        (case_zed, "withdrawn"),
    ]


def test_a_laptop_sharing_the_first_8_characters_changes_no_earlier_guid(tmp_path, study_en, team):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    analysis = tmp_path / "analysis"
    used, _ = study_file(study_en, team, tmp_path)
    a = laptop(tmp_path, "laptop-a", study_en, team)
    with a:
        ann = enrol(a, study_en, "Ann Lee")
        ship(a, [interview(a, study_en, tmp_path, ann, ["Hello there.", "We meet."])], tmp_path / "a", team, url)
        device = a.device_id
    pull_from_store(url, team[0], analysis)
    one = assemble(analysis, [used])
    g1 = guids(project(one.qdpx))
    [row] = list(csv.DictReader(io.StringIO(one.csv.lstrip("\ufeff"))))
    assert row["Laptop"] == device[:8] and row["Session"] == f"{device[:8]}-S1"

    # another laptop whose device id begins with the same 8 characters (crafted here from a
    # copy of A's bundle, its manifest naming the other device, exported a day later)
    twin = device[:8] + ("0" if device[8:] != "0" * len(device[8:]) else "1") * len(device[8:])
    [folder] = (analysis / STUDY_ID / device).iterdir()
    copy = analysis / STUDY_ID / twin / folder.name
    shutil.copytree(folder, copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["device_id"] = twin
    manifest["created_at"] = "9" + manifest["created_at"][1:]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    two = assemble(analysis, [used])
    g2 = guids(project(two.qdpx))
    assert set(g1) <= set(g2), "adding a laptop changes no GUID of another"
    assert len(read_standard(two.qdpx).sources) == 2 and len(two.content.cases) == 2
    sheet = list(csv.DictReader(io.StringIO(two.csv.lstrip("\ufeff"))))
    assert {r["Laptop"] for r in sheet} == {device[:8], twin}
    assert {r["Session"] for r in sheet} == {f"{device[:8]}-S1", f"{twin}-S1"}
