"""History, not just single values, is tamper-evident (issue 12).

Each test plays an attacker who has the vault files but no key, edits them while the app is
closed, and checks that the next read (or the next unlock) says which record was changed,
instead of quietly showing an older or shorter history. The edits are made with plain
sqlite3 and plain file operations, independently of the code under test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fieldscribe.cli import cli
from fieldscribe.core import consent, ledger, participants, sessions, timeline
from fieldscribe.core.audio.recorder import RecorderConfig
from fieldscribe.core.audio.store import export_wav, read_audio
from fieldscribe.core.editing import edit_segment
from fieldscribe.core.errors import (
    AudioTruncated,
    HistoryTampered,
    RecordTampered,
    WrongPassphrase,
)
from fieldscribe.core.recording import begin_recording
from fieldscribe.core.recordings import audio_path
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import (
    begin_transcript,
    complete_transcript,
    current_transcript,
    load_segments,
    store_segments,
)
from fieldscribe.core.vault import Vault

from .audio_fakes import ArraySource, speechlike
from .conftest import PASSPHRASE
from .vault_access import raw_db, reopen

LEGACY = Path(__file__).parent / "data" / "legacy-v5-vault"
ALL = {"participation": True, "audio_recording": True, "quotes": True, "withdrawal": True}


# -- helpers -----------------------------------------------------------------------------------
def cli_verify(path: Path):
    return CliRunner().invoke(
        cli, ["--vault", str(path), "audit", "verify"], env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    )


def enrol(v: Vault, study, **kw) -> str:
    return participants.enrol(v, study, group="service_user", eligibility=participants.all_eligible(study), **kw)


def consented(v: Vault, study) -> tuple[str, str]:
    pid = enrol(v, study, name="Someone")
    consent.record_consent(v, study, pid, ALL)
    return pid, sessions.create_session(v, [pid])


def record(v: Vault, sid: str, seconds: float = 5.0) -> None:
    data = speechlike(seconds)
    source = ArraySource(data)
    run = begin_recording(v, sid, RecorderConfig(), source=source)
    source.done.wait(60)
    run.stop()


def transcribe_fake(v: Vault, sid: str, n: int = 6) -> None:
    """A finished transcript without Whisper: segments go through the same storage path."""
    run = begin_transcript(v, sid, EngineSettings(model="tiny.en"), float(n))
    key = sessions.session_key(v, sid)
    for i in range(n):
        store_segments(v, run, key, [Segment(float(i), i + 1.0, f"Sentence number {i}.")], [], i + 1.0)
    complete_transcript(v, run)


def audio_records(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each sealed audio record, parsed from the documented layout."""
    data = path.read_bytes()
    (hlen,) = struct.unpack(">H", data[8:10])
    pos, out = 10 + hlen, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((pos, 4 + n))
        pos += 4 + n
    return out


def append_forged_entry(db: sqlite3.Connection, action: str, subject: str, details: dict) -> int:
    """A correctly chained entry, written the way anyone who reads the schema could."""
    seq, prev = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq += 1
    ts = "2030-01-01T00:00:00.000Z"
    details_json = json.dumps(details, sort_keys=True, separators=(",", ":"))
    body = json.dumps([seq, ts, "mallory", action, subject, details_json], ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256((prev + body).encode()).hexdigest()
    db.execute(
        "INSERT INTO audit (seq, ts, actor, action, subject, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        (seq, ts, "mallory", action, subject, details_json, prev, digest),
    )
    return seq


# -- a normal life verifies ----------------------------------------------------------------------
def test_a_whole_field_day_verifies_and_every_history_is_vouched_for(vault, vault_path, study_en):
    s = study_en.study
    pid, sid = consented(vault, s)
    participants.update(vault, s, pid, baseline={"age": "41"})
    record(vault, sid, 3.0)
    timeline.add_event(vault, sid, timeline.NOTE, 1.0, text="added after the interview")
    transcribe_fake(vault, sid, 4)
    edit_segment(vault, sid, 1, text="A corrected sentence.")
    assert ledger.verify_all(vault) == []
    # every change so far was announced by the entry the user reads, not by extra entries
    actions = [e.action for e in vault.audit.entries()]
    assert actions[-1] == "transcript.edit" and actions.count(ledger.QUIET) == 1  # the note after recording
    vault.close()
    result = cli_verify(vault_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Audit log intact")


# -- one attack per test ---------------------------------------------------------------------------
def test_a_baseline_rolled_back_to_an_older_ciphertext_of_the_same_row_is_caught(vault, vault_path, study_en):
    s = study_en.study
    pid = enrol(vault, s, baseline={"age": "40"})
    (older,) = vault.db.execute(
        "SELECT sealed FROM participant_records WHERE participant_id = ? AND kind = 'baseline'", (pid,)
    ).fetchone()
    participants.update(vault, s, pid, baseline={"age": "41"})
    vault.close()
    with raw_db(vault_path) as db:  # the older ciphertext still authenticates: same row, same key
        db.execute(
            "UPDATE participant_records SET sealed = ? WHERE participant_id = ? AND kind = 'baseline'", (older, pid)
        )
    v = reopen(vault_path)
    try:
        with pytest.raises(HistoryTampered, match=f"baseline record of {pid}"):
            participants.get_participant(v, pid)
        with pytest.raises(HistoryTampered):  # nor is the rollback sealed in by the next change
            participants.update(v, s, pid, baseline={"age": "42"})
        assert any(f"baseline record of {pid}" in f for f in ledger.verify_all(v))
    finally:
        v.close()
    result = cli_verify(vault_path)
    assert result.exit_code != 0 and f"baseline record of {pid}" in result.stderr


def test_deleting_the_newest_consent_row_does_not_reenable_recording(vault, vault_path, study_en):
    s = study_en.study
    pid, sid = consented(vault, s)
    consent.record_consent(vault, s, pid, {"audio_recording": False})  # the participant changes their mind
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("DELETE FROM consents WHERE id = (SELECT MAX(id) FROM consents)")
    v = reopen(vault_path)
    try:
        with pytest.raises(HistoryTampered, match=rf"consent history of {pid} \(4 decisions where 5 were recorded\)"):
            consent.current_consent(v, pid)
        with pytest.raises(HistoryTampered):
            begin_recording(v, sid, RecorderConfig(), source=ArraySource(speechlike(1.0)))
        assert not audio_path(v, sid).exists()
        assert sessions.get_session(v, sid).status == sessions.PLANNED
        with pytest.raises(HistoryTampered):  # a new decision must not seal the shortened history
            consent.record_consent(v, s, pid, {"quotes": True})
    finally:
        v.close()
    result = cli_verify(vault_path)
    assert result.exit_code != 0 and f"consent history of {pid}" in result.stderr


def test_deleted_transcript_segments_are_refused_naming_the_transcript(vault, vault_path, study_en):
    _pid, sid = consented(vault, study_en.study)
    transcribe_fake(vault, sid, 6)
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("DELETE FROM transcript_segments WHERE idx >= 4")
    v = reopen(vault_path)
    try:
        t = current_transcript(v, sid)
        with pytest.raises(HistoryTampered, match=rf"segments of transcript version 1 of {sid} \(4 where 6"):
            load_segments(v, t)
    finally:
        v.close()
    shown = CliRunner().invoke(
        cli, ["--vault", str(vault_path), "transcript", "show", sid], env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    )
    assert shown.exit_code != 0
    assert f"segments of transcript version 1 of {sid}" in shown.output and "Traceback" not in shown.output


def test_audio_cut_at_a_chunk_boundary_is_refused(vault, vault_path, study_en, tmp_path):
    _pid, sid = consented(vault, study_en.study)
    record(vault, sid, 5.0)
    path = audio_path(vault, sid)
    assert len(audio_records(path)) == 5
    vault.close()
    off, _length = audio_records(path)[3]
    with open(path, "r+b") as f:  # every remaining chunk still authenticates
        f.truncate(off)
    v = reopen(vault_path)
    try:
        with pytest.raises(AudioTruncated, match=f"audio of {sid} has 3 chunks where 5 were recorded"):
            read_audio(v, sid)
        out = tmp_path / "export.wav"
        with pytest.raises(AudioTruncated):
            export_wav(v, sid, out)
        assert not out.exists()
    finally:
        v.close()
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    r = CliRunner().invoke(
        cli, ["--vault", str(vault_path), "audit", "verify"], env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    )
    assert r.exit_code != 0 and "3 chunks where 5" in r.output, "audit verify finds it without reading the audio"
    # making the recording's row agree with the shorter file is caught by the session's history
    with raw_db(vault_path) as db:
        db.execute("UPDATE recordings SET chunks = 3, frames = 48000 WHERE session_id = ?", (sid,))
    v = reopen(vault_path)
    try:
        with pytest.raises(HistoryTampered, match=f"recording details of {sid} \\(3 chunks where 5"):
            read_audio(v, sid)
    finally:
        v.close()


def test_a_status_set_to_received_in_sql_is_caught(vault, vault_path, study_en):
    _pid, sid = consented(vault, study_en.study)
    record(vault, sid, 2.0)
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("UPDATE sessions SET status = 'received' WHERE id = ?", (sid,))
    v = reopen(vault_path)
    try:
        with pytest.raises(HistoryTampered, match=f"status of {sid} \\('received' where 'recorded' was recorded\\)"):
            ledger.check_session(v, sid)
        with pytest.raises(HistoryTampered):  # no further step builds on the forged status
            sessions.set_status(v, sid, sessions.EXPORTED)
        assert any(f"status of {sid}" in f for f in ledger.verify_all(v))
    finally:
        v.close()


def test_a_withdrawn_status_without_shredding_is_a_finding(vault, vault_path, study_en):
    pid, sid = consented(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        db.execute("UPDATE participants SET status = 'withdrawn' WHERE id = ?", (pid,))
        db.execute("UPDATE sessions SET status = 'purged' WHERE id = ?", (sid,))
    v = reopen(vault_path)
    try:
        findings = ledger.verify_all(v)
    finally:
        v.close()
    assert any(f"{pid} is marked withdrawn but their key was never destroyed" in f for f in findings)
    assert any(f"{sid} is marked purged but its key was never destroyed" in f for f in findings)
    # destroying the keys as well makes it look like a withdrawal, but none was ever recorded
    with raw_db(vault_path) as db:
        db.execute("DELETE FROM session_keys WHERE session_id = ?", (sid,))
        db.execute("DELETE FROM participant_keys WHERE participant_id = ?", (pid,))
    v = reopen(vault_path)
    try:
        findings = ledger.verify_all(v)
    finally:
        v.close()
    assert any(f"{pid} is marked withdrawn but the audit log records no withdrawal" in f for f in findings)
    assert any(f"{sid} is marked purged but the audit log records no withdrawal or purge" in f for f in findings)


def test_a_session_deleted_outright_is_a_finding(vault, vault_path, study_en):
    _pid, sid = consented(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        for table in ("session_keys", "session_participants", "ledgers"):
            column = "scope" if table == "ledgers" else "session_id"
            value = f"session/{sid}" if table == "ledgers" else sid
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (value,))
        db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
    v = reopen(vault_path)
    try:
        assert any(f"{sid} was deleted from the vault" in f for f in ledger.verify_all(v))
    finally:
        v.close()


def test_a_real_withdrawal_leaves_a_vault_that_verifies(vault, vault_path, study_en):
    s = study_en.study
    pid, sid = consented(vault, s)
    other, _ = consented(vault, s)
    record(vault, sid, 2.0)
    sessions.withdraw_participant(vault, pid, pid)
    assert sessions.get_session(vault, sid).status == sessions.WITHDRAWN
    assert ledger.verify_all(vault) == []
    consent.current_consent(vault, other)  # everyone else's history still checks
    vault.close()
    assert cli_verify(vault_path).exit_code == 0


def test_a_whole_participant_rolled_back_from_an_older_copy_is_caught_by_the_audit(
    vault, vault_path, study_en, tmp_path
):
    s = study_en.study
    pid = enrol(vault, s, baseline={"age": "40"})
    consent.record_consent(vault, s, pid, ALL)
    vault.close()
    earlier = tmp_path / "earlier.db"
    shutil.copy2(vault_path / "vault.db", earlier)
    v = reopen(vault_path)
    participants.update(v, s, pid, baseline={"age": "41"})
    consent.record_consent(v, s, pid, {"audio_recording": False})
    v.close()
    # ledger and rows together, consistent with each other, from the older copy
    with raw_db(vault_path) as db:
        db.execute("ATTACH DATABASE ? AS old", (str(earlier),))
        for table, column in (("participant_records", "participant_id"), ("consents", "participant_id")):
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (pid,))
            db.execute(f"INSERT INTO {table} SELECT * FROM old.{table} WHERE {column} = ?", (pid,))
        db.execute("DELETE FROM ledgers WHERE scope = ?", (f"participant/{pid}",))
        db.execute("INSERT INTO ledgers SELECT * FROM old.ledgers WHERE scope = ?", (f"participant/{pid}",))
    v = reopen(vault_path)
    try:
        with pytest.raises(HistoryTampered, match=f"history of {pid} was rolled back"):
            consent.current_consent(v, pid)
        assert v.audit.verify().ok  # the log itself is untouched: it is the witness
    finally:
        v.close()


def test_forged_correctly_chained_entries_after_the_anchor_are_rejected_at_unlock(vault, vault_path, study_en):
    pid = enrol(vault, study_en.study)
    anchored = vault.audit.verify().anchored_seq
    vault.close()
    with raw_db(vault_path) as db:
        append_forged_entry(db, "participant.withdraw", pid, {"sessions_shredded": []})
    v = reopen(vault_path)
    try:
        report = v.audit.verify()
        assert not v.audit.trusted, "the forgery must not be anchored at unlock"
        assert report.anchored_seq == anchored
        assert any("added after the anchored entry" in p and "participant.withdraw" in p for p in report.problems)
        enrol(v, study_en.study)  # working on does not bless it either
        assert not v.audit.verify().ok
    finally:
        v.close()
    assert cli_verify(vault_path).exit_code != 0


def test_failed_unlocks_after_the_anchor_are_the_one_exception(vault, vault_path, study_en):
    enrol(vault, study_en.study)
    vault.close()
    v = Vault.open(vault_path)
    with pytest.raises(WrongPassphrase):
        v.unlock("wrong")
    v.close()
    v = reopen(vault_path)
    try:
        assert v.audit.trusted and v.audit.verify().ok
    finally:
        v.close()


def test_a_cut_tail_with_an_older_anchor_restored_is_caught(vault, vault_path, study_en):
    s = study_en.study
    pid = enrol(vault, s)
    vault.close()
    with raw_db(vault_path) as db:
        (old_anchor,) = db.execute("SELECT value FROM meta WHERE key = 'audit_anchor'").fetchone()
    cut_at = json.loads(old_anchor)["seq"]
    v = reopen(vault_path)
    consent.record_consent(v, s, pid, {"audio_recording": False})
    v.close()
    with raw_db(vault_path) as db:  # the log and its anchor as they were: a consistent older log
        db.execute("DELETE FROM audit WHERE seq > ?", (cut_at,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'audit_anchor'", (old_anchor,))
    v = reopen(vault_path)
    try:
        assert not v.audit.trusted
        assert any(f"history of {pid} was recorded at entry" in p for p in v.audit.verify().problems)
        with pytest.raises(HistoryTampered, match="end of the log was cut"):
            consent.current_consent(v, pid)
    finally:
        v.close()
    # hiding the ledger's entry number in the clear column does not help: the sealed one counts
    with raw_db(vault_path) as db:
        db.execute("UPDATE ledgers SET audit_seq = ? WHERE scope = ?", (cut_at, f"participant/{pid}"))
        db.execute("DELETE FROM audit WHERE seq > ?", (cut_at,))
        db.execute("UPDATE meta SET value = ? WHERE key = 'audit_anchor'", (old_anchor,))
    v = reopen(vault_path)
    try:
        with pytest.raises(HistoryTampered, match=f"sealed history of {pid} was edited"):
            consent.current_consent(v, pid)
    finally:
        v.close()


# -- vaults made before ledgers ---------------------------------------------------------------------
@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    path = tmp_path / "legacy"
    shutil.copytree(LEGACY, path)
    return path


def test_a_vault_from_the_previous_release_opens_verifies_and_is_then_protected(legacy):
    v = reopen(legacy)
    try:
        assert v.audit.verify().ok
        assert ledger.verify_all(v) == []
        assert [e.action for e in v.audit.entries()].count(ledger.BACKFILL) == 1
        assert consent.current_consent(v, "P1")["quotes"].given is False
        assert load_segments(v, current_transcript(v, "S1"))[0].text == "Hello there."
        pcm, _rate = read_audio(v, "S1")
        assert len(pcm) == 3 * 16000
    finally:
        v.close()
    v = reopen(legacy)
    try:  # built once, not again
        assert [e.action for e in v.audit.entries()].count(ledger.BACKFILL) == 1
    finally:
        v.close()
    assert cli_verify(legacy).exit_code == 0
    with raw_db(legacy) as db:
        db.execute("DELETE FROM consents WHERE id = (SELECT MAX(id) FROM consents)")
    v = reopen(legacy)
    try:
        with pytest.raises(HistoryTampered, match="consent history of P1"):
            consent.current_consent(v, "P1")
    finally:
        v.close()


def test_setting_the_backfill_marker_again_cannot_bless_a_deleted_history(legacy):
    v = reopen(legacy)
    consent.current_consent(v, "P1")  # the first read after the upgrade builds the ledgers
    v.close()
    with raw_db(legacy) as db:
        assert db.execute("SELECT COUNT(*) FROM meta WHERE key = 'ledger_backfill'").fetchone()[0] == 0
        db.execute("DELETE FROM ledgers WHERE scope = 'participant/P1'")
        db.execute("INSERT INTO meta (key, value) VALUES ('ledger_backfill', 'pending')")
    v = reopen(legacy)
    try:
        with pytest.raises(HistoryTampered, match="sealed history of P1 is missing"):
            consent.current_consent(v, "P1")
    finally:
        v.close()


def test_a_damaged_ledger_is_named(vault, vault_path, study_en):
    pid = enrol(vault, study_en.study)
    vault.close()
    with raw_db(vault_path) as db:
        (sealed,) = db.execute("SELECT sealed FROM ledgers WHERE scope = ?", (f"participant/{pid}",)).fetchone()
        flipped = bytearray(sealed)
        flipped[-3] ^= 1
        db.execute("UPDATE ledgers SET sealed = ? WHERE scope = ?", (bytes(flipped), f"participant/{pid}"))
    v = reopen(vault_path)
    try:
        with pytest.raises(RecordTampered, match=f"ledger/participant/{pid}"):
            participants.get_participant(v, pid)
    finally:
        v.close()


def test_checking_a_long_transcript_stays_cheap(vault, study_en):
    """A checked scope is not checked again until something outside this connection writes."""
    import time

    _pid, sid = consented(vault, study_en.study)
    run = begin_transcript(vault, sid, EngineSettings(model="tiny.en"), 3600.0)
    key = sessions.session_key(vault, sid)
    segs = [
        Segment(i * 5.0, i * 5.0 + 4.5, "Words that were said in this stretch of the interview " * 3)
        for i in range(700)
    ]
    store_segments(vault, run, key, segs, [], 3600.0)
    complete_transcript(vault, run)
    sid_scope = ledger.session_scope(sid)
    started = time.perf_counter()
    assert ledger.verify_all(vault) == []
    full = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        ledger.check(vault, sid_scope)
    cached = time.perf_counter() - started
    assert full < 1.0, f"checking 700 segments took {full:.3f} s"
    assert cached < 0.05, f"100 repeated checks took {cached:.3f} s"
    assert np.isfinite(full)
