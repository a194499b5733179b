"""Sync to real stores on loopback: Debian's OpenSSH sshd (throwaway host and user keys) and
a wsgidav WebDAV server; receipts from the analysis side; purge after receipt."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.deid.review import decide, mark_reviewed
from fieldscribe.core.errors import (
    ConfirmationMismatch,
    HostKeyRejected,
    StoreUnreachable,
)
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.export.outbox import file_sha256, list_exports, record_export
from fieldscribe.core.guides import import_guide
from fieldscribe.core.recordings import audio_path, recording_info
from fieldscribe.core.study import StudyFile, parse_study
from fieldscribe.core.sync.purge import purge_received
from fieldscribe.core.sync.push import sync
from fieldscribe.core.sync.store import Credentials, connect
from fieldscribe.core.sync.trust import receipt_key_hex
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import (
    begin_transcript,
    complete_transcript,
    store_segments,
)
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE
from .test_cli import invoke
from .test_plaintext_scan import scan
from .vault_access import pull_from_store, sync_with

pytestmark = pytest.mark.skipif(
    not shutil.which("sshd") and not os.path.exists("/usr/sbin/sshd"),
    reason="openssh-server is not installed (scripts/test installs it)",
)

LINES = [
    "My name is Ann Lee and I go to Harbour View every day.",
    "The peer group helped me when my medication changed.",
    "My sister Mary phones me on Sundays.",
]
SECRETS = {"name": "Ann Lee", "sister": "Mary", "words": "medication changed", "site": "Harbour View"}


@pytest.fixture
def team(tmp_path):
    return keygen(tmp_path / "team" / "team.key")


def field_vault(
    path: Path, study, tmp: Path, recipient: str, name: str = "Ann Lee", export: bool = True
) -> tuple[Vault, str, Path | None]:
    """A laptop's vault with one recorded, transcribed, reviewed and exported interview."""
    v, _ = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
    identity = tmp / "team" / "team.key"
    import_guide(v, with_receipt_key(study, identity) if identity.exists() else study)
    pid = participants.enrol(v, study.study, group="service_user", name=name)
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    sid = sessions.create_session(v, [pid])
    wav = tmp / f"{path.name}.wav"
    sf.write(wav, (np.sin(np.arange(48000) / 16000 * 2 * np.pi * 220) * 8000).astype(np.int16), 16000)
    import_file(v, sid, wav)
    wav.unlink()
    key = sessions.session_key(v, sid)
    t = begin_transcript(v, sid, EngineSettings(model="test", language="en"), 15.0)
    store_segments(
        v,
        t,
        key,
        [Segment(i * 5.0, i * 5.0 + 4.0, line) for i, line in enumerate(LINES)],
        timeline.events(v, sid, key),
        15.0,
    )
    complete_transcript(v, t)
    decide(v, sid, accept_all=True)
    mark_reviewed(v, sid)
    bundle = export_sessions(v, [sid], tmp / f"{path.name}-out", [recipient]) if export else None
    return v, sid, bundle


def ssh_creds(server) -> Credentials:
    return Credentials(identity_file=str(server.user_key), known_hosts=str(server.known_hosts))


def sync_to(v: Vault, url: str, creds: Credentials):
    return sync_with(v, url, creds)


def pull_from(url: str, creds: Credentials, identity: Path, out: Path):
    return pull_report(url, creds, identity, out).bundles


def pull_report(url: str, creds: Credentials, identity: Path, out: Path):
    return pull_from_store(url, identity, out, creds)


def with_receipt_key(study: StudyFile, identity: Path) -> StudyFile:
    """The study file as a team lead would edit it after `bundle keygen`: it lists the team's receipt key."""
    return parse_study(study.text.rstrip("\n") + f"\nexport:\n  receipt_keys: [{receipt_key_hex(identity)}]\n")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- SFTP -------------------------------------------------------------------------------------------
def test_first_sync_uploads_verified_and_a_second_sends_nothing(sshd, tmp_path, study_en, team):
    v, sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        store = connect(sshd.url, ssh_creds(sshd))
        try:
            first = sync(v, store)
            second = sync(v, store)
        finally:
            store.close()
        assert first.uploaded == [bundle.name] and first.bytes_sent == bundle.stat().st_size
        assert second.uploaded == [] and second.bytes_sent == 0
        on_store = sshd.root / study_en.study.study.id / v.device_id / bundle.name
        assert file_sha256(on_store) == file_sha256(bundle)
        assert not list(on_store.parent.glob(".*.part")), "no half-written file is left visible"
        assert sessions.get_session(v, sid).status == sessions.SYNCED
        assert list_exports(v)[0].state == "uploaded"


def test_an_upload_cut_mid_file_resumes_where_it_stopped(sshd, tmp_path, study_en, team):
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    big = tmp_path / "big.fsbundle.age"  # ciphertext as far as the store can tell
    big.write_bytes(os.urandom(24 * 1024 * 1024))
    with v:
        record_export(v, big, "0" * 64, [])
        cut = threading.Event()

        def on_progress(p) -> None:
            if p.done > 10 * 1024 * 1024 and not cut.is_set():
                cut.set()
                sshd.drop_connections()

        store = connect(sshd.url, ssh_creds(sshd))
        with pytest.raises(StoreUnreachable) as failure:
            sync(v, store, on_progress=on_progress)
        store.close()
        assert "run sync again" in str(failure.value)
        partial = sshd.root / study_en.study.study.id / v.device_id / f".{big.name}.part"
        assert partial.exists() and 0 < partial.stat().st_size < big.stat().st_size
        already = partial.stat().st_size
        again = sync_to(v, sshd.url, ssh_creds(sshd))
        assert big.name in again.uploaded and again.resumed.get(big.name) == already
        assert again.bytes_sent == big.stat().st_size - already + (
            bundle.stat().st_size if bundle.name in again.uploaded else 0
        )
        assert file_sha256(sshd.root / study_en.study.study.id / v.device_id / big.name) == file_sha256(big)


def test_two_laptops_sync_to_one_store_without_touching_each_other(sshd, tmp_path, study_en, team):
    a, _, bundle_a = field_vault(tmp_path / "laptop-a", study_en, tmp_path, team[1])
    b, _, bundle_b = field_vault(tmp_path / "laptop-b", study_en, tmp_path, team[1], name="Bo Chen")
    devices = [a.device_id, b.device_id]
    for v in (a, b):
        with v:
            sync_to(v, sshd.url, ssh_creds(sshd))
    study_dir = sshd.root / study_en.study.study.id
    assert (study_dir / devices[0] / bundle_a.name).exists() and (study_dir / devices[1] / bundle_b.name).exists()
    assert devices[0] != devices[1] and set(devices) <= {p.name for p in study_dir.iterdir()}


def test_receipts_round_trip_then_purge_shreds_what_the_team_holds(sshd, tmp_path, study_en, team):
    v, sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_to(v, sshd.url, ssh_creds(sshd))
    # the analysis side, elsewhere, with the team's identity
    got = pull_from(sshd.url, ssh_creds(sshd), team[0], tmp_path / "analysis")
    again = pull_from(sshd.url, ssh_creds(sshd), team[0], tmp_path / "analysis")
    mine = [r for r in got if r.bundle == bundle.name]
    assert mine and mine[0].error is None and (mine[0].folder / "manifest.json").exists()
    assert not [r for r in again if r.bundle == bundle.name], "a received bundle is not fetched twice"
    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        report = sync_to(v, sshd.url, ssh_creds(sshd))
        assert report.received == [bundle.name]
        assert sessions.get_session(v, sid).status == sessions.RECEIVED
        assert audio_path(v, sid).exists()
        with pytest.raises(ConfirmationMismatch):
            purge_received(v, "yes")
        assert purge_received(v, "purge 1 session") == [sid]
        assert sessions.get_session(v, sid).status == sessions.PURGED
        assert not audio_path(v, sid).exists()
        assert v.db.execute("SELECT COUNT(*) FROM session_keys WHERE session_id = ?", (sid,)).fetchone()[0] == 0
        assert v.db.execute("SELECT COUNT(*) FROM transcript_segments").fetchone()[0] == 0
        assert recording_info(v, sid).state == "purged"
        actions = [e.action for e in v.audit.entries()]
        assert "session.purged" in actions and "sync.received" in actions and "sync.upload" in actions
        assert v.audit.verify().ok, "the audit trail survives the purge intact"
    # the site's name is in the study file itself (the protocol is not secret); what people said is
    leaks = scan(tmp_path / "laptop", {k: t for k, t in SECRETS.items() if k != "site"})
    assert leaks == [], leaks


def test_a_forged_receipt_is_not_believed(sshd, tmp_path, study_en, team):
    v, sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        store = connect(sshd.url, ssh_creds(sshd))
        try:
            sync(v, store)
            # someone with access to the store (but not the team's key) writes a receipt
            other, _ = keygen(tmp_path / "mallory.key")
            from fieldscribe.core.sync.receipts import make_receipt, receipt_name

            fake = make_receipt(bundle.name, file_sha256(bundle), "f" * 64, v.device_id, other)
            store.write_atomic(
                store.path(study_en.study.study.id, v.device_id, "receipts", receipt_name(bundle.name)), fake
            )
            report = sync(v, store)
        finally:
            store.close()
        assert report.received == [] and sessions.get_session(v, sid).status == sessions.SYNCED


def test_a_changed_host_key_is_refused_and_nothing_is_sent(sshd, tmp_path, study_en, team):
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    from .sync_servers import keygen as ssh_keygen

    impostor = ssh_keygen(tmp_path / "impostor")
    kind, key = impostor.split()[:2]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {kind} {key}\n")
    device = v.device_id
    v.close()
    with pytest.raises(HostKeyRejected) as refused:
        connect(sshd.url, Credentials(identity_file=str(sshd.user_key), known_hosts=str(wrong)))
    assert "host key" in str(refused.value) and "Nothing was sent" in str(refused.value)
    assert not (sshd.root / study_en.study.study.id / device / bundle.name).exists()


def test_an_unreachable_store_fails_in_a_second(tmp_path, sshd):
    from .sync_servers import free_port

    started = time.monotonic()
    with pytest.raises(StoreUnreachable) as failure:
        connect(f"sftp://someone@127.0.0.1:{free_port()}/store", ssh_creds(sshd), timeout=5)
    assert time.monotonic() - started < 2.0
    assert "cannot be reached" in str(failure.value) and "fieldwork is unaffected" in str(failure.value)


def test_the_store_only_ever_holds_ciphertext(sshd, tmp_path, study_en, team):
    v, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_to(v, sshd.url, ssh_creds(sshd))
    pull_from(sshd.url, ssh_creds(sshd), team[0], tmp_path / "analysis")  # receipts too are on the store now
    assert stored_files(sshd.root)
    assert scan_any(sshd.root, {**SECRETS, "pseudonymised text": "peer group helped"}) == []


def scan_any(root: Path, secrets: dict[str, str]) -> list[str]:
    from .test_plaintext_scan import encodings

    found = []
    for path in stored_files(root):
        data = path.read_bytes()
        for label, text in secrets.items():
            if any(needle in data for needle in encodings(text).values()):
                found.append(f"{label} in {path.relative_to(root)}")
    return found


# -- WebDAV and folders ------------------------------------------------------------------------------
def test_webdav_sync_is_idempotent_and_receipts_come_back(webdav, tmp_path, study_en, team, monkeypatch):
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    creds = Credentials(password=webdav.password)
    with v:
        first = sync_to(v, webdav.url, creds)
        second = sync_to(v, webdav.url, creds)
        assert first.uploaded == [bundle.name] and second.uploaded == []
        assert file_sha256(webdav.root / study_en.study.study.id / v.device_id / bundle.name) == file_sha256(bundle)
    assert [r.error for r in pull_from(webdav.url, creds, team[0], tmp_path / "analysis")] == [None]
    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        assert sync_to(v, webdav.url, creds).received == [bundle.name]
    assert scan_any(webdav.root, SECRETS) == []


def test_a_wrong_webdav_password_is_one_sentence(webdav):
    from fieldscribe.core.errors import StoreRefused

    with pytest.raises(StoreRefused) as refused:
        connect(webdav.url, Credentials(password="wrong"))
    assert "refused the login" in str(refused.value)


def test_a_usb_folder_store(tmp_path, study_en, team):
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    usb = tmp_path / "usb"
    device = v.device_id
    with v:
        with pytest.raises(StoreUnreachable):
            connect(f"file://{usb}")  # not mounted yet
        usb.mkdir()
        store = connect(f"file://{usb}")
        assert sync(v, store).uploaded == [bundle.name]
        assert sync(v, store).uploaded == []
    assert (usb / study_en.study.study.id / device / bundle.name).exists()


# -- the command line --------------------------------------------------------------------------------
def test_cli_remote_sync_pull_purge(sshd, tmp_path, study_en, team):

    laptop = tmp_path / "laptop"
    v, sid, _bundle = field_vault(laptop, study_en, tmp_path, team[1])
    v.close()

    def fs(*args, **kw):
        return invoke(["--vault", str(laptop), *args], **kw)

    url = f"{sshd.url}/cli-test"  # a folder of its own on the shared server
    r = fs("remote", "set", url, "--identity-file", str(sshd.user_key), "--known-hosts", str(sshd.known_hosts))
    assert r.exit_code == 0, r.output
    r = fs("remote", "show")
    assert f"127.0.0.1:{sshd.port}" in r.output and "password: none" in r.output
    assert f"{sid}: exported, not synced" in fs("status").output
    r = fs("sync")
    assert r.exit_code == 0, r.output
    assert "Uploaded 1 bundle(s)" in r.output and "%" in r.output  # bytes, percentage progress
    assert "Uploaded 0 bundle(s)" in fs("sync").output
    pulled = invoke(
        [
            "bundle",
            "pull",
            url,
            "--identity",
            str(team[0]),
            "--out",
            str(tmp_path / "team-out"),
            "--identity-file",
            str(sshd.user_key),
            "--known-hosts",
            str(sshd.known_hosts),
        ],
        passphrase=None,
    )
    assert pulled.exit_code == 0 and f"Received {study_en.study.study.id}/" in pulled.output, pulled.output
    assert "1 newly confirmed received" in fs("sync").output
    assert f"{sid}: received by the analysis team" in fs("status").output
    refused = fs("purge", "--received", "--confirm", "purge everything")
    assert refused.exit_code != 0 and "purge 1 session" in refused.output
    r = fs("purge", "--received", input="purge 1 session\n")
    assert r.exit_code == 0 and f"Purged {sid}" in r.output, r.output
    offline = fs("sync", "--to", "sftp://nobody@127.0.0.1:1/store")
    assert offline.exit_code == 3 and "cannot be reached" in offline.output and "Traceback" not in offline.output


async def test_the_app_exports_then_syncs_with_a_progress_bar(sshd, tmp_path, study_en, team):
    from fieldscribe.core.sync.settings import save_remote
    from fieldscribe.services import Services
    from fieldscribe.tui import messages as m
    from fieldscribe.tui.app import FieldscribeApp
    from fieldscribe.tui.settings import Settings

    from .tui_helpers import unlock
    from .tui_messages import Messages

    laptop = tmp_path / "laptop"
    v, _sid, _none = field_vault(laptop, study_en, tmp_path, team[1], export=False)
    with v:
        save_remote(v, sshd.url, identity_file=str(sshd.user_key), known_hosts=str(sshd.known_hosts))
        device = v.device_id
    app = FieldscribeApp(Services(laptop, export_recipients=[team[1]]), Settings(idle_lock_s=0, language="en"))
    said = Messages()

    async def finished(pilot, task: str) -> m.WorkDone:
        for _ in range(200):
            failed = [e for e in said.of(m.WorkFailed) if e.task == task]
            assert not failed, failed[0].error
            done = [e for e in said.of(m.WorkDone) if e.task == task]
            if done:
                return done[0]
            await pilot.pause(0.05)
        raise AssertionError(f"{task} did not finish")

    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("x")
        assert "press U to sync" in (await finished(pilot, "export")).summary
        await pilot.press("u")
        assert "1 bundle(s) uploaded" in (await finished(pilot, "sync")).summary
        assert any(e.task == "sync" for e in said.of(m.WorkProgress))
        await pilot.pause(0.2)
        assert "synced" in str(app.screen.query_one("#sessions").get_row_at(0)[-1])
    bundles = list((laptop / "outbox").glob("*.fsbundle.age"))
    assert len(bundles) == 1
    assert file_sha256(sshd.root / study_en.study.study.id / device / bundles[0].name) == file_sha256(bundles[0])


async def test_the_app_offline_says_so_and_retries_later(tmp_path, study_en, team, monkeypatch):
    from fieldscribe.core.sync.settings import save_remote
    from fieldscribe.tui import messages as m
    from fieldscribe.tui.screens import home

    from .sync_servers import free_port
    from .tui_helpers import app_for, unlock
    from .tui_messages import Messages

    monkeypatch.setattr(home, "SYNC_RETRY_S", 0.5)
    laptop = tmp_path / "laptop"
    v, _sid, _bundle = field_vault(laptop, study_en, tmp_path, team[1])
    with v:
        save_remote(v, f"sftp://someone@127.0.0.1:{free_port()}/store", known_hosts=str(tmp_path / "kh"))
    (tmp_path / "kh").write_text("")
    app = app_for(laptop)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("u")
        for _ in range(100):
            if len(said.of(m.WorkFailed)) >= 2:
                break
            await pilot.pause(0.05)
        failures = said.of(m.WorkFailed)
        assert len(failures) >= 2, "it tried again by itself"
        assert "cannot be reached" in failures[0].error and failures[0].retry_in


# -- what must not count as received ---------------------------------------------------------------
def test_an_edit_after_receipt_takes_the_session_back_to_review_and_out_of_purge(sshd, tmp_path, study_en, team):
    from fieldscribe.core.editing import edit_segment

    url = f"{sshd.url}/edit-after"
    v, sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_to(v, url, ssh_creds(sshd))
    pull_from(url, ssh_creds(sshd), team[0], tmp_path / "analysis")
    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        assert sync_to(v, url, ssh_creds(sshd)).received == [bundle.name]
        edit_segment(v, sid, 1, text="The peer group helped me a great deal.")
        assert sessions.get_session(v, sid).status == sessions.TRANSCRIBED
        with pytest.raises(Exception, match="No session has been confirmed"):
            purge_received(v, "purge 1 session")
        assert audio_path(v, sid).exists()


def test_a_receipt_for_a_superseded_bundle_does_not_mark_the_session_received(sshd, tmp_path, study_en, team):
    url = f"{sshd.url}/superseded"
    v, sid, first = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_to(v, url, ssh_creds(sshd))
        time.sleep(1.1)  # export times are stamped to the second
        second = export_sessions(v, [sid], tmp_path / "again", [team[1]])
    # the team acknowledges only the first bundle (the second is not on the store yet)
    assert [r.bundle for r in pull_from(url, ssh_creds(sshd), team[0], tmp_path / "analysis")] == [first.name]
    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        report = sync_to(v, url, ssh_creds(sshd))
        assert report.received == [first.name] and second.name in report.uploaded
        assert sessions.get_session(v, sid).status == sessions.SYNCED, "the newest export is not received yet"


def test_pull_refuses_a_bundle_planted_in_another_devices_folder(tmp_path, study_en, team):
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    v.close()
    store_dir = tmp_path / "usb"
    planted = store_dir / study_en.study.study.id / "someone-elses-device"
    planted.mkdir(parents=True)
    shutil.copy(bundle, planted / bundle.name)
    results = pull_from(f"file://{store_dir}", Credentials(), team[0], tmp_path / "analysis")
    assert len(results) == 1 and "refused" in results[0].error
    assert not (planted / "receipts").exists(), "no receipt for what was refused"


def test_a_bundle_altered_after_export_is_reported_and_the_rest_still_go(tmp_path, study_en, team):
    v, sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    usb = tmp_path / "usb"
    usb.mkdir()
    with v:
        extra = tmp_path / "extra.fsbundle.age"
        extra.write_bytes(os.urandom(4096))
        record_export(v, extra, "0" * 64, [])
        bundle.write_bytes(bundle.read_bytes() + b"tampered")
        report = sync_to(v, f"file://{usb}", Credentials())
        assert report.changed == [bundle.name] and report.uploaded == [extra.name]
        assert sessions.get_session(v, sid).status == sessions.EXPORTED


def test_a_webdav_password_is_never_sent_unencrypted_to_another_host():
    from fieldscribe.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="webdavs://"):
        connect("webdav://me@store.example.org/dav", Credentials(password="secret"))


def test_webdav_upload_streams_progress_and_can_be_cancelled(webdav, tmp_path, study_en, team):
    v, _sid, _none = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1], export=False)
    creds = Credentials(password=webdav.password)
    url = webdav.url
    big = tmp_path / "big.fsbundle.age"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    seen: list[int] = []
    cancel = threading.Event()

    def on_progress(p) -> None:
        seen.append(p.done)
        if p.done >= 2 * 1024 * 1024:
            cancel.set()

    with v:
        record_export(v, big, "0" * 64, [])
        device = v.device_id
        store = connect(url, creds)
        try:
            report = sync(v, store, on_progress=on_progress, cancel=cancel)
        finally:
            store.close()
        assert report.cancelled and report.uploaded == []
        assert len(seen) >= 2 and seen[0] < big.stat().st_size, "progress arrives while the PUT streams"
        assert not (webdav.root / study_en.study.study.id / device / big.name).exists()
        assert sync_to(v, url, creds).uploaded == [big.name]
    assert file_sha256(webdav.root / study_en.study.study.id / device / big.name) == file_sha256(big)
