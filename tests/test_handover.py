"""Hand-over of a participant between the laptops of one study team (core/handover.py): real
vaults, real device keys, real age encryption to the receiving laptop's own recipient."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from fieldscribe.core import handover, ledger, participants, sessions, withdrawal
from fieldscribe.core.consent import consent_history
from fieldscribe.core.deid.lists import participant_identifiers, replacement_table
from fieldscribe.core.deid.review import suggestions
from fieldscribe.core.errors import FieldscribeError, ParticipantWithdrawn, UnknownParticipant
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import device_key, keygen
from fieldscribe.core.guides import import_guide
from fieldscribe.core.sync.store import Credentials, connect
from fieldscribe.core.sync.trust import receipt_key_hex
from fieldscribe.core.team import TeamRefused
from fieldscribe.core.vault import Vault

from .conftest import PASSPHRASE
from .team_setup import full_participant, laptops, team_study, transcribed
from .test_cli import assert_ok, invoke
from .test_plaintext_scan import scan

WAVE1 = ["My name is Hope Mensah and I come here on Mondays.", "My sister Mary Ofori phones me."]


def one_sentence(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text.endswith((".", ")")), text
    return text


def audit(v: Vault, action: str) -> list:
    return [e for e in v.audit.entries() if e.action == action]


@pytest.fixture
def world(tmp_path, study_en):
    identity, vaults = laptops(tmp_path, study_en, ("a", "b", "c"), members=2)
    yield identity, vaults
    for v in vaults:
        v.close()


def use_shred(v: Vault, identity: Path, study_en) -> None:
    import_guide(v, team_study(study_en, identity, "shred"))
    assert handover.mode(v) == "shred"


# -- hand-over and receive ------------------------------------------------------------------------
def test_keep_hand_over_and_import_on_the_receiving_laptop(world, study_en, tmp_path):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    assert pid == "P101"
    sid = transcribed(a, pid, WAVE1, tmp_path)
    before = participants.get_participant(a, pid)
    history = [asdict(d) for d in consent_history(a, pid)]
    table_a = replacement_table(a)
    assert "Hope Mensah" in table_a and "Mary Ofori" in table_a

    done = handover.hand_over(a, pid, b.device_id[:8])
    assert done.mode == "kept" and done.name.startswith("P101-to-") and done.data.startswith(b"age-encryption.org/v1")
    assert b"Hope" not in done.data  # sealed
    # the sender keeps the record and says where it went
    assert participants.get_participant(a, pid).identity == before.identity
    assert handover.history(a, pid)[0]["device"] == b.device_id
    (sent,) = audit(a, "participant.handed_over")
    assert sent.subject == pid and sent.details["to"] == b.device_id[:8] and sent.details["mode"] == "kept"
    assert "Hope" not in json.dumps(sent.details)

    got = handover.receive(b, done.data)
    assert (got.participant, got.from_device, got.handed_back) == (pid, a.device_id, False)
    p = participants.get_participant(b, pid)
    assert p.id == "P101" and p.group == before.group and p.site == "harbour_view"
    assert (p.identity, p.baseline, p.eligibility, p.compensation) == (
        before.identity,
        before.baseline,
        before.eligibility,
        before.compensation,
    )
    assert [asdict(d) for d in consent_history(b, pid)] == history  # as it was taken, not re-consented
    assert [n.text for n in participants.participant_notes(b, pid)] == ["prefers mornings"]
    texts = {i.text for i in participant_identifiers(b, pid)}
    assert {"Hope Mensah", "Mary Ofori", "07700 900461"} <= texts
    assert replacement_table(b)["Mary Ofori"] == table_a["Mary Ofori"]
    (received,) = audit(b, "participant.received")
    assert received.subject == pid and received.details["from"] == a.device_id[:8]
    assert "Hope" not in json.dumps(received.details)
    assert participants.enrol(b, study_en.study, group="carer") == "P201"  # B's block goes on as ever

    # wave 2 on B: the participant's name is found in the new transcript
    sid2 = transcribed(b, pid, ["Hope here again.", "Mary Ofori visited last week."], tmp_path, wave=2, review=False)
    assert sessions.get_session(b, sid2).wave == 2
    found = {s.original: s.descriptor for s in suggestions(b, sid2)}
    assert "Mary Ofori" in found and any(o.startswith("Hope") for o in found)
    assert sessions.get_session(a, sid).status == sessions.REVIEWED  # A's interview is untouched


def test_replay_and_tampering_are_refused(world, study_en):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    done = handover.hand_over(a, pid, b.device_id[:8])
    handover.receive(b, done.data)
    with pytest.raises(FieldscribeError) as replay:
        handover.receive(b, done.data)
    assert "already imported" in one_sentence(replay.value)

    damaged = bytearray(done.data)
    damaged[-20] ^= 1
    with pytest.raises(FieldscribeError) as tampered:
        handover.receive(b, bytes(damaged))
    assert "altered" in one_sentence(tampered.value)
    with pytest.raises(FieldscribeError) as junk:
        handover.receive(b, b"not a hand-over")
    assert "not a fieldscribe hand-over" in one_sentence(junk.value)


def test_a_payload_re_signed_by_another_key_is_refused(world, study_en):
    """Whoever can encrypt to B (its recipient is in the team file) still cannot forge A."""
    from pyrage import encrypt, x25519

    from fieldscribe.core import team

    _identity, (a, b, c) = world
    pid = full_participant(a, study_en)
    done = handover.hand_over(a, pid, b.device_id[:8])
    from pyrage import decrypt

    plain = json.loads(decrypt(done.data, [x25519.Identity.from_str(team.device_age_identity(b))]))
    body = json.loads(plain["payload"])
    body["participant"]["group"] = "staff"
    text = team.canonical(body)
    forged_sig = device_key(c).sign(handover.CONTEXT + text.encode()).hex()
    forged = encrypt(
        json.dumps({"format": handover.FORMAT, "payload": text, "signature": forged_sig}).encode(),
        [x25519.Recipient.from_str(team.device_age_recipient(b))],
    )
    with pytest.raises(FieldscribeError) as refused:
        handover.receive(b, forged)
    assert "not validly signed" in one_sentence(refused.value)


def test_a_laptop_not_in_the_team_file_cannot_have_its_hand_over_imported(world, study_en, tmp_path):
    """C is not a member: even a file C seals to B's listed recipient is refused by B."""
    from fieldscribe.core.sync.membership import join

    identity, (_a, b, c) = world
    # C holds the team file (as a copy lying around would let it) but is not listed in it
    team_file = (tmp_path / "lead" / "TEAM.json").read_bytes()
    from fieldscribe.core.study_records import put_study_record
    from fieldscribe.core.team import TEAM_RECORD, verify_team

    with pytest.raises(TeamRefused):
        join(c, team_file)
    held = verify_team(team_file, {receipt_key_hex(identity)})
    with c.db.atomic():
        put_study_record(c, TEAM_RECORD, {"team": held.text, "signature": held.signature, "signed_by": held.signed_by})
        ledger.update_study(c, "team.joined", "", version=held.version, members=len(held.members))
    pid = participants.enrol(c, study_en.study, group="service_user", name="Eve Fake")
    done = handover.hand_over(c, pid, b.device_id[:8])
    with pytest.raises(TeamRefused) as refused:
        handover.receive(b, done.data)
    text = one_sentence(refused.value)
    assert "not in this laptop's team file" in text
    assert participants.list_participants(b) == []


def test_a_file_sealed_for_b_cannot_be_imported_on_c(world, study_en):
    _identity, (a, b, c) = world
    pid = full_participant(a, study_en)
    done = handover.hand_over(a, pid, b.device_id[:8])
    with pytest.raises(FieldscribeError) as refused:
        handover.receive(c, done.data)
    assert "sealed for another laptop" in one_sentence(refused.value)
    with pytest.raises(FieldscribeError) as same:
        handover.receive(a, done.data)  # not even the sender can open it
    assert "sealed for another laptop" in one_sentence(same.value)


def test_unknown_withdrawn_self_and_stranger_are_refused(world, study_en):
    _identity, (a, b, c) = world
    with pytest.raises(UnknownParticipant):
        handover.hand_over(a, "P999", b.device_id[:8])
    pid = full_participant(a, study_en)
    withdrawal.withdraw(a, pid, pid)
    with pytest.raises(ParticipantWithdrawn):
        handover.hand_over(a, pid, b.device_id[:8])
    other = participants.enrol(a, study_en.study, group="carer", name="Kofi")
    with pytest.raises(FieldscribeError) as itself:
        handover.hand_over(a, other, a.device_id[:8])
    assert "is this laptop" in one_sentence(itself.value)
    with pytest.raises(FieldscribeError) as stranger:
        handover.hand_over(a, other, c.device_id[:8])
    assert "No laptop in the team file" in one_sentence(stranger.value)
    assert not audit(a, "participant.handed_over")


def test_shred_destroys_the_personal_record_but_the_interviews_stay_exportable(world, study_en, tmp_path):
    identity, (a, b, _c) = world
    _lead_id, recipient = keygen(tmp_path / "analysis" / "analysis.key")
    pid = full_participant(a, study_en)
    sid = transcribed(a, pid, WAVE1, tmp_path)
    use_shred(a, identity, study_en)
    sealed_identity = a.db.execute(
        "SELECT sealed FROM participant_records WHERE participant_id = ? AND kind = 'identity'", (pid,)
    ).fetchone()[0]

    done = handover.hand_over(a, pid, b.device_id[:8])
    assert done.mode == "shredded"
    p = participants.get_participant(a, pid)
    assert p.identity == {} and p.compensation is None and p.eligibility is None
    assert participants.participant_notes(a, pid) == []
    assert {i.text for i in participant_identifiers(a, pid)} == set()
    assert p.status == participants.ENROLLED and p.baseline  # the export's case attributes stay
    assert handover.shredded_here(a, pid)
    (entry,) = audit(a, "participant.handed_over")
    assert entry.details["mode"] == "shredded"
    a.close()
    # nothing of the destroyed record is left on A's disk, not even its ciphertext
    folder = tmp_path / "laptop-a"
    leftovers = scan(folder, {"name": "Hope Mensah", "contact": "07700 900461", "note": "prefers mornings"})
    assert leftovers == []
    assert not any(sealed_identity in f.read_bytes() for f in folder.rglob("*") if f.is_file())
    a2 = Vault.open(folder)
    a2.unlock(PASSPHRASE)
    try:
        bundle = export_sessions(a2, [sid], tmp_path / "out", [recipient])
        assert bundle.exists()
        with pytest.raises(FieldscribeError) as again:
            handover.hand_over(a2, pid, b.device_id[:8])
        assert "shredded here" in one_sentence(again.value)
        assert a2.db.execute("SELECT COUNT(*) FROM ledgers").fetchone()[0] > 0
        assert ledger.verify_all(a2) == []
    finally:
        a2.close()
    got = handover.receive(b, done.data)
    assert participants.get_participant(b, got.participant).identity["name"] == "Hope Mensah"


def test_shred_is_refused_while_an_interview_awaits_review(world, study_en, tmp_path):
    identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    sid = transcribed(a, pid, WAVE1, tmp_path, review=False)
    use_shred(a, identity, study_en)
    with pytest.raises(FieldscribeError) as refused:
        handover.hand_over(a, pid, b.device_id[:8])
    assert sid in one_sentence(refused.value) and "review" in str(refused.value)
    assert participants.get_participant(a, pid).identity["name"] == "Hope Mensah"


def test_handing_back_merges_into_the_laptop_that_sent_them(world, study_en):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    participants.add_note(b, pid, "moved to Riverside")
    from fieldscribe.core.consent import record_consent

    record_consent(b, study_en.study, pid, {"quotes": True})
    back = handover.receive(a, handover.hand_over(b, pid, a.device_id[:8]).data)
    assert back.handed_back
    assert [n.text for n in participants.participant_notes(a, pid)] == ["prefers mornings", "moved to Riverside"]
    assert [d.given for d in consent_history(a, pid) if d.item_id == "quotes"] == [True, False, True]
    assert ledger.verify_all(a) == []


def test_a_pseudonym_held_here_for_someone_else_is_refused(world, study_en):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    done = handover.hand_over(a, pid, b.device_id[:8])
    # B already has a P101 of its own (as a vault that enrolled a hundred people before the team could)
    from fieldscribe.core.audit import now_iso

    with b.db.atomic():
        b.db.table("participants").insert(
            {
                "id": "P101",
                "seq": 101,
                "study_group": "carer",
                "status": participants.ENROLLED,
                "enrolled_at": now_iso(),
                "withdrawn_at": None,
                "site": None,
            }
        )
        b.new_participant_key("P101")
        ledger.update_participant(b, "P101", "participant.enrol", "P101")
    with pytest.raises(FieldscribeError) as refused:
        handover.receive(b, done.data)
    assert "another participant under that pseudonym" in one_sentence(refused.value)


# -- the command line ------------------------------------------------------------------------------
def test_the_cli_hands_over_and_receives(world, study_en, tmp_path):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    a_dir, b_dir = str(a.path), str(b.path)
    a_id, b_id = a.device_id, b.device_id
    a.close()
    b.close()
    usb = tmp_path / "usb"
    usb.mkdir()
    out = invoke(["--vault", a_dir, "participant", "hand-over", pid, "--to", b_id[:8], "--out", str(usb)])
    assert_ok(out)
    assert "keeps its copy" in out.stdout and "participant receive" in out.stdout
    (file,) = usb.iterdir()
    again = invoke(["--vault", a_dir, "participant", "hand-over", pid, "--to", b_id[:8], "--out", str(file)])
    assert again.exit_code != 0 and "already exists" in again.stderr
    got = invoke(["--vault", b_dir, "participant", "receive", str(file)])
    assert_ok(got)
    assert f"{pid} received from {a_id[:8]}" in got.stdout
    shown = invoke(["--vault", a_dir, "participant", "show", pid])
    assert_ok(shown)
    assert f"Handed over to {b_id[:8]}" in shown.stdout
    bad = invoke(["--vault", b_dir, "participant", "receive", str(file)])
    assert bad.exit_code != 0 and "already imported" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


# -- withdrawal reaches them wherever their data is -----------------------------------------------------
def test_withdrawal_on_b_reaches_a_through_the_store(world, study_en, tmp_path):
    _identity, (a, b, _c) = world
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    pid = full_participant(a, study_en)
    sid = transcribed(a, pid, WAVE1, tmp_path)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)

    def sync_both(v: Vault) -> handover.Exchange:
        store = connect(url, Credentials())
        try:
            return handover.exchange(v, store)
        finally:
            store.close()

    assert sync_both(a).withdrawn == [] and sync_both(b).withdrawn == []  # nothing to learn yet
    withdrawal.withdraw(b, pid, pid)
    assert handover.tell_peers(b)  # what `participant withdraw` does after withdrawing
    assert sync_both(b).sent  # B uploads its notice into its own folder
    assert list((store_dir / study_en.study.study.id / b.device_id / "notices").iterdir())
    learnt = sync_both(a)
    assert learnt.withdrawn == [pid]
    assert participants.get_participant(a, pid).withdrawn
    assert sessions.get_session(a, sid).status == sessions.WITHDRAWN  # their interview on A is gone too
    (entry,) = audit(a, "participant.withdrawn_elsewhere")
    assert entry.subject == pid and entry.details["device"] == b.device_id[:8]
    assert sync_both(a).withdrawn == []  # once


def test_a_notice_from_a_non_member_or_forged_is_ignored(world, study_en, tmp_path):
    _identity, (a, b, c) = world
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    pid = full_participant(a, study_en)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    from fieldscribe.core.sync import notices

    # C (not in the team) signs a notice and drops it into B's folder on the store
    name, data = notices.make_notice(c, study_en.study.study.id, pid, [], [])
    folder = store_dir / study_en.study.study.id / b.device_id / "notices"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    store = connect(url, Credentials())
    try:
        report = handover.exchange(a, store)
    finally:
        store.close()
    assert report.withdrawn == [] and report.ignored == [name]
    assert not participants.get_participant(a, pid).withdrawn


# -- review findings: only the laptops a hand-over links may act on a participant -------------------
@pytest.fixture
def trio(tmp_path, study_en):
    """Three member laptops A, B, C (C a member too, so its signatures verify)."""
    identity, vaults = laptops(tmp_path, study_en, ("a", "b", "c"), members=3)
    yield identity, vaults
    for v in vaults:
        v.close()


def _sync(v: Vault, store_dir: Path) -> handover.Exchange:
    store = connect(f"file://{store_dir}", Credentials())
    try:
        return handover.exchange(v, store)
    finally:
        store.close()


def _drop_notice(store_dir: Path, study_id: str, v: Vault, name: str, data: bytes) -> None:
    folder = store_dir / study_id / v.device_id / "notices"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def test_a_member_that_never_held_them_cannot_withdraw_a_handed_over_participant(trio, study_en, tmp_path):
    from fieldscribe.core.sync import notices

    _identity, (a, b, c) = trio
    study_id = study_en.study.study.id
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    pid = full_participant(a, study_en)
    # B's own notice made before A handed P101 to B: stale, it says nothing about A's P101
    stale_name, stale = notices.make_notice(b, study_id, pid, [], [])
    _drop_notice(store_dir, study_id, b, stale_name, stale)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    # C is a member, validly signs a notice for P101 into its own folder, but never held P101
    name, data = notices.make_notice(c, study_id, pid, [], [])
    _drop_notice(store_dir, study_id, c, name, data)
    for v in (a, b):
        report = _sync(v, store_dir)
        assert report.withdrawn == [], v.device_id
        assert not participants.get_participant(v, pid).withdrawn
    assert not audit(a, "participant.withdrawn_elsewhere") and not audit(b, "participant.withdrawn_elsewhere")


def test_a_withdrawal_travels_back_along_a_chain_of_hand_overs(trio, study_en, tmp_path):
    _identity, (a, b, c) = trio
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    pid = full_participant(a, study_en)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    handover.receive(c, handover.hand_over(b, pid, c.device_id[:8]).data)
    withdrawal.withdraw(c, pid, pid)
    assert handover.tell_peers(c)
    assert _sync(c, store_dir).sent
    assert _sync(a, store_dir).withdrawn == []  # A never dealt with C: C's notice is not for A
    via_b = _sync(b, store_dir)
    assert via_b.withdrawn == [pid] and via_b.sent  # B withdraws and re-tells A at once
    assert _sync(a, store_dir).withdrawn == [pid]
    assert participants.get_participant(a, pid).withdrawn
    (entry,) = audit(a, "participant.withdrawn_elsewhere")
    assert entry.details["device"] == b.device_id[:8]


def _forged_hand_back(monkeypatch, sender: Vault, to: Vault, as_pid: str, study_en) -> bytes:
    """SENDER enrols someone of its own and seals them to TO under the pseudonym AS_PID."""
    own = full_participant(sender, study_en, name="Mallory Forged")
    real = handover.handover_payload

    def renamed(vault, pid, receiver, hid):
        body = real(vault, pid, receiver, hid)
        body["participant"]["id"] = as_pid
        return body

    monkeypatch.setattr(handover, "handover_payload", renamed)
    try:
        return handover.hand_over(sender, own, to.device_id[:8]).data
    finally:
        monkeypatch.setattr(handover, "handover_payload", real)


def test_a_member_cannot_hand_back_a_participant_it_was_never_handed(trio, study_en, monkeypatch):
    _identity, (a, b, c) = trio
    pid = full_participant(a, study_en)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    forged = _forged_hand_back(monkeypatch, c, a, pid, study_en)
    with pytest.raises(FieldscribeError) as refused:
        handover.receive(a, forged)
    assert "handed over to" in one_sentence(refused.value) and b.device_id[:8] in str(refused.value)
    assert participants.get_participant(a, pid).identity["name"] == "Hope Mensah"
    assert not audit(a, "participant.received")


def test_a_stale_hand_back_cannot_roll_the_participant_back(trio, study_en):
    _identity, (a, b, _c) = trio
    pid = full_participant(a, study_en)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    first = handover.hand_over(b, pid, a.device_id[:8])
    participants.add_note(b, pid, "old news")
    stale = handover.hand_over(b, pid, a.device_id[:8])  # made, never delivered until later
    assert handover.receive(a, first.data).handed_back
    participants.add_note(a, pid, "wave 3 booked")
    assert handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data).handed_back
    with pytest.raises(FieldscribeError) as refused:
        handover.receive(a, stale.data)
    assert "older than" in one_sentence(refused.value)
    assert "wave 3 booked" in [n.text for n in participants.participant_notes(a, pid)]


def test_a_hand_back_keeps_what_the_sender_added_after_handing_over(trio, study_en):
    from fieldscribe.core.deid.lists import add_participant_identifiers

    _identity, (a, b, _c) = trio
    pid = full_participant(a, study_en)
    handover.receive(b, handover.hand_over(a, pid, b.device_id[:8]).data)
    participants.add_note(a, pid, "phoned to say she moved")  # A kept its copy and goes on
    add_participant_identifiers(a, pid, ["Ward 9=[ward]"])
    participants.add_note(b, pid, "moved to Riverside")
    add_participant_identifiers(b, pid, ["Dr Osei=[doctor]"])
    assert handover.receive(a, handover.hand_over(b, pid, a.device_id[:8]).data).handed_back
    notes = participants.participant_notes(a, pid)
    assert [n.text for n in notes] == ["prefers mornings", "phoned to say she moved", "moved to Riverside"]
    texts = [i.text for i in participant_identifiers(a, pid)]
    assert {"Mary Ofori", "Ward 9", "Dr Osei"} <= set(texts) and len(texts) == len(set(texts))
    assert ledger.verify_all(a) == []


# -- through the store: queued at hand-over, carried at sync ----------------------------------------
def _inbox(store_dir: Path, study_id: str, v: Vault) -> Path:
    return store_dir / study_id / v.device_id / handover.HANDOVERS


def _plant(store_dir: Path, study_id: str, v: Vault, name: str, data: bytes) -> None:
    folder = _inbox(store_dir, study_id, v)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def test_a_hand_over_travels_through_the_store(world, study_en, tmp_path):
    _identity, (a, b, _c) = world
    study_id = study_en.study.study.id
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    pid = full_participant(a, study_en)
    before = participants.get_participant(a, pid)
    done = handover.hand_over(a, pid, b.device_id[:8], via_store=True)
    (queued,) = handover.queued_hand_overs(a)
    assert queued["name"] == done.name and queued["to"] == b.device_id and queued["uploaded_at"] is None
    (sent,) = audit(a, "participant.handed_over")
    assert sent.details["via"] == "store"
    assert not store_dir.joinpath(study_id).exists()  # nothing leaves before the sync

    assert _sync(b, store_dir).received == []  # B's inbox is empty yet
    up = _sync(a, store_dir)
    assert up.handed == [done.name] and up.received == [] and up.refused == []
    on_store = _inbox(store_dir, study_id, b) / done.name
    assert on_store.read_bytes() == done.data  # ciphertext for B only
    assert b"Hope" not in on_store.read_bytes()
    assert handover.queued_hand_overs(a)[0]["uploaded_at"]
    assert _sync(a, store_dir).handed == []  # uploaded once

    got = _sync(b, store_dir)
    assert [(r.participant, r.from_device, r.name) for r in got.received] == [(pid, a.device_id, done.name)]
    assert got.refused == []
    p = participants.get_participant(b, pid)
    assert (p.identity, p.baseline, p.group) == (before.identity, before.baseline, before.group)
    assert not on_store.exists()  # removed once it was taken in
    (entry,) = audit(b, "handover.from_store")
    assert entry.subject == pid and entry.details["name"] == done.name
    again = _sync(b, store_dir)
    assert (again.received, again.refused, again.handed) == ([], [], [])

    # the same file put back on the store is skipped (taken in already), not imported twice
    _plant(store_dir, study_id, b, done.name, done.data)
    assert (_sync(b, store_dir).received, _sync(b, store_dir).refused) == ([], [])
    # a copy under another name meets receive's replay check: refused once, then left alone
    _plant(store_dir, study_id, b, "copy" + done.name, done.data)
    (refused,) = _sync(b, store_dir).refused
    assert refused[0] == "copy" + done.name and "already imported" in refused[1]
    assert _sync(b, store_dir).refused == []


def test_shred_through_the_store_keeps_the_file_in_the_vault_until_it_is_uploaded(world, study_en, tmp_path):
    identity, (a, b, _c) = world
    use_shred(a, identity, study_en)
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    pid = full_participant(a, study_en)
    done = handover.hand_over(a, pid, b.device_id[:8], via_store=True)
    assert done.mode == "shredded" and not participants.get_participant(a, pid).identity
    (queued,) = handover.queued_hand_overs(a)  # the only copy of the record is here, sealed for B
    assert queued["name"] == done.name and queued["uploaded_at"] is None
    _sync(a, store_dir)
    assert handover.queued_hand_overs(a)[0]["data"]  # kept after the upload too
    (got,) = _sync(b, store_dir).received
    assert got.participant == pid and participants.get_participant(b, pid).identity


def test_a_file_in_the_inbox_from_outside_the_team_is_refused_once(world, study_en, tmp_path):
    """C holds the team file but is not listed in it: what it seals to B and drops in B's inbox
    is refused in one sentence, left on the store and not tried again."""
    from fieldscribe.core.study_records import put_study_record
    from fieldscribe.core.team import TEAM_RECORD, verify_team

    identity, (_a, b, c) = world
    study_id = study_en.study.study.id
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    held = verify_team((tmp_path / "lead" / "TEAM.json").read_bytes(), {receipt_key_hex(identity)})
    with c.db.atomic():
        put_study_record(c, TEAM_RECORD, {"team": held.text, "signature": held.signature, "signed_by": held.signed_by})
        ledger.update_study(c, "team.joined", "", version=held.version, members=len(held.members))
    pid = participants.enrol(c, study_en.study, group="service_user", name="Eve Fake")
    forged = handover.hand_over(c, pid, b.device_id[:8])
    _plant(store_dir, study_id, b, forged.name, forged.data)
    report = _sync(b, store_dir)
    assert report.received == []
    ((name, why),) = report.refused
    assert name == forged.name and "not in this laptop's team file" in why
    assert "\n" not in why and why.endswith(".")
    assert participants.list_participants(b) == []
    assert (_inbox(store_dir, study_id, b) / forged.name).exists()  # left there, for whoever runs the store
    assert _sync(b, store_dir).refused == []  # not tried again
    assert len(audit(b, "handover.refused_from_store")) == 1


def test_a_file_for_another_laptop_in_the_inbox_is_refused(trio, study_en, tmp_path):
    _identity, (a, b, c) = trio
    study_id = study_en.study.study.id
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    pid = full_participant(a, study_en)
    for_c = handover.hand_over(a, pid, c.device_id[:8])
    _plant(store_dir, study_id, b, for_c.name, for_c.data)
    _plant(store_dir, study_id, b, "P9-junk" + handover.SUFFIX, b"not a hand-over at all")
    (_inbox(store_dir, study_id, b) / ("P8-folder" + handover.SUFFIX)).mkdir()
    report = _sync(b, store_dir)
    assert report.received == []
    why = dict(report.refused)
    assert set(why) == {for_c.name, "P9-junk" + handover.SUFFIX, "P8-folder" + handover.SUFFIX}
    assert "sealed for another laptop" in why[for_c.name]
    assert "not age-encrypted" in why["P9-junk" + handover.SUFFIX]
    assert "not a regular file" in why["P8-folder" + handover.SUFFIX]
    assert participants.list_participants(b) == []
    assert _sync(b, store_dir).refused == []
    # C, whose file it is, can still take it in from a USB stick
    assert handover.receive(c, for_c.data).participant == pid


def test_hand_over_goes_either_to_a_file_or_through_the_store(world, study_en):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    with pytest.raises(FieldscribeError):
        handover.hand_over(a, pid, b.device_id[:8], via_store=True, deliver=lambda name, data: None)
    assert handover.history(a, pid) == [] and handover.queued_hand_overs(a) == []


def test_the_cli_hands_over_through_the_store(world, study_en, tmp_path):
    _identity, (a, b, _c) = world
    pid = full_participant(a, study_en)
    a_dir, b_dir = str(a.path), str(b.path)
    a_id = a.device_id
    b_id = b.device_id
    a.close()
    b.close()
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    both = invoke(["--vault", a_dir, "participant", "hand-over", pid, "--to", b_id[:8], "--via-store", "--out", "x"])
    assert both.exit_code != 0 and "exactly one" in both.stderr
    neither = invoke(["--vault", a_dir, "participant", "hand-over", pid, "--to", b_id[:8]])
    assert neither.exit_code != 0 and "exactly one" in neither.stderr
    out = assert_ok(invoke(["--vault", a_dir, "participant", "hand-over", pid, "--to", b_id[:8], "--via-store"]))
    assert "keeps its copy" in out.stdout and "next `fieldscribe sync`" in out.stdout
    sent = assert_ok(invoke(["--vault", a_dir, "sync", "--to", url]))
    assert "in the receiving laptop's inbox on the store" in sent.stderr
    got = assert_ok(invoke(["--vault", b_dir, "sync", "--to", url]))
    assert f"Received {pid} from laptop {a_id[:8]} (hand-over)." in got.stderr
    shown = assert_ok(invoke(["--vault", b_dir, "participant", "show", pid]))
    assert "Hope Mensah" in shown.stdout
    again = assert_ok(invoke(["--vault", b_dir, "sync", "--to", url]))
    assert "Received" not in again.stderr and "Warning" not in again.stderr
