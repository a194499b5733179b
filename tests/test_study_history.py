"""The study-wide state no participant's key covers — which study files were imported, the
study records (replacement table, rejected strings, notice queue, device key …) and the
outbox — is sealed history too; and what a store writer puts on the store is bounded and
confined. Each test is an attack that worked before."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from fieldscribe.core import ledger
from fieldscribe.core.deid.lists import replacement_table
from fieldscribe.core.deid.review import deidentified_segments
from fieldscribe.core.errors import HistoryTampered, RecordTampered, StoreRefused
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import public_hex
from fieldscribe.core.export.outbox import list_exports
from fieldscribe.core.guides import current_guide, list_guides
from fieldscribe.core.sync import notices
from fieldscribe.core.sync.purge import purgeable
from fieldscribe.core.withdrawal import withdraw

from .conftest import PASSPHRASE
from .test_sync import field_vault
from .test_withdrawal_reach import laptop
from .vault_access import pull_from_store, reopen, sql, sync_with


@pytest.fixture
def team(tmp_path):
    from fieldscribe.core.export.keys import keygen

    return keygen(tmp_path / "team" / "team.key")


def test_an_attackers_study_file_with_the_seal_marker_removed_is_refused(tmp_path, study_en, team):
    v, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        text = v.db.execute("SELECT text FROM guides").fetchone()[0]
    evil = text + "\n# the attacker's own recipients and receipt key would go here\n"
    sql(
        tmp_path / "laptop",
        "INSERT INTO guides (sha256, study_id, language, title, imported_at, text) "
        "VALUES (?, 'peer-support-daycare', 'en', 't', '9999', ?)",
        hashlib.sha256(evil.encode()).hexdigest(),
        evil,
    )
    sql(tmp_path / "laptop", "DELETE FROM study_records WHERE name = 'guides_sealed'")
    with reopen(tmp_path / "laptop") as v, pytest.raises(HistoryTampered, match="imported study files"):
        current_guide(v)


def test_an_older_study_file_made_current_by_editing_its_import_time_is_refused(tmp_path, study_en, team):
    v, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        first = list_guides(v)[0].sha256
    sql(tmp_path / "laptop", "UPDATE guides SET imported_at = '9999' WHERE sha256 = ?", first)
    with reopen(tmp_path / "laptop") as v, pytest.raises(HistoryTampered):
        current_guide(v)


def test_editing_which_sessions_a_bundle_holds_is_refused_before_withdrawal_or_purge_use_it(tmp_path, study_en, team):
    v, (ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        unsent = export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
    # take Ann's session out of the unsent bundle's row, so withdrawal would not hold it back
    sql(tmp_path / "laptop", "UPDATE exports SET sessions = '[]' WHERE name = ?", unsent.name)
    with reopen(tmp_path / "laptop") as v:
        with pytest.raises(HistoryTampered, match="outbox entry"):
            list_exports(v)
        with pytest.raises(HistoryTampered):
            withdraw(v, ann, ann)
        with pytest.raises(HistoryTampered):
            purgeable(v)
        assert unsent.exists(), "nothing was deleted on a doctored outbox"


def test_a_deleted_replacement_table_never_lets_real_names_out(tmp_path, study_en, team):
    v, (_ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        assert replacement_table(v)
    sql(tmp_path / "laptop", "DELETE FROM study_records WHERE name = 'replacements'")
    with reopen(tmp_path / "laptop") as v:
        with pytest.raises(RecordTampered):
            export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        with pytest.raises(RecordTampered):
            deidentified_segments(v, ann_s)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_dropped_withdrawal_notice_is_noticed(tmp_path, study_en, team):
    v, (ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        assert withdraw(v, ann, ann).notice
    sql(tmp_path / "laptop", "DELETE FROM study_records WHERE name = ?", notices.RECORD)
    with reopen(tmp_path / "laptop") as v, pytest.raises(HistoryTampered, match="withdrawal_notices"):
        notices.pending(v)


def test_a_forged_failed_unlock_entry_cannot_vouch_for_a_deleted_session(tmp_path, study_en, team):
    v, (_ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        head = v.db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    from fieldscribe.core.audit import (
        entry_hash,  # the attacker recomputes the chain as the code does
    )

    details = json.dumps(
        {"ledger": {ledger.session_scope(ann_s): None}, "method": "passphrase"},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    seq, ts = head[0] + 1, "2026-01-01T00:00:00.000Z"
    digest = entry_hash(head[1], seq, ts, "x", "vault.unlock_failed", "", details)
    sql(
        tmp_path / "laptop",
        "INSERT INTO audit (seq, ts, actor, action, subject, details, prev_hash, hash) "
        "VALUES (?, ?, 'x', 'vault.unlock_failed', '', ?, ?, ?)",
        seq,
        ts,
        details,
        head[1],
        digest,
    )
    with reopen(tmp_path / "laptop") as v:
        report = v.audit.verify()
        assert not report.ok and any("forged" in p for p in report.problems), report.problems


# -- what a store writer puts on the store ------------------------------------------------------------
def test_notices_cannot_reach_outside_their_device_folder(tmp_path, study_en, team):
    """A store writer plants a bundle under a new device folder (pinned on first use, as
    documented), then a notice signed by that key naming paths outside it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, _sid, _ = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_with(v, url)
        real_device = v.device_id
    analysis = tmp_path / "analysis"
    [real] = pull_from_store(url, team[0], analysis).bundles
    victim = tmp_path / "precious"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    # the attacker's device folder is named like the real one's prefix
    fake_device = real_device[:12] + "-attacker"
    key = Ed25519PrivateKey.generate()
    from fieldscribe.core.export.bundle import write_bundle
    from fieldscribe.core.export.keys import read_recipients

    study = study_en.study.study.id
    folder = store_dir / study / fake_device
    folder.mkdir(parents=True)
    write_bundle(
        {"a.txt": b"x"},
        {"study": {"id": study, "title": "t", "ethics_reference": "e"}, "device_id": fake_device, "sessions": []},
        key,
        read_recipients([team[1]]),
        folder / "fake.fsbundle.age",
    )
    first = pull_from_store(url, team[0], analysis)
    assert [b.error for b in first.bundles] == [None]
    assert real.folder.exists(), "a device folder named like another's prefix lands in its own folder"
    for bundles in ([f"../../../{victim.name}"], [f"../{real_device}/{real.bundle}"], ["x/../../y.fsbundle.age"]):
        body = {
            "format": notices.FORMAT,
            "study": study,
            "device_id": fake_device,
            "participant": "P1",
            "sessions": [],
            "bundles": bundles,
            "withdrawn_at": "now",
            "device_public_key": public_hex(key),
        }
        text = json.dumps(body, sort_keys=True)
        (folder / notices.NOTICES).mkdir(exist_ok=True)
        (folder / notices.NOTICES / f"P1-{len(bundles[0])}{notices.SUFFIX}").write_text(
            json.dumps({"notice": text, "signature": key.sign(text.encode()).hex()})
        )
    report = pull_from_store(url, team[0], analysis)
    assert all(w.error and "not a bundle file name" in w.error for w in report.withdrawals), report.withdrawals
    assert (victim / "keep.txt").exists() and real.folder.exists()


@pytest.mark.parametrize("kind", ["fifo", "folder", "huge"])
def test_hostile_files_on_the_store_are_skipped_in_one_sentence(tmp_path, study_en, team, kind):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, _sid, _ = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_with(v, url)
        device = v.device_id
    notice = store_dir / study_en.study.study.id / device / notices.NOTICES / f"P9-x{notices.SUFFIX}"
    notice.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(notice)
    elif kind == "folder":
        notice.mkdir()
    else:
        with notice.open("wb") as f:
            f.truncate(3 * 1024**3)  # sparse: 3 GiB that takes no disk
    report = pull_from_store(url, team[0], tmp_path / "analysis")
    [w] = report.withdrawals
    assert w.error and "skipped" in w.error and "\n" not in w.error
    assert [b.error for b in report.bundles] == [None], "the rest of the pull goes on"


def test_a_withdrawn_bundle_copied_under_a_new_name_is_not_unpacked_again(tmp_path, study_en, team):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, (ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        bundle = export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        sync_with(v, url)
        device = v.device_id
    analysis = tmp_path / "analysis"
    pull_from_store(url, team[0], analysis)
    with reopen(tmp_path / "laptop") as v:
        withdraw(v, ann, ann)
        sync_with(v, url)
    assert [w.participant for w in pull_from_store(url, team[0], analysis).withdrawals] == [ann]
    folder = store_dir / study_en.study.study.id / device
    copy = folder / bundle.name.replace(".fsbundle.age", "x.fsbundle.age")
    copy.write_bytes((folder / bundle.name).read_bytes())
    [again] = pull_from_store(url, team[0], analysis).bundles
    assert again.error and ("renamed copy" in again.error or "withdrew" in again.error)
    assert not (analysis / study_en.study.study.id / device / copy.name.removesuffix(".fsbundle.age")).exists()


@pytest.mark.parametrize("where", ["receipt", "upload"])
def test_a_link_planted_under_a_scratch_name_on_a_shared_folder_redirects_nothing(tmp_path, study_en, team, where):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    precious = tmp_path / "thesis.docx"
    precious.write_bytes(b"years of work")
    v, _sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    folder = store_dir / study_en.study.study.id / v.device_id
    folder.mkdir(parents=True)
    if where == "upload":
        (folder / f".{bundle.name}.part").symlink_to(precious)
    with v:
        sync_with(v, url)
    if where == "receipt":
        (folder / "receipts").mkdir()
        (folder / "receipts" / f".{bundle.name}.receipt.json.part").symlink_to(precious)
        [got] = pull_from_store(url, team[0], tmp_path / "analysis").bundles
        assert got.error is None
    assert precious.read_bytes() == b"years of work"
    assert (folder / bundle.name).is_file() and not (folder / bundle.name).is_symlink()


def test_a_device_folder_linked_out_of_the_store_is_refused(tmp_path, study_en, team):
    store_dir = tmp_path / "store"
    (store_dir / study_en.study.study.id).mkdir(parents=True)
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    v, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    (store_dir / study_en.study.study.id / v.device_id).symlink_to(elsewhere, target_is_directory=True)
    with v, pytest.raises(StoreRefused, match="leads out of the store folder"):
        sync_with(v, f"file://{store_dir}")
    assert list(elsewhere.iterdir()) == []


def test_the_device_id_is_part_of_the_sealed_study_history(tmp_path, study_en, team):
    v, (ann, _), _ = laptop(tmp_path, study_en, team)
    v.close()
    sql(tmp_path / "laptop", "UPDATE meta SET value = 'another-device' WHERE key = 'device_id'")
    with reopen(tmp_path / "laptop") as v, pytest.raises(HistoryTampered):
        withdraw(v, ann, ann)


def test_a_withdrawal_notice_deleted_from_the_store_is_sent_again(tmp_path, study_en, team):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, (ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        sync_with(v, url)
        name = withdraw(v, ann, ann).notice
        assert sync_with(v, url).notices_sent == [name]
        [planted] = list(store_dir.rglob(f"*{notices.SUFFIX}"))
        planted.unlink()
        again = sync_with(v, url)
        assert again.notices_restored == [name] and planted.exists()
        assert sync_with(v, url).notices_sent == [], "once it is there, nothing more is sent"


def test_the_rows_of_a_withdrawn_participant_cannot_be_deleted_unnoticed(tmp_path, study_en, team):
    v, (ann, _), _ = laptop(tmp_path, study_en, team)
    with v:
        withdraw(v, ann, ann)
        assert ledger.verify_all(v) == []
    for statement in (
        "DELETE FROM session_participants WHERE participant_id = ?",
        "DELETE FROM participants WHERE id = ?",
    ):
        sql(tmp_path / "laptop", statement, ann)
    with reopen(tmp_path / "laptop") as v:
        findings = ledger.verify_all(v)
        assert any(ann in f and "deleted" in f for f in findings), findings


@pytest.mark.parametrize(
    "edit",
    [
        ("UPDATE meta SET value = 'not json' WHERE key = 'audit_anchor'", "unreadable"),
        ("UPDATE meta SET value = '{\"seq\": \"x\"}' WHERE key = 'audit_anchor'", "unreadable"),
        ("UPDATE audit SET details = '[' WHERE seq = (SELECT MAX(seq) FROM audit)", "edited"),
    ],
)
def test_unreadable_audit_rows_are_findings_not_crashes(tmp_path, study_en, team, edit):
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    v, _, _ = laptop(tmp_path, study_en, team)
    v.close()
    sql(tmp_path / "laptop", edit[0])
    r = CliRunner().invoke(
        cli, ["--vault", str(tmp_path / "laptop"), "audit", "verify"], env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    )
    assert r.exit_code != 0 and edit[1] in r.output and "Traceback" not in r.output, r.output


def test_an_edited_sequence_number_never_reuses_a_pseudonym(tmp_path, study_en, team):
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    v, (ann, _), _ = laptop(tmp_path, study_en, team)
    with v:
        withdraw(v, ann, ann)
    sql(tmp_path / "laptop", "UPDATE participants SET seq = -5 WHERE id = ?", ann)
    r = CliRunner().invoke(
        cli,
        ["--vault", str(tmp_path / "laptop"), "participant", "add", "--group", "service_user", "--eligible"],
        env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
    )
    assert "Traceback" not in r.output and ann not in r.output.split()
