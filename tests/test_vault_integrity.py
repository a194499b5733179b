"""Tampering, the audit chain, locking and schema versions: bad situations are caught,
named in one sentence, and never cost data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fieldscribe.core import consent, participants
from fieldscribe.core.errors import (
    NotAVault,
    RecordTampered,
    SchemaTooNew,
    VaultExists,
    VaultLocked,
    VaultNotFound,
)
from fieldscribe.core.schema import SCHEMA_VERSION
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE
from .vault_access import raw_db, reopen


def enrol(v: Vault, study, name: str = "Someone") -> str:
    return participants.enrol(v, study, group="service_user", name=name, eligibility=participants.all_eligible(study))


# -- tampering with sealed records ----------------------------------------------------------
def test_edited_ciphertext_is_reported_with_the_record_it_belongs_to(vault, vault_path, study_en):
    pid = enrol(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        (sealed,) = db.execute(
            "SELECT sealed FROM participant_records WHERE participant_id = ? AND kind = 'identity'", (pid,)
        ).fetchone()
        flipped = bytearray(sealed)
        flipped[-5] ^= 0x01
        db.execute(
            "UPDATE participant_records SET sealed = ? WHERE participant_id = ? AND kind = 'identity'",
            (bytes(flipped), pid),
        )
    v = reopen(vault_path)
    try:
        with pytest.raises(RecordTampered) as err:
            participants.get_participant(v, pid)
        assert f"participant/{pid}/identity" in str(err.value)
    finally:
        v.close()


def test_ciphertexts_cannot_be_swapped_between_participants(vault, vault_path, study_en):
    """Same kind of record, same-looking row: the AAD binds each to its owner."""
    a, b = enrol(vault, study_en.study, "Alice"), enrol(vault, study_en.study, "Bob")
    vault.close()
    with raw_db(vault_path) as db:
        rows = dict(db.execute("SELECT participant_id, wrapped FROM participant_keys").fetchall())
        db.execute("UPDATE participant_keys SET wrapped = ? WHERE participant_id = ?", (rows[a], b))
    v = reopen(vault_path)
    try:
        assert participants.get_participant(v, a).identity["name"] == "Alice"
        with pytest.raises(RecordTampered, match=f"key of {b}"):
            participants.get_participant(v, b)
    finally:
        v.close()


def test_consent_record_moved_to_another_item_fails(vault, vault_path, study_en):
    study = study_en.study
    pid = enrol(vault, study)
    consent.record_consent(vault, study, pid, {"participation": True, "audio_recording": False})
    vault.close()
    with raw_db(vault_path) as db:
        # make the refused audio decision look like the given participation one
        (given,) = db.execute("SELECT sealed FROM consents WHERE item_id = 'participation'").fetchone()
        db.execute("UPDATE consents SET sealed = ? WHERE item_id = 'audio_recording'", (given,))
    v = reopen(vault_path)
    try:
        with pytest.raises(RecordTampered):
            consent.current_consent(v, pid)
    finally:
        v.close()


# -- audit chain -------------------------------------------------------------------------------
def _audit_fixture(vault, study):
    pid = enrol(vault, study)
    consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
    assert vault.audit.verify().ok


def test_audit_detects_an_edited_entry(vault, vault_path, study_en):
    _audit_fixture(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("UPDATE audit SET actor = 'someone-else' WHERE seq = 3")
    v = reopen(vault_path)
    try:
        report = v.audit.verify()
        assert not report.ok
        assert any("entry 3" in p and "edited" in p for p in report.problems)
    finally:
        v.close()


def test_audit_detects_a_deleted_entry(vault, vault_path, study_en):
    _audit_fixture(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("DELETE FROM audit WHERE seq = 2")
    v = reopen(vault_path)
    try:
        problems = v.audit.verify().problems
        assert any("missing" in p for p in problems)
        assert any("entry 3" in p and "chain broken" in p for p in problems)
    finally:
        v.close()


def _forge_chain(vault_path: Path) -> None:
    """What a careful forger does: change an entry and recompute every hash after it."""
    from fieldscribe.core.audit import GENESIS, entry_hash

    with raw_db(vault_path) as db:
        rows = db.execute("SELECT seq, ts, actor, action, subject, details FROM audit ORDER BY seq").fetchall()
        prev = GENESIS
        for seq, ts, original_actor, action, subject, details in rows:
            actor = "forger" if seq == 2 else original_actor
            digest = entry_hash(prev, seq, ts, actor, action, subject, details)
            db.execute("UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?", (actor, prev, digest, seq))
            prev = digest


def test_audit_detects_a_recomputed_chain_even_after_later_use(vault, vault_path, study_en):
    _audit_fixture(vault, study_en.study)
    vault.close()
    _forge_chain(vault_path)
    v = reopen(vault_path)
    try:
        assert not v.audit.trusted
        # working on with the doctored vault must not re-anchor (bless) the forgery
        enrol(v, study_en.study, "Later")
        report = v.audit.verify()
        assert not report.ok
        assert any("rewritten" in p for p in report.problems)
    finally:
        v.close()
    v = reopen(vault_path)
    try:
        assert not v.audit.verify().ok
    finally:
        v.close()


def test_audit_detects_a_truncated_tail(vault, vault_path, study_en):
    _audit_fixture(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)")
    v = reopen(vault_path)
    try:
        assert any("truncated" in p for p in v.audit.verify().problems)
    finally:
        v.close()


def test_failed_unlocks_are_chained_and_covered_by_the_next_anchor(vault, vault_path):
    from fieldscribe.core.errors import WrongPassphrase

    vault.close()
    v = Vault.open(vault_path)
    with pytest.raises(WrongPassphrase):
        v.unlock("nope")
    v.unlock(PASSPHRASE)
    report = v.audit.verify()
    v.close()
    assert report.ok
    assert report.anchored_seq == report.entries


# -- opening the wrong thing, twice, or too new ---------------------------------------------
def test_missing_vault(tmp_path):
    with pytest.raises(VaultNotFound, match="fieldscribe init"):
        Vault.open(tmp_path / "nowhere")


def test_creating_over_an_existing_vault_is_refused(vault, vault_path):
    with pytest.raises(VaultExists):
        Vault.create(vault_path, "x", kdf=FAST_KDF)


def test_a_file_that_is_not_a_database(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "vault.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(NotAVault):
        Vault.open(folder)
    # the lock was released: a second attempt fails the same way, not with "locked"
    with pytest.raises(NotAVault):
        Vault.open(folder)


def test_second_opener_in_this_process_is_refused(vault, vault_path):
    with pytest.raises(VaultLocked, match=r"pid \d+"):
        Vault.open(vault_path)


def test_second_process_is_refused_and_the_vault_is_unharmed(vault, vault_path, study_en):
    pid = enrol(vault, study_en.study, "Held Open")
    code = textwrap.dedent(
        f"""
        import sys
        from fieldscribe.core.vault import Vault
        from fieldscribe.core.errors import VaultLocked
        try:
            Vault.open({str(vault_path)!r})
        except VaultLocked as e:
            print(e); sys.exit(3)
        sys.exit(0)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "already open in another fieldscribe process" in proc.stdout
    assert participants.get_participant(vault, pid).identity["name"] == "Held Open"


def test_lock_is_released_when_the_holder_is_killed(vault_path, tmp_path):
    """kill -9 of the app must not leave the vault permanently locked."""
    Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)[0].close()
    code = f"from fieldscribe.core.vault import Vault; import time; v = Vault.open({str(vault_path)!r}); print('held', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(VaultLocked):
            Vault.open(vault_path)
    finally:
        proc.kill()
        proc.wait()
    Vault.open(vault_path).close()


def test_vault_from_a_newer_schema_is_refused_untouched(vault, vault_path):
    vault.close()
    with raw_db(vault_path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = (vault_path / "vault.db").read_bytes()
    with pytest.raises(SchemaTooNew, match="newer fieldscribe"):
        Vault.open(vault_path)
    assert (vault_path / "vault.db").read_bytes() == before


def test_migrations_bring_an_empty_database_to_the_current_version(tmp_path):
    import sqlite_utils

    from fieldscribe.core.schema import current_version, migrate

    db = sqlite_utils.Database(tmp_path / "x.db")
    assert migrate(db) == list(range(1, SCHEMA_VERSION + 1))
    assert current_version(db) == SCHEMA_VERSION
    assert migrate(db) == []
    assert {"participants", "consents", "sessions", "audit", "keyring"} <= set(db.table_names())
