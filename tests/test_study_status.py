"""`study status`: the study lead's view of the store, from the store alone. Real vaults export
real bundles, sync them to a folder store (and once to the SFTP server), the team pulls some;
the status reads names, sizes, times, receipts and notices, and decrypts nothing."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fieldscribe.cli.status_cmds import ago
from fieldscribe.core import sessions
from fieldscribe.core.errors import InvalidInput
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.export.outbox import file_sha256
from fieldscribe.core.sync import notices
from fieldscribe.core.sync.membership import approve, make_join_request, team_trust
from fieldscribe.core.sync.receipts import RECEIPTS, make_receipt, receipt_name
from fieldscribe.core.sync.status import REFUSED, UNCHECKED, VERIFIED, study_status
from fieldscribe.core.sync.store import Credentials, connect
from fieldscribe.core.withdrawal import withdraw

from .test_cli import assert_ok, invoke
from .test_sync import field_vault
from .vault_access import pull_from_store, sync_with


@pytest.fixture
def lead(tmp_path: Path) -> tuple[Path, str]:
    """The team's identity, where field_vault looks for it (so the laptops believe its receipts)."""
    return keygen(tmp_path / "team" / "team.key")


def status_of(url: str, identity: Path, creds: Credentials | None = None, **kw):
    store = connect(url, creds or Credentials())
    try:
        return study_status(store, identity, **kw)
    finally:
        store.close()


def one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def counts(line: str) -> list[str]:
    """bundles, received, outstanding, withdrawals: the four numbers after the last sync."""
    return re.split(r" UTC \([^)]*\)", line)[1].split()[:4]


@pytest.fixture
def field(tmp_path, study_en, lead):
    """Ann's laptop synced, pulled, then withdrew a participant (notice sent); Bo's laptop synced
    after the pull (outstanding) and someone planted a receipt for it signed by another key;
    Cy's laptop is in the team but never synced; a stranger's laptop synced but is not in the team."""
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    team_path = tmp_path / "lead" / "TEAM.json"
    team_path.parent.mkdir()
    ann, ann_sid, ann_bundle = field_vault(tmp_path / "ann", study_en, tmp_path, lead[1], name="Pat One")
    bo, _bo_sid, bo_bundle = field_vault(tmp_path / "bo", study_en, tmp_path, lead[1], name="Pat Two")
    cy, _cy_sid, _ = field_vault(tmp_path / "cy", study_en, tmp_path, lead[1], name="Pat Three", export=False)
    eve, _eve_sid, _eve_bundle = field_vault(tmp_path / "eve", study_en, tmp_path, lead[1], name="Pat Four")
    with ann, bo, cy, eve:
        approve(make_join_request(ann, "Ann Interviewer", "harbour_view"), team_path, lead[0])
        approve(make_join_request(bo, "Bo Interviewer", "riverside"), team_path, lead[0])
        approve(make_join_request(cy, "Cy Interviewer", "hillside"), team_path, lead[0])
        assert sync_with(ann, url).uploaded == [ann_bundle.name]
        pulled = pull_from_store(url, lead[0], tmp_path / "analysis", trust=team_trust(team_path, lead[0]))
        assert [(r.bundle, r.error) for r in pulled.bundles] == [(ann_bundle.name, None)]
        assert sync_with(bo, url).uploaded == [bo_bundle.name]
        assert sync_with(eve, url).uploaded
        pid = sessions.get_session(ann, ann_sid).participants[0]
        assert withdraw(ann, pid, pid).notice
        assert sync_with(ann, url).notices_sent
        ids = {"ann": ann.device_id, "bo": bo.device_id, "cy": cy.device_id, "eve": eve.device_id}
    study = study_en.study.study.id
    # someone with write access to the store plants a receipt for Bo's bundle, signed by another key
    other = keygen(tmp_path / "other" / "other.key")
    bo_folder = store_dir / study / ids["bo"]
    (bo_folder / RECEIPTS).mkdir()
    sha = file_sha256(bo_folder / bo_bundle.name)
    (bo_folder / RECEIPTS / receipt_name(bo_bundle.name)).write_bytes(
        make_receipt(bo_bundle.name, sha, sha, ids["bo"], other[0])
    )
    return {
        "url": url,
        "store": store_dir,
        "team": team_path,
        "study": study,
        "ids": ids,
        "bundles": {"ann": ann_bundle.name, "bo": bo_bundle.name},
        "pid": pid,
    }


def test_each_laptop_s_bundles_receipts_and_withdrawals_with_the_team_file(field, lead):
    status = status_of(field["url"], lead[0], team=field["team"])
    rows = {d.device: d for d in status.devices}
    ids = field["ids"]
    assert set(rows) == set(ids.values())
    assert {d.study for d in status.devices} == {field["study"]}

    ann = rows[ids["ann"]]
    assert ann.member is not None and ann.member.interviewer == "Ann Interviewer" and ann.member.site == "harbour_view"
    assert ann.bundles == [field["bundles"]["ann"]] and ann.received == ann.bundles and ann.outstanding == []
    assert [(n.participant, n.state) for n in ann.notices] == [(field["pid"], VERIFIED)]
    assert ann.withdrawals == 1 and ann.withdrawn == ann.bundles

    bo = rows[ids["bo"]]
    assert bo.bundles == [field["bundles"]["bo"]] and bo.received == [], "a receipt another key signed is not counted"
    assert bo.not_team_receipts == bo.bundles and bo.outstanding == bo.bundles and bo.withdrawals == 0
    assert "Bo Interviewer (riverside)" in bo.label

    cy = rows[ids["cy"]]
    assert not cy.synced and cy.bundles == [] and cy.last_upload is None and cy.in_team

    eve = rows[ids["eve"]]
    assert eve.in_team is False and eve.member is None and len(eve.bundles) == 1 and eve.outstanding == eve.bundles

    # the last sync is the store's time of the newest file the laptop wrote (Ann's notice came last)
    ann_folder = field["store"] / field["study"] / ids["ann"]
    newest = max(p.stat().st_mtime for p in [*ann_folder.glob("*.fsbundle.age"), *ann_folder.glob("notices/*")])
    assert ann.last_upload == datetime.fromtimestamp(newest, UTC)
    bo_file = field["store"] / field["study"] / ids["bo"] / field["bundles"]["bo"]
    assert bo.last_upload == datetime.fromtimestamp(bo_file.stat().st_mtime, UTC)
    assert bo.bundle_bytes == bo_file.stat().st_size


def test_the_status_decrypts_nothing_and_writes_nothing(field, lead, monkeypatch):
    import fieldscribe.core.export.bundle as bundle_mod

    def no(*_a, **_k):
        raise AssertionError("study status must not open a bundle")

    monkeypatch.setattr(bundle_mod, "open_bundle", no)
    before = sorted((p, p.stat().st_mtime_ns) for p in field["store"].rglob("*"))
    status_of(field["url"], lead[0], team=field["team"])
    assert sorted((p, p.stat().st_mtime_ns) for p in field["store"].rglob("*")) == before


def test_without_a_team_file_rows_are_device_ids_and_notices_unchecked_until_a_key_is_known(field, lead):
    status = status_of(field["url"], lead[0])
    rows = {d.device: d for d in status.devices}
    ids = field["ids"]
    assert set(rows) == {ids["ann"], ids["bo"], ids["eve"]}, "nobody knows of Cy's laptop without the team file"
    assert all(d.member is None and d.in_team is None for d in status.devices)
    assert rows[ids["ann"]].label == ids["ann"][:12]
    [notice] = rows[ids["ann"]].notices
    assert notice.state == UNCHECKED and rows[ids["ann"]].withdrawals == 1
    assert rows[ids["ann"]].received == rows[ids["ann"]].bundles and rows[ids["bo"]].received == []


def test_a_notice_not_signed_by_the_laptop_is_refused_and_not_counted(field, lead):
    ann_notices = field["store"] / field["study"] / field["ids"]["bo"] / notices.NOTICES
    ann_notices.mkdir()
    source = next((field["store"] / field["study"] / field["ids"]["ann"] / notices.NOTICES).iterdir())
    shutil.copy(source, ann_notices / source.name)  # Ann's notice copied under Bo's folder
    rows = {d.device: d for d in status_of(field["url"], lead[0], team=field["team"]).devices}
    bo = rows[field["ids"]["bo"]]
    assert [n.state for n in bo.notices] == [REFUSED] and bo.withdrawals == 0 and bo.withdrawn == []


def test_the_command_line_table_and_summary(field, lead):
    result = assert_ok(
        invoke(["study", "status", field["url"], "--identity", str(lead[0]), "--team", str(field["team"])])
    )
    out = result.stdout
    lines = out.splitlines()
    assert lines[0] == f"Study {field['study']} on file://{field['store']}:"
    assert lines[1].split() == ["laptop", "last", "sync", "bundles", "received", "outstanding", "withdrawals", "notes"]
    ids = field["ids"]
    ann = next(ln for ln in lines if "Ann Interviewer (harbour_view)" in ln)
    assert ann.startswith(f"  {ids['ann'][:8]} ") and re.search(r" UTC \((just now|\d+ min ago)\) ", ann)
    assert counts(ann) == ["1", "1", "0", "1"] and "1 bundle(s) withdrawn" in ann
    bo = next(ln for ln in lines if "Bo Interviewer (riverside)" in ln)
    assert counts(bo) == ["1", "0", "1", "0"]
    assert "1 receipt(s) not signed by the team: not counted" in bo
    cy = next(ln for ln in lines if "Cy Interviewer (hillside)" in ln)
    assert cy.split("(hillside)")[1].split() == ["never", "0", "0", "0", "0"]
    eve = next(ln for ln in lines if ln.startswith(f"  {ids['eve'][:12]}"))
    assert "not in the team" in eve
    assert lines[-1] == (
        "4 laptop(s), 3 synced, 1 never: 3 bundle(s), 1 received, 2 outstanding, 1 withdrawal(s); "
        "1 receipt(s) not the team's; 1 folder(s) not in the team."
    )
    assert result.stderr == ""


def test_wrong_identity_missing_store_empty_store_and_unknown_study_are_one_sentence(field, lead, tmp_path):
    other = keygen(tmp_path / "stranger" / "stranger.key")
    with_team = invoke(["study", "status", field["url"], "--identity", str(other[0]), "--team", str(field["team"])])
    assert "not signed by this identity's team key" in one_line_error(with_team)
    without = invoke(["study", "status", field["url"], "--identity", str(other[0])])
    assert "None of the 2 receipt(s) on the store is signed by the receipt key" in one_line_error(without)
    missing_key = invoke(["study", "status", field["url"], "--identity", str(tmp_path / "nope.key")])
    assert "identity file" in one_line_error(missing_key)

    gone = invoke(["study", "status", f"file://{tmp_path / 'unmounted'}", "--identity", str(lead[0])])
    assert "is not there" in one_line_error(gone)
    (tmp_path / "empty").mkdir()
    empty = invoke(["study", "status", f"file://{tmp_path / 'empty'}", "--identity", str(lead[0])])
    assert "no laptop's folder yet" in one_line_error(empty)
    unknown = invoke(["study", "status", field["url"], "--identity", str(lead[0]), "--study", "another-study"])
    assert f"holds no folder for study another-study (it holds {field['study']})" in one_line_error(unknown)
    with pytest.raises(InvalidInput, match="team file is for study"):
        status_of(field["url"], lead[0], team=field["team"], study="another-study")


def test_a_team_whose_laptops_never_synced_is_all_never(tmp_path, study_en, lead):
    (tmp_path / "empty").mkdir()
    team_path = tmp_path / "TEAM.json"
    v, _sid, _ = field_vault(tmp_path / "cy", study_en, tmp_path, lead[1], export=False)
    with v:
        approve(make_join_request(v, "Cy Interviewer", "hillside"), team_path, lead[0])
    result = assert_ok(
        invoke(
            ["study", "status", f"file://{tmp_path / 'empty'}", "--identity", str(lead[0]), "--team", str(team_path)]
        )
    )
    assert "Cy Interviewer (hillside)  never" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 laptop(s), 0 synced, 1 never: 0 bundle(s)")


def test_over_sftp(sshd, tmp_path, study_en, lead):
    url = f"{sshd.url}/status-test"
    creds = Credentials(identity_file=str(sshd.user_key), known_hosts=str(sshd.known_hosts))
    a, _sa, a_bundle = field_vault(tmp_path / "a", study_en, tmp_path, lead[1], name="Pat One")
    b, _sb, b_bundle = field_vault(tmp_path / "b", study_en, tmp_path, lead[1], name="Pat Two")
    with a, b:
        sync_with(a, url, creds)
        pull_from_store(url, lead[0], tmp_path / "analysis", creds)
        sync_with(b, url, creds)
        ids = (a.device_id, b.device_id)
    status = status_of(url, lead[0], creds)
    rows = {d.device: d for d in status.devices}
    assert rows[ids[0]].received == [a_bundle.name] and rows[ids[0]].outstanding == []
    assert rows[ids[1]].received == [] and rows[ids[1]].outstanding == [b_bundle.name]
    on_disk = sshd.root / "status-test" / study_en.study.study.id / ids[1] / b_bundle.name
    assert rows[ids[1]].last_upload == datetime.fromtimestamp(int(on_disk.stat().st_mtime), UTC)
    result = assert_ok(
        invoke(
            ["study", "status", url, "--identity", str(lead[0])],
            FIELDSCRIBE_SSH_KEY=str(sshd.user_key),
            FIELDSCRIBE_KNOWN_HOSTS=str(sshd.known_hosts),
        )
    )
    assert result.stdout.splitlines()[-1] == (
        "2 laptop(s), 2 synced: 2 bundle(s), 1 received, 1 outstanding, 0 withdrawal(s)."
    )
    assert os.path.isdir(sshd.root / "status-test")


def test_how_long_ago_reads():
    now = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
    assert [ago(now - d, now) for d in (timedelta(seconds=5), timedelta(minutes=7), timedelta(hours=5))] == [
        "just now",
        "7 min ago",
        "5 h ago",
    ]
    assert (
        ago(now - timedelta(days=1, hours=2), now) == "1 day ago"
        and ago(now - timedelta(days=12), now) == "12 days ago"
    )


def test_a_store_folder_lists_kinds_sizes_and_times_in_one_go(tmp_path):
    root = tmp_path / "store"
    (root / "sub").mkdir(parents=True)
    (root / "a.bin").write_bytes(b"x" * 10)
    os.utime(root / "a.bin", (1_700_000_000, 1_700_000_000))
    (root / "link").symlink_to(root / "a.bin")
    store = connect(f"file://{root}")
    entries = {e.name: e for e in store.entries(store.root)}
    assert entries["a.bin"].kind == "file" and entries["a.bin"].size == 10
    assert entries["a.bin"].modified == datetime.fromtimestamp(1_700_000_000, UTC)
    assert entries["sub"].kind == "directory" and entries["link"].kind != "file", "a link is never a file we wrote"
    assert store.entries(store.path("not-there")) == []


def test_over_webdav_the_upload_time_comes_from_the_store_too(webdav, tmp_path, study_en, lead):
    creds = Credentials(password=webdav.password)
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, lead[1])
    with v:
        sync_with(v, webdav.url, creds)
        device = v.device_id
    pull_from_store(webdav.url, lead[0], tmp_path / "analysis", creds)
    row = next(d for d in status_of(webdav.url, lead[0], creds).devices if d.device == device)
    assert row.bundles == row.received == [bundle.name] and row.outstanding == []
    assert row.last_upload is not None and abs(datetime.now(UTC) - row.last_upload) < timedelta(minutes=10)
