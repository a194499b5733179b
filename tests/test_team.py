"""One study, many laptops: join requests, the lead's signed team file, pseudonym blocks that
never overlap, and the analysis side believing exactly the team's laptops. Real crypto, real
vaults (the cheap test KDF)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldscribe.core import participants
from fieldscribe.core.errors import InvalidInput
from fieldscribe.core.export.keys import device_key, keygen, public_hex
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import StudyFile, parse_study
from fieldscribe.core.sync.membership import TeamTrust, approve, join, make_join_request, team_trust
from fieldscribe.core.sync.trust import receipt_key_hex
from fieldscribe.core.team import (
    NOT_LISTED,
    NOT_SIGNED,
    Block,
    BlockUsedUp,
    JoinRequest,
    TeamRefused,
    member,
    member_by_key,
    parse_block,
    parse_request,
    sign_request,
    team,
)
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE
from .test_cli import assert_ok, invoke
from .test_sync import field_vault
from .vault_access import pull_from_store, sync_with


@pytest.fixture
def lead(tmp_path: Path) -> tuple[Path, str]:
    """The study lead's identity (`bundle keygen`), where field_vault looks for it."""
    return keygen(tmp_path / "team" / "team.key")


def keyed_study(study: StudyFile, identity: Path) -> StudyFile:
    """The study file as the lead edits it after `bundle keygen`: it lists the team's receipt key."""
    return parse_study(study.text.rstrip("\n") + f"\nexport:\n  receipt_keys: [{receipt_key_hex(identity)}]\n")


@pytest.fixture
def laptops(tmp_path: Path, study_en: StudyFile, lead: tuple[Path, str]) -> Iterator[list[Vault]]:
    """Three laptops of the study, each with the study file that lists the team's key."""
    study = keyed_study(study_en, lead[0])
    vaults = []
    for name in ("a", "b", "c"):
        v, _ = Vault.create(tmp_path / f"laptop-{name}", PASSPHRASE, kdf=FAST_KDF)
        import_guide(v, study)
        vaults.append(v)
    yield vaults
    for v in vaults:
        v.close()


def enrol(v: Vault, study: StudyFile) -> str:
    return participants.enrol(v, study.study, group="service_user", name="Someone")


def one_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.endswith((".", ")")), text
    return text


def approved(tmp_path: Path, lead: tuple[Path, str], *vaults: Vault, **kw: str) -> bytes:
    team_path = tmp_path / "lead" / "TEAM.json"
    team_path.parent.mkdir(exist_ok=True)
    for v in vaults:
        approve(make_join_request(v, "Ann Lee", "harbour_view"), team_path, lead[0], **kw)
    return team_path.read_bytes()


# -- the round trip ---------------------------------------------------------------------------------
def test_two_laptops_join_and_enrol_in_blocks_that_never_overlap(tmp_path, lead, laptops, study_en):
    a, b, _c = laptops
    team_path = tmp_path / "TEAM.json"
    first = approve(make_join_request(a, "Ann Lee", "harbour_view"), team_path, lead[0])
    second = approve(make_join_request(b, "Bo Chan", "riverside"), team_path, lead[0])
    assert (first.version, second.version) == (1, 2)
    assert second.by_device(a.device_id).block == Block(101, 199)
    assert second.by_device(b.device_id).block == Block(201, 299)
    data = team_path.read_bytes()
    assert join(a, data).block == Block(101, 199)
    assert join(b, data).block == Block(201, 299)
    assert [enrol(a, study_en), enrol(a, study_en)] == ["P101", "P102"]
    assert enrol(b, study_en) == "P201"
    assert participants.require_existing(a, "p101")[0] == "P101"  # typed in lower case, as ever
    held = team(a)
    assert held is not None and held.version == 2 and len(held.members) == 2
    assert member(a, b.device_id[:6]).interviewer == "Bo Chan"
    # the laptop's own age recipient is listed, for hand-overs sealed to it
    assert held.by_device(a.device_id).age_recipient.startswith("age1")
    # taking the same file in again changes nothing
    assert join(a, data).block == Block(101, 199)


def test_a_vault_without_a_team_file_still_enrols_p1(vault, study_en):
    assert team(vault) is None
    assert [enrol(vault, study_en), enrol(vault, study_en)] == ["P1", "P2"]


def test_a_laptop_that_enrolled_before_joining_keeps_its_pseudonyms(tmp_path, lead, laptops, study_en):
    a = laptops[0]
    assert [enrol(a, study_en), enrol(a, study_en)] == ["P1", "P2"]
    join(a, approved(tmp_path, lead, a))
    assert enrol(a, study_en) == "P101"
    assert [p.id for p in participants.list_participants(a)] == ["P1", "P2", "P101"]


def test_a_used_up_block_is_refused_and_a_new_block_goes_on(tmp_path, lead, laptops, study_en):
    a, b, _c = laptops
    team_path = tmp_path / "TEAM.json"
    approve(make_join_request(a, "Ann Lee", "harbour_view"), team_path, lead[0], block="P301-P302")
    join(a, team_path.read_bytes())
    assert [enrol(a, study_en), enrol(a, study_en)] == ["P301", "P302"]
    with pytest.raises(BlockUsedUp) as used:
        enrol(a, study_en)
    assert one_sentence(used.value) == (
        "This laptop has used its pseudonyms P301–P302; ask the study lead for another block."
    )
    # the lead gives a new block; the old one stays this laptop's, never handed to another
    approve(make_join_request(a, "Ann Lee", "harbour_view"), team_path, lead[0], block="P501-P599")
    join(a, team_path.read_bytes())
    assert enrol(a, study_en) == "P501"
    other = approve(make_join_request(b, "Bo Chan", "riverside"), team_path, lead[0])
    assert other.by_device(b.device_id).block == Block(101, 199)
    with pytest.raises(InvalidInput) as overlap:
        approve(make_join_request(b, "Bo Chan", "riverside"), team_path, lead[0], block="P250-P310")
    assert "overlaps P301–P302" in one_sentence(overlap.value)


def test_blocks_are_parsed_as_typed_and_low_or_reversed_blocks_refused():
    assert parse_block("P301-P399") == parse_block("301–399") == Block(301, 399)
    for bad in ("P1-P99", "P399-P301", "P1000000-P1000001", "x", "", "\x1b[2J"):
        with pytest.raises(InvalidInput) as refused:
            parse_block(bad)
        assert "\x1b" not in one_sentence(refused.value)


def test_numbers_given_out_before_joining_are_reserved_for_that_laptop(tmp_path, lead, laptops):
    a, b, _c = laptops
    key = device_key(a)
    request = JoinRequest(
        study=a.db.execute("SELECT study_id FROM guides").fetchone()[0],
        device_id=a.device_id,
        device_key=public_hex(key),
        age_recipient=keygen(tmp_path / "age-a")[1],
        interviewer="Ann Lee",
        site="harbour_view",
        created_at="2025-01-01T00:00:00Z",
        legacy_max=150,
    )
    team_path = tmp_path / "TEAM.json"
    first = approve(sign_request(request, key), team_path, lead[0])
    mine = first.by_device(a.device_id)
    assert mine.earlier_blocks == (Block(101, 150),) and mine.block == Block(201, 299)
    second = approve(make_join_request(b, "Bo Chan", "riverside"), team_path, lead[0])
    assert second.by_device(b.device_id).block == Block(301, 399)


# -- refusals ---------------------------------------------------------------------------------------
def test_a_team_file_changed_by_one_byte_is_refused(tmp_path, lead, laptops):
    a = laptops[0]
    data = approved(tmp_path, lead, a)
    outer = json.loads(data)
    flipped = dict(outer, signature=("0" if outer["signature"][0] != "0" else "1") + outer["signature"][1:])
    for bad in (json.dumps(flipped).encode(), data.replace(b"harbour_view", b"harbour_vieW")):
        with pytest.raises(TeamRefused) as refused:
            join(a, bad)
        assert one_sentence(refused.value) == NOT_SIGNED
    assert team(a) is None


def test_a_member_s_block_edited_in_the_file_is_refused(tmp_path, lead, laptops):
    a, b, _c = laptops
    data = approved(tmp_path, lead, a, b)
    outer = json.loads(data)
    assert "[201,299]" in outer["team"]
    outer["team"] = outer["team"].replace("[201,299]", "[101,199]")
    with pytest.raises(TeamRefused) as refused:
        join(b, json.dumps(outer).encode())
    assert one_sentence(refused.value) == NOT_SIGNED


def test_a_team_file_signed_by_another_identity_is_refused(tmp_path, lead, laptops):
    a = laptops[0]
    stranger = keygen(tmp_path / "stranger" / "other.key")
    forged = tmp_path / "forged.json"
    approve(make_join_request(a, "Ann Lee", "harbour_view"), forged, stranger[0])
    with pytest.raises(TeamRefused) as refused:
        join(a, forged.read_bytes())
    assert one_sentence(refused.value) == NOT_SIGNED
    # nor can the stranger extend the lead's file
    real = tmp_path / "lead" / "TEAM.json"
    approved(tmp_path, lead, a)
    with pytest.raises(TeamRefused) as extended:
        approve(make_join_request(a, "Ann Lee", "harbour_view"), real, stranger[0])
    assert "not signed by this identity's team key" in one_sentence(extended.value)


def test_an_older_version_is_refused_after_a_newer_one(tmp_path, lead, laptops):
    a, b, _c = laptops
    team_path = tmp_path / "TEAM.json"
    approve(make_join_request(a, "Ann Lee", "harbour_view"), team_path, lead[0])
    v1 = team_path.read_bytes()
    approve(make_join_request(b, "Bo Chan", "riverside"), team_path, lead[0])
    v2 = team_path.read_bytes()
    join(a, v2)
    with pytest.raises(TeamRefused) as refused:
        join(a, v1)
    assert "older than version 2" in one_sentence(refused.value)
    assert team(a).version == 2


def test_a_laptop_not_in_the_team_file_cannot_join(tmp_path, lead, laptops):
    a, _b, c = laptops
    data = approved(tmp_path, lead, a)
    with pytest.raises(TeamRefused) as refused:
        join(c, data)
    assert one_sentence(refused.value) == NOT_LISTED
    assert team(c) is None


def test_a_copied_vault_cannot_join_as_a_second_device(tmp_path, lead, laptops):
    a = laptops[0]
    data = json.loads(make_join_request(a, "Ann Lee", "harbour_view"))
    body = json.loads(data["request"])
    key = device_key(a)
    twin = JoinRequest(**{**{k: body[k] for k in body if k != "format"}, "device_id": "another-device"})
    team_path = tmp_path / "TEAM.json"
    approve(make_join_request(a, "Ann Lee", "harbour_view"), team_path, lead[0])
    with pytest.raises(TeamRefused) as refused:
        approve(sign_request(twin, key), team_path, lead[0])
    assert "already belong to laptop" in one_sentence(refused.value)


def test_a_request_that_reuses_a_member_s_device_id_with_another_key_replaces_nothing(tmp_path, lead, laptops):
    a, b, _c = laptops
    team_path = tmp_path / "TEAM.json"
    approve(make_join_request(a, "Ann Lee", "harbour_view"), team_path, lead[0])
    b.db.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (a.device_id,))  # the id is no secret
    with pytest.raises(TeamRefused) as refused:
        approve(make_join_request(b, "Eve Fake", "harbour_view"), team_path, lead[0])
    assert "with another device key" in one_sentence(refused.value)
    assert json.loads(team_path.read_bytes())["team"].count(public_hex(device_key(a))) == 1


def test_an_altered_join_request_is_refused(laptops):
    data = make_join_request(laptops[0], "Ann Lee", "harbour_view")
    with pytest.raises(TeamRefused) as refused:
        parse_request(data.replace(b"Ann Lee", b"Eve Lee"))
    assert "not validly signed" in one_sentence(refused.value)
    for junk in (b"", b"[]", b"{}", b"\xff" * 10, b"{" * 100_000):
        with pytest.raises(TeamRefused):
            parse_request(junk)


def test_a_study_without_a_team_key_believes_no_team_file(tmp_path, lead, vault, laptops):
    data = approved(tmp_path, lead, laptops[0])
    with pytest.raises(TeamRefused) as refused:
        join(vault, data)
    assert "lists no team key" in one_sentence(refused.value)


def test_a_hand_over_from_a_laptop_not_in_the_team_is_refused(tmp_path, lead, laptops):
    a, b, c = laptops
    join(a, approved(tmp_path, lead, a, b))
    assert member_by_key(a, public_hex(device_key(b)), what="The hand-over").device_id == b.device_id
    with pytest.raises(TeamRefused) as refused:
        member_by_key(a, public_hex(device_key(c)), what="The hand-over")
    assert "not in this laptop's team file" in one_sentence(refused.value)


# -- the analysis side --------------------------------------------------------------------------------
def test_bundle_pull_with_the_team_file_accepts_members_only(tmp_path, study_en, lead):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    member_v, _sid, _bundle = field_vault(tmp_path / "member", study_en, tmp_path, lead[1])
    stranger_v, _sid2, _bundle2 = field_vault(tmp_path / "stranger", study_en, tmp_path, lead[1], name="Eve Fake")
    team_path = tmp_path / "TEAM.json"
    with member_v, stranger_v:
        approve(make_join_request(member_v, "Ann Lee", "harbour_view"), team_path, lead[0])
        sync_with(member_v, url)
        sync_with(stranger_v, url)
        member_id, stranger_id = member_v.device_id, stranger_v.device_id
    trust = team_trust(team_path, lead[0])
    assert isinstance(trust, TeamTrust)
    report = pull_from_store(url, lead[0], tmp_path / "analysis", trust=trust)
    by_device = {r.device: r for r in report.bundles}
    assert by_device[member_id].error is None and by_device[member_id].trust == "listed"
    refused = by_device[stranger_id]
    assert refused.error and refused.folder is None
    assert "\n" not in refused.error and "unknown device" in refused.error
    assert not (store_dir / study_en.study.study.id / stranger_id / "receipts").exists(), "never acknowledged"

    # the same through the command line, and a team file the identity did not sign is refused
    shutil.rmtree(tmp_path / "analysis")
    for r in (store_dir / study_en.study.study.id).glob("*/receipts"):
        shutil.rmtree(r)
    out = invoke(
        ["bundle", "pull", url, "--identity", str(lead[0]), "--out", str(tmp_path / "a2"), "--team", str(team_path)]
    )
    assert out.exit_code == 2, out.output
    assert f"Received {study_en.study.study.id}/{member_id[:12]}" in out.stdout
    assert f"Refused {study_en.study.study.id}/{stranger_id[:12]}" in out.stderr
    other = keygen(tmp_path / "other" / "other.key")
    bad = invoke(
        ["bundle", "pull", url, "--identity", str(other[0]), "--out", str(tmp_path / "a3"), "--team", str(team_path)]
    )
    assert bad.exit_code != 0 and "not signed by this identity's team key" in bad.stderr
    assert [ln for ln in bad.stderr.splitlines() if ln.strip()] == [bad.stderr.strip()]


def test_bundle_open_with_the_team_file_refuses_a_laptop_not_in_it(tmp_path, study_en, lead):
    stranger_v, _sid, bundle = field_vault(tmp_path / "stranger", study_en, tmp_path, lead[1])
    a_v, _sid2, bundle_a = field_vault(tmp_path / "member", study_en, tmp_path, lead[1])
    team_path = tmp_path / "TEAM.json"
    with a_v, stranger_v:
        approve(make_join_request(a_v, "Ann Lee", "harbour_view"), team_path, lead[0])
    args = ["bundle", "open", "--identity", str(lead[0]), "--team", str(team_path)]
    bad = invoke([*args, "--out", str(tmp_path / "o1"), str(bundle)])
    assert bad.exit_code != 0 and bad.stderr.startswith("Error:") and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o1").exists()
    assert_ok(invoke([*args, "--out", str(tmp_path / "o2"), str(bundle_a)]))


# -- the command line ---------------------------------------------------------------------------------
def test_the_cli_round_trip(tmp_path, study_en, lead):
    vault_dir = tmp_path / "laptop"
    v, _ = Vault.create(vault_dir, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, keyed_study(study_en, lead[0]))
    req, team_path = tmp_path / "REQ.json", tmp_path / "TEAM.json"
    base = ["--vault", str(vault_dir)]
    assert_ok(invoke([*base, "team", "show"]))
    made = assert_ok(
        invoke([*base, "team", "request", "--interviewer", "Ann Lee", "--site", "riverside", "--out", str(req)])
    )
    assert "fingerprint" in made.stderr
    ok = assert_ok(invoke(["team", "approve", str(req), "--team", str(team_path), "--identity", str(lead[0])]))
    assert "P101–P199" in ok.stdout
    joined = assert_ok(invoke([*base, "team", "join", str(team_path)]))
    assert "P101–P199" in joined.stdout
    shown = assert_ok(invoke([*base, "team", "show"]))
    assert "Ann Lee" in shown.stdout and "this laptop" in shown.stdout and "riverside" in shown.stdout
    bad_site = invoke([*base, "team", "request", "--interviewer", "Ann", "--site", "moon", "--out", str(req)])
    assert bad_site.exit_code != 0 and "not one of this study's sites" in bad_site.stderr


# -- a laptop that received a hand-over -------------------------------------------------------------
def test_a_laptop_that_received_a_hand_over_takes_in_newer_team_files_and_can_re_request(tmp_path, study_en):
    from fieldscribe.core import handover

    from .team_setup import full_participant
    from .team_setup import laptops as team_laptops

    identity, (a, b, c, d) = team_laptops(tmp_path, study_en, ("a", "b", "c", "d"), members=3)
    try:
        pid = full_participant(a, study_en)
        assert pid == "P101"
        handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
        team_path = tmp_path / "lead" / "TEAM.json"
        newer = approve(make_join_request(d, "Dee Kay", "riverside"), team_path, identity)
        for v in (a, c, b):
            assert join(v, team_path.read_bytes()).device_id == v.device_id
            assert team(v).version == newer.version
        request = make_join_request(b, "Bo Chan", "riverside")
        assert json.loads(json.loads(request)["request"])["legacy_max"] == 0
        again = approve(request, team_path, identity)
        mine = again.by_device(b.device_id)
        assert mine.earlier_blocks == () and mine.block == Block(201, 299)
        assert join(b, team_path.read_bytes()).block == Block(201, 299)
        assert enrol(b, study_en) == "P201"  # B's own enrolments stay in B's block
    finally:
        for v in (a, b, c, d):
            v.close()
