"""Keys you trust, not keys a file brings along: device keys pinned for bundles, the team's
receipt key from the (authenticated) study file, a sealed receipt secret, purge only on a
receipt that verifies now, and the passphrase wrap's crash window and cost settings."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldscribe.cli import cli
from fieldscribe.core import sessions
from fieldscribe.core.errors import KeySettingsTampered, RecordTampered, WrongPassphrase
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.guides import list_guides, load_guide
from fieldscribe.core.sync.purge import purgeable
from fieldscribe.core.sync.trust import DeviceTrust, receipt_key_hex
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE
from .test_sync import field_vault
from .vault_access import pull_from_store, sync_with


@pytest.fixture
def team(tmp_path):
    return keygen(tmp_path / "team" / "team.key")


def _store(tmp_path: Path) -> tuple[Path, str]:
    d = tmp_path / "store"
    d.mkdir(exist_ok=True)
    return d, f"file://{d}"


# -- device keys ------------------------------------------------------------------------------------------
def test_a_bundle_planted_in_a_known_device_folder_with_another_key_is_refused(tmp_path, study_en, team):
    store_dir, url = _store(tmp_path)
    real, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with real:
        sync_with(real, url)
        device = real.device_id
    [first] = pull_from_store(url, team[0], tmp_path / "analysis").bundles
    assert first.error is None and first.trust == "new"
    # an attacker with write access to the store makes a validly signed bundle with their own
    # laptop (own device key), and plants it under the real laptop's folder with its device id
    fake, fake_sid, _ = field_vault(tmp_path / "attacker", study_en, tmp_path, team[1], name="Eve Fake", export=False)
    with fake:
        fake.db.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (device,))
        fake_bundle = export_sessions(fake, [fake_sid], tmp_path / "fake-out", [team[1]])
    target = store_dir / study_en.study.study.id / device / ("zz-" + fake_bundle.name)
    shutil.copy(fake_bundle, target)
    [refused] = pull_from_store(url, team[0], tmp_path / "analysis").bundles
    assert refused.error and "until now" in refused.error and refused.folder is None
    assert not (target.parent / "receipts" / f"{target.name}.receipt.json").exists(), "never acknowledged"


def test_only_listed_device_keys_are_accepted_when_the_study_lists_them(tmp_path, study_en, team):
    _store_dir, url = _store(tmp_path)
    v, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        sync_with(v, url)
    [refused] = pull_from_store(url, team[0], tmp_path / "analysis", trust=DeviceTrust({"ab" * 32})).bundles
    assert refused.error and ("unknown device" in refused.error or "does not list" in refused.error)
    from fieldscribe.core.export.keys import device_key, public_hex

    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        key = public_hex(device_key(v))
    [ok] = pull_from_store(url, team[0], tmp_path / "analysis", trust=DeviceTrust({key})).bundles
    assert ok.error is None and ok.trust == "listed"


def test_bundle_open_pins_the_first_key_and_refuses_another(tmp_path, study_en, team):
    a, _sid, bundle_a = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with a:
        device = a.device_id
    run = CliRunner().invoke
    ok = run(cli, ["bundle", "open", str(bundle_a), "--identity", str(team[0]), "--out", str(tmp_path / "o1")])
    assert ok.exit_code == 0, ok.output
    assert "now pinned" in ok.output
    fake, fake_sid, _ = field_vault(tmp_path / "attacker", study_en, tmp_path, team[1], export=False)
    with fake:
        fake.db.execute("UPDATE meta SET value = ? WHERE key = 'device_id'", (device,))
        forged = export_sessions(fake, [fake_sid], tmp_path / "fake-out", [team[1]])
    bad = run(cli, ["bundle", "open", str(forged), "--identity", str(team[0]), "--out", str(tmp_path / "o2")])
    assert bad.exit_code != 0 and "until now" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "o2").exists(), "nothing unpacked from a bundle signed by the wrong key"


# -- receipts ----------------------------------------------------------------------------------------------
def test_the_receipt_secret_is_sealed_and_a_receipt_needs_the_listed_key(tmp_path, study_en, team):
    _, url = _store(tmp_path)
    v, sid, bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    from fieldscribe.core.export.bundle import open_bundle

    secret = open_bundle(bundle, team[0]).manifest_sha256
    with v:
        sync_with(v, url)
    raw = b"".join(p.read_bytes() for p in (tmp_path / "laptop").rglob("*") if p.is_file())
    assert secret.encode() not in raw, "the manifest hash a receipt proves is not in the vault in the clear"
    # a second team key (not the one the study lists) pulls and writes a perfectly formed receipt
    other = keygen(tmp_path / "other" / "other.key")
    [pulled] = pull_from_store(url, team[0], tmp_path / "analysis").bundles  # writes the real receipt …
    [path] = list((tmp_path / "store").rglob("*.receipt.json"))
    from fieldscribe.core.export.outbox import file_sha256
    from fieldscribe.core.sync.receipts import make_receipt

    path.write_bytes(make_receipt(bundle.name, file_sha256(bundle), secret, "x", other[0]))  # … replaced
    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        report = sync_with(v, url)
        assert report.rejected == [bundle.name] and report.received == []
        assert sessions.get_session(v, sid).status != sessions.RECEIVED and purgeable(v) == []
    assert pulled.error is None


def test_purge_waits_for_a_verified_receipt_not_a_status_column(tmp_path, study_en, team):
    v, sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    with v:
        v.db.execute("UPDATE sessions SET status = 'received' WHERE id = ?", (sid,))
        assert purgeable(v) == []
    r = CliRunner().invoke(
        cli,
        ["--vault", str(tmp_path / "laptop"), "purge", "--received", "--confirm", "purge 1 session"],
        env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
    )
    assert r.exit_code != 0 and "Nothing was purged" in r.output


def test_a_receipt_key_slipped_into_vault_db_is_not_believed(tmp_path, study_en, team):
    v, _sid, _bundle = field_vault(tmp_path / "laptop", study_en, tmp_path, team[1])
    attacker = keygen(tmp_path / "evil" / "evil.key")
    with v:
        sha = list_guides(v)[-1].sha256
        text = v.db.execute("SELECT text FROM guides WHERE sha256 = ?", (sha,)).fetchone()[0]
    # with file access but no key: edit the study text to list the attacker's receipt key
    evil = text.replace(receipt_key_hex(team[0]), receipt_key_hex(attacker[0]))
    import hashlib
    import sqlite3

    con = sqlite3.connect(tmp_path / "laptop" / "vault.db")
    with con:
        con.execute(
            "INSERT INTO guides (sha256, study_id, language, title, imported_at, text) "
            "VALUES (?, 'peer-support-daycare', 'en', 't', '9999', ?)",
            (hashlib.sha256(evil.encode()).hexdigest(), evil),
        )
    con.close()
    with Vault.open(tmp_path / "laptop") as v:
        v.unlock(PASSPHRASE)
        with pytest.raises(RecordTampered, match="study file"):
            load_guide(v, list_guides(v)[-1].sha256)


# -- the passphrase wrap ------------------------------------------------------------------------------------
CHANGE_THEN_DIE = """
import os, signal, sys
from fieldscribe.core.vault import Vault
from fieldscribe.core.crypto import KdfParams
v = Vault.open(sys.argv[1]); v.unlock(sys.argv[2])
v.change_passphrase(sys.argv[3], KdfParams(memory_kib=8192, iterations=1, lanes=1))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_old_passphrase_opens_no_copy_once_a_change_has_committed(tmp_path):
    v, _ = Vault.create(tmp_path / "v", PASSPHRASE, kdf=FAST_KDF)
    v.close()
    proc = subprocess.run(
        [sys.executable, "-c", CHANGE_THEN_DIE, str(tmp_path / "v"), PASSPHRASE, "new words here"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # what an intruder copies after the crash: the main file alone, and the folder as it is
    (tmp_path / "db-only").mkdir()
    shutil.copy(tmp_path / "v" / "vault.db", tmp_path / "db-only" / "vault.db")
    shutil.copytree(tmp_path / "v", tmp_path / "whole")
    for copy in (tmp_path / "db-only", tmp_path / "whole"):
        with Vault.open(copy) as c, pytest.raises(WrongPassphrase):
            c.unlock(PASSPHRASE)
    with Vault.open(tmp_path / "v") as v:
        v.unlock("new words here")


@pytest.mark.parametrize(
    "params",
    [
        {"memory_kib": 2**40, "iterations": 3, "lanes": 4},
        {"memory_kib": 65536, "iterations": 10**9, "lanes": 4},
        {"memory_kib": "lots", "iterations": 3, "lanes": 4},
        [1, 2, 3],
        "not json",
    ],
)
def test_edited_key_settings_are_refused_in_one_sentence_before_any_work(tmp_path, params):
    v, _ = Vault.create(tmp_path / "v", PASSPHRASE, kdf=FAST_KDF)
    v.close()
    value = params if isinstance(params, str) else json.dumps(params)
    con = __import__("sqlite3").connect(tmp_path / "v" / "vault.db")
    with con:
        con.execute("UPDATE keyring SET params = ? WHERE name = 'passphrase'", (value,))
    con.close()
    with Vault.open(tmp_path / "v") as v, pytest.raises(KeySettingsTampered):
        v.unlock(PASSPHRASE)
    r = CliRunner().invoke(
        cli, ["--vault", str(tmp_path / "v"), "participant", "list"], env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    )
    assert r.exit_code != 0 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_lowered_key_settings_do_not_open_the_vault(tmp_path):
    """Lowering the cost (to speed up guessing) breaks the wrap's binding, even with the right passphrase."""
    v, _ = Vault.create(tmp_path / "v", PASSPHRASE, kdf=FAST_KDF)
    v.close()
    con = __import__("sqlite3").connect(tmp_path / "v" / "vault.db")
    with con:
        con.execute(
            "UPDATE keyring SET params = ? WHERE name = 'passphrase'",
            (json.dumps({"memory_kib": 8192, "iterations": 2, "lanes": 1}),),
        )
    con.close()
    with Vault.open(tmp_path / "v") as v, pytest.raises(WrongPassphrase):
        v.unlock(PASSPHRASE)


def test_a_vault_wrapped_before_the_cost_was_bound_still_opens_and_is_rebound(tmp_path):
    from fieldscribe.core import crypto

    v, recovery = Vault.create(tmp_path / "v", PASSPHRASE, kdf=FAST_KDF)
    # the master key, as the recovery key on paper gives it (no private attribute needed)
    rrow = v.db.execute("SELECT salt, wrapped FROM keyring WHERE name = 'recovery'").fetchone()
    raw = crypto.parse_recovery_key(recovery)
    assert raw is not None
    master = crypto.open_sealed(crypto.subkey(raw, "recovery-kek", rrow[0]), rrow[1], v.aad("keyring", "recovery"))
    row = v.db.execute("SELECT salt FROM keyring WHERE name = 'passphrase'").fetchone()
    kek = crypto.passphrase_key(PASSPHRASE, row[0], FAST_KDF)
    v.db.execute(
        "UPDATE keyring SET wrapped = ? WHERE name = 'passphrase'",
        (crypto.seal(kek, master, v.aad("keyring", "passphrase")),),
    )
    old = v.db.execute("SELECT wrapped FROM keyring WHERE name = 'passphrase'").fetchone()[0]
    v.close()
    with Vault.open(tmp_path / "v") as v:
        v.unlock(PASSPHRASE)
        assert v.db.execute("SELECT wrapped FROM keyring WHERE name = 'passphrase'").fetchone()[0] != old
    with Vault.open(tmp_path / "v") as v:
        v.unlock(PASSPHRASE)
    assert os.path.exists(tmp_path / "v" / "vault.db")
