"""The key hierarchy keeps data readable through passphrase changes and recovery, and makes
one participant's data unreadable — in the vault and in any earlier copy — on withdrawal."""

from __future__ import annotations

import shutil

import pytest

from fieldscribe.core import consent, crypto, participants, sessions
from fieldscribe.core.errors import (
    ConfirmationMismatch,
    ParticipantWithdrawn,
    WrongPassphrase,
    WrongRecoveryKey,
)
from fieldscribe.core.vault import Vault

from .conftest import PASSPHRASE
from .vault_access import reopen


def enrol(v: Vault, study, name: str) -> str:
    return participants.enrol(
        v,
        study,
        group="service_user",
        name=name,
        site="Riverside",
        eligibility=participants.all_eligible(study),
        baseline={"age": 40},
    )


def test_passphrase_change_keeps_data_and_retires_old_passphrase(new_vault, vault_path, study_en):
    v, _ = new_vault
    pid = enrol(v, study_en.study, "Ada Example")
    v.change_passphrase("a brand new passphrase")
    v.close()
    with pytest.raises(WrongPassphrase):
        reopen(vault_path).close()
    v2 = reopen(vault_path, "a brand new passphrase")
    try:
        assert participants.get_participant(v2, pid).identity["name"] == "Ada Example"
    finally:
        v2.close()


def test_recovery_key_unlocks_and_resets_passphrase(new_vault, vault_path, study_en):
    v, recovery = new_vault
    pid = enrol(v, study_en.study, "Ada Example")
    v.close()
    v2 = Vault.open(vault_path)
    # what a person types back from paper: lower case, spaces instead of dashes
    v2.unlock_with_recovery_key(recovery.lower().replace("-", " "))
    v2.change_passphrase("reset after forgetting")
    v2.close()
    v3 = reopen(vault_path, "reset after forgetting")
    try:
        assert participants.get_participant(v3, pid).identity["name"] == "Ada Example"
    finally:
        v3.close()


@pytest.mark.parametrize("bad", ["", "AAAA-BBBB", "A" * 32, "not a key at all"])
def test_wrong_recovery_key_is_refused_and_audited(new_vault, vault_path, bad):
    v, _ = new_vault
    v.close()
    v2 = Vault.open(vault_path)
    try:
        with pytest.raises(WrongRecoveryKey):
            v2.unlock_with_recovery_key(bad)
        assert v2.audit.entries()[-1].action == "vault.unlock_failed"
        assert not v2.unlocked
    finally:
        v2.close()


def test_wrong_passphrase_is_audited_and_leaves_vault_locked(new_vault, vault_path):
    v, _ = new_vault
    v.close()
    v2 = Vault.open(vault_path)
    try:
        with pytest.raises(WrongPassphrase):
            v2.unlock("guess")
        assert not v2.unlocked
        assert v2.audit.entries()[-1].action == "vault.unlock_failed"
        v2.unlock(PASSPHRASE)
        assert v2.audit.verify().ok
    finally:
        v2.close()


def test_each_participant_has_their_own_key(vault, study_en):
    a = enrol(vault, study_en.study, "A")
    b = enrol(vault, study_en.study, "B")
    assert vault.participant_key(a) != vault.participant_key(b)


def test_withdrawal_makes_data_unreadable_here_and_in_an_earlier_copy(vault, vault_path, study_en, tmp_path):
    study = study_en.study
    pid = enrol(vault, study, "Withdrawing Person")
    keep = enrol(vault, study, "Staying Person")
    consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
    sid = sessions.create_session(vault, [pid])
    wrapped = vault.db.execute("SELECT wrapped FROM participant_keys WHERE participant_id = ?", (pid,)).fetchone()[0]
    identity_ct = vault.db.execute(
        "SELECT sealed FROM participant_records WHERE participant_id = ? AND kind = 'identity'", (pid,)
    ).fetchone()[0]
    vault.shred_residue()
    backup = tmp_path / "backup-before-withdrawal"
    shutil.copytree(vault_path, backup, ignore=shutil.ignore_patterns("vault.lock"))

    with pytest.raises(ConfirmationMismatch):
        sessions.withdraw_participant(vault, pid, "P999")
    assert participants.get_participant(vault, pid).status == participants.ENROLLED

    shredded = sessions.withdraw_participant(vault, pid, pid.lower())
    assert shredded == [sid]
    assert sessions.get_session(vault, sid).status == sessions.WITHDRAWN
    with pytest.raises(ParticipantWithdrawn):
        vault.participant_key(pid)
    with pytest.raises(ParticipantWithdrawn):
        participants.update(vault, study, pid, baseline={"age": 30})
    # the other participant is untouched
    assert participants.get_participant(vault, keep).identity["name"] == "Staying Person"

    # The wrapped key is gone from every file of the live vault (secure_delete + WAL truncate).
    for f in vault_path.rglob("*"):
        if f.is_file():
            assert wrapped not in f.read_bytes(), f"wrapped key still in {f.name}"

    # The ciphertext copied out before withdrawal cannot be opened through the live vault:
    # the only key that could open it no longer exists here.
    copy = Vault.open(backup)
    try:
        copy.unlock(PASSPHRASE)
        # (the pre-withdrawal copy still opens it — SECURITY.md explains why backups must be
        # made with `fieldscribe` bundles, not by copying the vault folder)
        assert copy.open_json(copy.participant_key(pid), identity_ct, "participant", pid, "identity")
    finally:
        copy.close()
    with pytest.raises(ParticipantWithdrawn):
        vault.open_json(vault.participant_key(pid), identity_ct, "participant", pid, "identity")


def test_withdrawn_pseudonym_is_never_reused(vault, study_en):
    study = study_en.study
    p1 = enrol(vault, study, "One")
    sessions.withdraw_participant(vault, p1, p1)
    p2 = enrol(vault, study, "Two")
    assert (p1, p2) == ("P1", "P2")
    with pytest.raises(ParticipantWithdrawn):
        sessions.create_session(vault, [p1])
    with pytest.raises(ParticipantWithdrawn):
        consent.record_consent(vault, study, p1, {"participation": True})
    with pytest.raises(ParticipantWithdrawn):
        sessions.withdraw_participant(vault, p1, p1)


def test_focus_group_survives_one_members_withdrawal(vault, study_en):
    study = study_en.study
    a, b = enrol(vault, study, "A"), enrol(vault, study, "B")
    sid = sessions.create_session(vault, [a, b])
    key_before = sessions.session_key(vault, sid)
    assert sessions.withdraw_participant(vault, a, a) == []
    assert sessions.session_key(vault, sid) == key_before
    assert sessions.get_session(vault, sid).status == sessions.PLANNED


def test_recovery_key_format_round_trips():
    raw = crypto.new_recovery_key()
    text = crypto.format_recovery_key(raw)
    assert len(text.split("-")) == 8
    assert crypto.parse_recovery_key(text) == raw
    assert crypto.parse_recovery_key(text.lower().replace("-", "  ")) == raw
    assert crypto.parse_recovery_key(text[:-1]) is None
