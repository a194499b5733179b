"""A vault edited on disk, met by the app and the CLI: one sentence naming what changed, the
rest of the study still reachable, the tools to investigate still usable — never a traceback,
a blank screen or a lock-out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldscribe.core.export.keys import keygen
from fieldscribe.services import TAMPERED, Services
from fieldscribe.tui.screens.home import HomeScreen

from .conftest import PASSPHRASE
from .test_withdrawal_reach import laptop
from .tui_helpers import app_for, make_vault, unlock
from .vault_access import sql


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from fieldscribe.cli import main; main()", "--vault", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE, "FIELDSCRIBE_NER": "off"},
    )


@pytest.fixture
def field(tmp_path, study_en):
    """Ann and Bo interviewed (imported audio, transcribed, reviewed), vault closed."""
    team = keygen(tmp_path / "team" / "team.key")
    v, ann, bo = laptop(tmp_path, study_en, team)
    v.close()
    return tmp_path / "laptop", ann, bo


async def test_the_app_opens_on_edited_study_files_with_the_language_unset(vault_path, study_en):
    make_vault(vault_path, study_en)
    sql(vault_path, "DELETE FROM study_records WHERE name = 'guides_sealed'")
    app = app_for(vault_path, language=None)  # as Settings.from_env() gives by default
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(pilot)
        await pilot.pause(0.3)
        assert app.is_running and isinstance(app.screen, HomeScreen)


def test_one_tampered_participant_does_not_hide_the_others(field):
    folder, (ann, _), (bo, bo_s) = field
    sql(folder, f"DELETE FROM consents WHERE id = (SELECT MAX(id) FROM consents WHERE participant_id = '{ann}')")
    services = Services(folder)
    services.unlock(PASSPHRASE)
    try:
        board = services.dashboard()
    finally:
        services.close()
    states = {p.id: p.consent for p in board.participants}
    assert states[ann] == TAMPERED and states[bo] == "complete"
    assert bo_s in [r.id for r in board.sessions]
    assert any(a.kind == TAMPERED and ann in a.detail and "consent history" in a.detail for a in board.attention), (
        board.attention
    )


def test_a_status_edited_to_received_is_not_shown_as_true(field):
    folder, (_ann, ann_s), _ = field
    sql(folder, f"UPDATE sessions SET status = 'received' WHERE id = '{ann_s}'")
    services = Services(folder)
    services.unlock(PASSPHRASE)
    try:
        board = services.dashboard()
    finally:
        services.close()
    [row] = [r for r in board.sessions if r.id == ann_s]
    assert row.status == TAMPERED
    assert not any(a.kind == "received" for a in board.attention)


def test_a_recording_marked_interrupted_on_disk_locks_nobody_out(field):
    folder, (_ann, ann_s), _ = field
    sql(folder, f"UPDATE recordings SET state = 'recording' WHERE session_id = '{ann_s}'")
    services = Services(folder)
    lines = services.unlock(PASSPHRASE)
    try:
        assert services.unlocked and any(ann_s in line and "could not be recovered" in line for line in lines)
    finally:
        services.close()
    listed = cli(folder, "participant", "list")
    assert listed.returncode == 0 and "Warning:" in listed.stderr and "Traceback" not in listed.stderr
    verify = cli(folder, "audit", "verify")
    assert verify.returncode != 0 and ann_s in verify.stdout + verify.stderr
    assert "Traceback" not in verify.stderr


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE study_records SET sealed = 'abc' WHERE name = 'replacements'",
        "UPDATE consents SET sealed = 'abc' WHERE id = 1",
        "UPDATE transcript_segments SET sealed = 'abc' WHERE idx = 0",
        "UPDATE transcript_segments SET start = X'01' WHERE idx = 1",
        "UPDATE participants SET site = 'x' WHERE id = 'P1'",
        "UPDATE consents SET recorded_at = X'00' WHERE id = 1",
    ],
)
def test_a_value_of_the_wrong_type_is_a_finding_not_a_crash(field, edit):
    folder, _, _ = field
    sql(folder, edit)
    for args in (("audit", "verify"), ("participant", "list"), ("status",)):
        r = cli(folder, *args)
        assert "Traceback" not in r.stderr, (args, r.stderr)
    verify = cli(folder, "audit", "verify")
    assert verify.returncode != 0, verify.stdout


def test_a_key_deleted_on_disk_is_not_reported_as_a_withdrawal(field):
    folder, _, (bo, _) = field
    sql(folder, f"DELETE FROM participant_keys WHERE participant_id = '{bo}'")
    r = cli(folder, "participant", "show", bo)
    assert r.returncode != 0 and "never withdrew" in r.stderr and "has withdrawn" not in r.stderr


def test_the_cli_overview_names_the_tampered_record_and_shows_the_rest(field):
    folder, (ann, ann_s), (bo, _) = field
    sql(folder, f"DELETE FROM consents WHERE id = (SELECT MAX(id) FROM consents WHERE participant_id = '{ann}')")
    sql(folder, f"UPDATE sessions SET status = 'received' WHERE id = '{ann_s}'")
    for args in (("status",), ("participant", "list")):
        r = cli(folder, *args)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
        assert "TAMPERED" in r.stdout and bo in r.stdout
    status = cli(folder, "status").stdout
    assert "purge --received" not in status and "consent history" in status
