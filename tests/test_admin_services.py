"""The study's administration through the services, as the app calls it, on real vaults: the
analysis team's key kept in the vault (and export using it for sessions planned before it was
set), consent taken again item by item, identifiers, the study store with a real connection
test against loopback servers, purge after verified receipts, and withdrawal previewed then done."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fieldscribe.core import sessions
from fieldscribe.core.errors import (
    ConfirmationMismatch,
    FieldscribeError,
    HistoryTampered,
    InvalidInput,
    RecordTampered,
)
from fieldscribe.core.export.bundle import open_bundle
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.export.outbox import list_exports
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import parse_study
from fieldscribe.services import Services
from fieldscribe.services.admin import (
    ConsentStatus,
    PurgePreview,
    RecipientsView,
    StoreTestView,
    WithdrawalPreviewView,
)

from .conftest import PASSPHRASE
from .test_cli import assert_ok, invoke
from .test_sync import field_vault
from .test_withdrawal_reach import laptop
from .vault_access import pull_from_store, reopen, sql, sync_with


@pytest.fixture
def team(tmp_path):
    return keygen(tmp_path / "team" / "team.key")


def services_for(path: Path) -> Services:
    svc = Services(path)
    svc.unlock(PASSPHRASE)
    return svc


def reviewed_vault(tmp_path: Path, study, team) -> tuple[Path, str]:
    """A new study whose file names no recipient, with one recorded, transcribed and reviewed
    interview, planned before anyone set a key."""
    v, sid, _ = field_vault(tmp_path / "laptop", study, tmp_path, team[1], export=False)
    assert not study.study.export.recipients, "the example study file names no team key"
    v.close()
    return tmp_path / "laptop", sid


# -- the analysis team's key ----------------------------------------------------------------------
def test_a_new_study_exports_its_existing_sessions_once_the_key_is_set_in_the_app(tmp_path, study_en, team):
    path, sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        before = svc.recipients()
        assert isinstance(before, RecipientsView) and before.source is None and before.keys == ()
        with pytest.raises(InvalidInput, match="No recipient"):
            svc.export([sid])
        with pytest.raises(InvalidInput, match="not an age recipient"):
            svc.set_recipient("age1-not-a-key")
        pub = Path(str(team[0]) + ".pub").read_text()
        view = svc.set_recipient("# the team's key\n" + pub)  # the .pub file's contents, pasted
        assert view.source == "vault" and [(k.recipient, k.source, k.in_use) for k in view.keys] == [
            (team[1], "vault", True)
        ]
        bundle = svc.export([sid])
        opened = open_bundle(bundle, team[0])  # the team's identity opens it
        assert [s["id"] for s in opened.manifest["sessions"]] == [sid]
        entries = {e.action: e.details for e in svc.vault.audit.entries()}  # the latest of each
        assert entries["export.recipients_set"]["recipients"] == [team[1]]
        assert entries["export.bundle"]["recipients_from"] == "vault"
        # the key file's path works too, and clearing falls back to the (empty) study file
        assert svc.set_recipient(str(team[0]) + ".pub").keys[0].recipient == team[1]
        cleared = svc.clear_recipient()
        assert cleared.source is None and cleared.keys == ()
        assert svc.vault.audit.entries()[-1].action == "export.recipients_cleared"
    finally:
        svc.close()


def test_recipients_come_from_the_export_then_the_vault_then_the_newest_study_file(tmp_path, study_en, team):
    path, sid = reviewed_vault(tmp_path, study_en, team)
    newer_key, newer = keygen(tmp_path / "newer.key")
    vault_key, in_vault = keygen(tmp_path / "vault.key")
    given_key, given = keygen(tmp_path / "given.key")
    with reopen(path) as v:  # the team adds a key to a newer version of the study file
        import_guide(v, parse_study(study_en.text.rstrip("\n") + f"\nexport:\n  recipients: [{newer}]\n"))
        # the session keeps the version it was planned with; the newest file's key reaches it
        assert open_bundle(export_sessions(v, [sid], tmp_path / "a"), newer_key)
        assert v.audit.entries()[-1].details["recipients_from"] == "study_file"
    svc = services_for(path)
    try:
        view = svc.set_recipient(in_vault)
        assert [(k.source, k.in_use) for k in view.keys] == [("vault", True), ("study_file", False)]
        assert open_bundle(svc.export([sid]), vault_key)
        svc.export_recipients = [given]  # an app started with its own key
        assert svc.recipients().source == "app"
        assert open_bundle(svc.export([sid]), given_key)
    finally:
        svc.close()
    r = invoke(["--vault", str(path), "study", "recipient", "show"])
    assert_ok(r)
    assert f"* {in_vault}  (set for the study)" in r.stdout and f"  {newer}  (from the study file)" in r.stdout


def test_the_cli_sets_shows_and_clears_the_studys_key(tmp_path, study_en, team):
    path, _sid = reviewed_vault(tmp_path, study_en, team)
    fs = ["--vault", str(path), "study", "recipient"]
    assert team[1] in assert_ok(invoke([*fs, "set", str(team[0]) + ".pub"])).stdout
    assert f"* {team[1]}  (set for the study)" in assert_ok(invoke([*fs, "show"])).stdout
    assert "cleared" in assert_ok(invoke([*fs, "clear"])).stdout
    assert "No key for new exports" in assert_ok(invoke([*fs, "show"])).stderr
    assert invoke([*fs, "set", "age1nope"]).exit_code != 0


def test_a_key_swapped_rolled_back_or_deleted_on_disk_is_detected(tmp_path, study_en, team):
    path, sid = reviewed_vault(tmp_path, study_en, team)
    _attacker_key, attacker = keygen(tmp_path / "attacker.key")
    with reopen(path) as v:
        from fieldscribe.core.export.recipients import set_study_recipients

        set_study_recipients(v, attacker)  # a key once set (say, by mistake) …
        old = v.db.execute("SELECT sealed FROM study_records WHERE name = 'export_recipients'").fetchone()[0]
        set_study_recipients(v, team[1])  # … then corrected
    # the older ciphertext put back: it still authenticates on its own, the study's history does not
    sql(path, "UPDATE study_records SET sealed = ? WHERE name = 'export_recipients'", old)
    svc = services_for(path)
    try:
        with pytest.raises(HistoryTampered):
            svc.recipients()
        with pytest.raises(HistoryTampered):
            svc.export([sid])
    finally:
        svc.close()
    assert not list((path / "outbox").glob("*.age")) if (path / "outbox").exists() else True
    # bytes that are not ours at all, and a deleted key (to fall back to another source)
    for statement in (
        "UPDATE study_records SET sealed = X'00112233' WHERE name = 'export_recipients'",
        "DELETE FROM study_records WHERE name = 'export_recipients'",
    ):
        sql(path, statement)
        with reopen(path) as v, pytest.raises(RecordTampered):
            export_sessions(v, [sid], tmp_path / "out")


# -- consent and identifiers --------------------------------------------------------------------------
def test_consent_is_taken_again_item_by_item(tmp_path, study_en, team):
    path, _sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        items = svc.consent_items("p1")
        audio = study_en.study.audio_consent_item.id
        assert items[-1].id == audio and items[-1].audio_recording and all(i.given for i in items)
        assert all(i.taken_by and i.at for i in items)
        status = svc.record_consent("P1", {audio: False}, {audio: "does not want to be recorded today"})
        assert isinstance(status, ConsentStatus) and status.state == "no audio"
        latest = {i.id: i for i in status.items}
        assert latest[audio].given is False and latest[audio].note == "does not want to be recorded today"
        assert all(i.given for i in status.items if i.id != audio), "the other items keep their decision"
        assert svc.record_consent("P1", {audio: True}).state == "complete"
        with pytest.raises(InvalidInput, match="not answered now"):
            svc.record_consent("P1", {audio: True}, {"quotes": "x"})
        with pytest.raises(InvalidInput):
            svc.record_consent("P1", {})
        with pytest.raises(InvalidInput, match="Unknown consent item"):
            svc.record_consent("P1", {"no_such_item": True})
        with pytest.raises(dataclasses.FrozenInstanceError):
            status.state = "none"  # type: ignore[misc]
        assert [e.action for e in svc.vault.audit.entries()].count("consent.record") >= 3
    finally:
        svc.close()


def test_participant_and_study_identifiers(tmp_path, study_en, team):
    path, _sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        own = svc.participant_identifiers("P1")
        assert ("Ann Lee", "[P1]", "participant") in [(i.text, i.descriptor, i.source) for i in own]
        after = svc.add_participant_identifiers("P1", ["Mary=sister", "  "])
        assert ("Mary", "[sister]") in [(i.text, i.descriptor) for i in after] and len(after) == len(own) + 1
        with pytest.raises(InvalidInput):
            svc.add_participant_identifiers("P1", [" "])
        listed = svc.study_identifiers()
        assert listed and {i.source for i in listed} == {"study_file"}
        added = svc.add_study_identifiers(["Lotus Café=café"])
        assert added[0].text == "Lotus Café" and added[0].descriptor == "[café]" and added[0].source == "added"
    finally:
        svc.close()


# -- the study store ----------------------------------------------------------------------------------
def test_a_folder_store_is_tested_and_its_folder_made_without_uploading(tmp_path, study_en, team):
    path, _sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        assert svc.test_store().outcome == "not_set"
        store = tmp_path / "usb"
        store.mkdir()
        settings = svc.save_store(f"file://{store}")
        assert settings.source == "vault" and settings.address == f"file://{store}" and not settings.password_set
        result = svc.test_store(timeout_s=5)
        assert isinstance(result, StoreTestView) and result.ok, result.sentence
        folder = store / study_en.study.study.id / svc.vault.device_id
        assert folder.is_dir() and not list(folder.iterdir()), "nothing was uploaded"
        svc.save_store(f"file://{tmp_path / 'not-mounted'}")
        missing = svc.test_store(timeout_s=5)
        assert missing.outcome == "unreachable" and "mounted" in missing.sentence
        with pytest.raises(InvalidInput):
            svc.save_store("ftp://example.org/x")
        with pytest.raises(InvalidInput, match="does not exist"):
            svc.save_store(f"file://{store}", known_hosts=str(tmp_path / "nope"))
    finally:
        svc.close()


def test_an_sftp_store_is_reachable_and_a_wrong_host_key_is_named(sshd, tmp_path, study_en, team):
    path, _sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        url = f"{sshd.url}/admin-test"
        svc.save_store(url, identity_file=str(sshd.user_key), known_hosts=str(sshd.known_hosts))
        ok = svc.test_store(timeout_s=5)
        assert ok.ok, ok.sentence
        assert (sshd.root / "admin-test" / study_en.study.study.id / svc.vault.device_id).is_dir()
        other = tmp_path / "host2"
        wrong = tmp_path / "known_hosts"
        wrong.write_text(f"[127.0.0.1]:{sshd.port} " + " ".join(_pubkey(other).split()[:2]) + "\n")
        svc.save_store(url, identity_file=str(sshd.user_key), known_hosts=str(wrong))
        bad = svc.test_store(timeout_s=5)
        assert bad.outcome == "host_key" and "not the one in" in bad.sentence
        empty = tmp_path / "empty_known_hosts"
        empty.write_text("")
        svc.save_store(url, identity_file=str(sshd.user_key), known_hosts=str(empty))
        assert svc.test_store(timeout_s=5).outcome == "host_key"
        stranger = tmp_path / "stranger"
        _pubkey(stranger)
        svc.save_store(url, identity_file=str(stranger), known_hosts=str(sshd.known_hosts))
        assert svc.test_store(timeout_s=5).outcome == "refused"
    finally:
        svc.close()


def _pubkey(path: Path) -> str:
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return Path(str(path) + ".pub").read_text()


def test_a_webdav_store_with_a_wrong_password_is_refused_and_the_password_never_shown(webdav, tmp_path, study_en, team):
    path, _sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        settings = svc.save_store(webdav.url, password="wrong")
        assert settings.password_set and "wrong" not in repr(settings)
        refused = svc.test_store(timeout_s=5)
        assert refused.outcome == "refused" and "password" in refused.sentence
        svc.save_store(webdav.url, password=webdav.password)
        assert svc.test_store(timeout_s=5).ok
        kept = svc.save_store(webdav.url)  # the same server, no password typed: the saved one stays
        assert kept.password_set and svc.test_store(timeout_s=5).ok
        moved = svc.save_store(webdav.url.replace("127.0.0.1", "localhost"))  # never carried to another host
        assert not moved.password_set
        assert svc.save_store(webdav.url, password="").password_set is False
    finally:
        svc.close()


def test_an_unreachable_store_answers_within_the_timeout(tmp_path, study_en, team):
    from .sync_servers import free_port

    path, _sid = reviewed_vault(tmp_path, study_en, team)
    svc = services_for(path)
    try:
        known = tmp_path / "known_hosts"
        known.write_text("")
        svc.save_store(f"sftp://nobody@127.0.0.1:{free_port()}/x", known_hosts=str(known))
        result = svc.test_store(timeout_s=2)
        assert result.outcome == "unreachable" and "cannot be reached" in result.sentence
    finally:
        svc.close()


# -- purge and withdrawal -----------------------------------------------------------------------------
def test_purge_preview_names_the_received_sessions_and_the_phrase_that_purges_them(tmp_path, study_en, team):
    path, sid = reviewed_vault(tmp_path, study_en, team)
    store = tmp_path / "store"
    store.mkdir()
    svc = services_for(path)
    try:
        svc.set_recipient(team[1])
        nothing = svc.purge_preview()
        assert isinstance(nothing, PurgePreview) and nothing.sessions == () and nothing.confirmation == ""
        bundle = svc.export([sid])
        svc.save_store(f"file://{store}")
        svc.sync()
    finally:
        svc.close()
    with_receipts = pull_from_store(f"file://{store}", team[0], tmp_path / "analysis")
    assert [r.error for r in with_receipts.bundles] == [None]
    svc = services_for(path)
    try:
        assert svc.sync().received == 1
        preview = svc.purge_preview()
        assert preview.sessions == (sid,) and preview.confirmation == "purge 1 session" and preview.audio_bytes > 0
        assert svc.session(sid).status == sessions.RECEIVED, "a preview changes nothing"
        with pytest.raises(ConfirmationMismatch):
            svc.purge("yes")
        done = svc.purge(preview.confirmation)
        assert done.sessions == (sid,) and svc.session(sid).status == sessions.PURGED
        assert bundle.name in [e.name for e in list_exports(svc.vault)]
    finally:
        svc.close()


def test_a_withdrawal_preview_says_exactly_what_the_withdrawal_then_does(tmp_path, study_en, team):
    v, (ann, ann_s), (_bo, bo_s) = laptop(tmp_path, study_en, team)
    store = tmp_path / "store"
    store.mkdir()
    with v:
        sent = export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        sync_with(v, f"file://{store}")  # the team may have this one
        held = export_sessions(v, [ann_s, bo_s], tmp_path / "out", [team[1]])  # not sent yet
    svc = services_for(tmp_path / "laptop")
    try:
        head = svc.vault.audit.head_seq()
        preview = svc.withdrawal_preview(ann.lower())
        assert isinstance(preview, WithdrawalPreviewView) and preview.confirmation == ann
        assert svc.vault.audit.head_seq() == head and held.exists(), "a preview changes nothing"
        assert preview.sessions_destroyed == (ann_s,) and preview.group_sessions_kept == ()
        assert preview.bundles_held_back == (held.name,) and preview.bundles_sent == (sent.name,)
        assert preview.sessions_to_export_again == (bo_s,) and preview.notice
        assert preview.table_entries_removed >= 2
        assert any(held.name in line for line in preview.consequences)
        with pytest.raises(ConfirmationMismatch):
            svc.withdraw(ann, "P9")
        done = svc.withdraw(ann, preview.confirmation)
        assert (
            done.sessions_destroyed,
            done.group_sessions_kept,
            done.bundles_held_back,
            done.bundles_sent,
            done.table_entries_removed,
        ) == (
            preview.sessions_destroyed,
            preview.group_sessions_kept,
            preview.bundles_held_back,
            preview.bundles_sent,
            preview.table_entries_removed,
        )
        assert bool(done.notice) == preview.notice and not held.exists()
        assert svc.session(bo_s).status == sessions.REVIEWED
        with pytest.raises(FieldscribeError):
            svc.withdrawal_preview(ann)  # withdrawn already: one sentence
    finally:
        svc.close()


def test_consent_of_a_withdrawn_participant_is_not_shown(tmp_path, study_en, team):
    v, (ann, _ann_s), _ = laptop(tmp_path, study_en, team)
    v.close()
    svc = services_for(tmp_path / "laptop")
    try:
        svc.withdraw(ann, ann)
        with pytest.raises(FieldscribeError):
            svc.consent_items(ann)
    finally:
        svc.close()
