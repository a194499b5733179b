"""Shared fixtures: real vaults with real crypto in temporary folders, and the bundled study."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldscribe.core.crypto import KdfParams
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import StudyFile, load_study
from fieldscribe.core.vault import Vault

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / "assets" / "guides"
STUDY_EN = GUIDES / "peer-support-daycare.en.yaml"
STUDY_ZH = GUIDES / "peer-support-daycare.zh.yaml"
PASSPHRASE = "correct horse battery staple"
# Real Argon2id, cheaper than the default so hundreds of unlocks stay quick; the default
# parameters are exercised by the CLI tests and by scripts/bench_vault.py.
FAST_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, lanes=1)


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the run: joining the split base model happens once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models_cache: Path) -> None:
    """No test may touch the real user's vault or inherit a passphrase from the shell."""
    for var in (
        "FIELDSCRIBE_VAULT",
        "FIELDSCRIBE_PASSPHRASE",
        "FIELDSCRIBE_NEW_PASSPHRASE",
        "FIELDSCRIBE_RECOVERY_KEY",
        "FIELDSCRIBE_INTERVIEWER",
        "FIELDSCRIBE_IDLE_LOCK",
        "FIELDSCRIBE_LIVE",
        "FIELDSCRIBE_UI_LANGUAGE",
        "FIELDSCRIBE_KEYMAP",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # no user keymap file
    monkeypatch.setenv("FIELDSCRIBE_MODELS_DIR", str(models_cache))


@pytest.fixture(scope="session")
def virtual_mic() -> dict[str, str]:
    """scripts/virtual-mic's clocked PulseAudio microphone; the environment that reaches it."""
    import os
    import re
    import subprocess

    proc = subprocess.run([str(ROOT / "scripts" / "virtual-mic"), "start"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"virtual microphone could not start:\n{proc.stderr}"
    match = re.search(r"export XDG_RUNTIME_DIR=(\S+)", proc.stdout)
    assert match, proc.stdout
    return {**os.environ, "XDG_RUNTIME_DIR": match.group(1)}


@pytest.fixture(scope="session")
def study_en() -> StudyFile:
    return load_study(STUDY_EN)


@pytest.fixture(scope="session")
def study_zh() -> StudyFile:
    return load_study(STUDY_ZH)


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def vault(vault_path: Path, study_en: StudyFile) -> Iterator[Vault]:
    v, _recovery = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, study_en)
    yield v
    v.close()


@pytest.fixture
def new_vault(vault_path: Path, study_en: StudyFile) -> Iterator[tuple[Vault, str]]:
    """A vault with its recovery key."""
    v, recovery = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, study_en)
    yield v, recovery
    v.close()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real OpenSSH server on loopback (tests/sync_servers.py), one per test module."""
    from .sync_servers import start_sshd

    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def webdav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real WebDAV server on loopback (tests/sync_servers.py), one per test module."""
    from .sync_servers import start_webdav

    server = start_webdav(tmp_path_factory.mktemp("webdav"))
    yield server
    server.stop()
