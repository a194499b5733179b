"""Portability: nothing POSIX-only at import time, and the vault lock through filelock.

Windows and macOS are not run in CI (see README, "Platforms"); what can be checked here is that
every module imports with the POSIX-only standard modules gone, as they are on Windows, and that
the cross-platform lock keeps the behaviour the app relies on.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fieldscribe
from fieldscribe.core import paths
from fieldscribe.core.errors import VaultLocked
from fieldscribe.core.vault import HOLDER_NAME, LOCK_NAME, Vault

from .conftest import FAST_KDF, PASSPHRASE

# Standard modules Windows does not have (tty and pty import termios).
POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource")
PACKAGE_DIR = Path(fieldscribe.__file__).parent


def _all_modules() -> list[str]:
    names = [fieldscribe.__name__]
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix=f"{fieldscribe.__name__}."):
        names.append(info.name)
    return sorted(names)


def test_the_walk_finds_the_whole_package():
    names = _all_modules()
    assert {"fieldscribe.core.vault", "fieldscribe.core.paths", "fieldscribe.cli", "fieldscribe.tui.app"} <= set(names)
    assert len(names) > 40


def test_every_module_imports_without_posix_only_modules():
    code = textwrap.dedent(
        f"""
        import importlib, sys, traceback
        for name in {POSIX_ONLY!r}:
            sys.modules[name] = None   # "import fcntl" now raises ImportError, as on Windows
        failed = []
        for name in {_all_modules()!r}:
            try:
                importlib.import_module(name)
            except BaseException:
                failed.append(name + ":\\n" + traceback.format_exc(limit=-3))
        leaked = [m for m in {POSIX_ONLY!r} if sys.modules.get(m) is not None]
        print("\\n".join(failed))
        print("leaked:", leaked)
        sys.exit(1 if failed or leaked else 0)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_module_level_posix_only_import_in_the_source():
    """A plain `import fcntl` at the top of a module, which the subprocess test would also catch,
    named here with its file and line. Guarded imports (inside a function, or a try/if) are fine."""
    found = []
    for file in sorted(PACKAGE_DIR.rglob("*.py")):
        for node in ast.parse(file.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                mods = [node.module.split(".")[0]]
            else:
                continue
            found += [f"{file.relative_to(PACKAGE_DIR)}:{node.lineno}: {m}" for m in mods if m in POSIX_ONLY]
    assert not found, found


def test_actor_without_pwd_or_getuid(monkeypatch):
    """getpass.getuser() ends in the pwd module and os.getuid is POSIX-only: neither may crash it."""
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "pwd", None)
    monkeypatch.delattr(os, "getuid", raising=False)
    assert paths.actor() == "unknown"
    monkeypatch.setenv("USERNAME", "field-laptop")  # what Windows sets
    assert paths.actor() == "field-laptop"
    monkeypatch.setenv(paths.ENV_INTERVIEWER, "Ana")
    assert paths.actor() == "Ana"


def test_default_vault_path_comes_from_platformdirs(monkeypatch):
    from platformdirs import user_data_path

    assert paths.default_vault_path() == user_data_path("fieldscribe", appauthor=False) / "vault"
    assert paths.resolve_vault_path() == paths.default_vault_path()


def _open_elsewhere(vault_path: Path) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        f"""
        import sys
        from fieldscribe.core.errors import VaultLocked
        from fieldscribe.core.vault import Vault
        try:
            Vault.open({str(vault_path)!r}).close()
        except VaultLocked as e:
            print(e); sys.exit(3)
        """
    )
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)


def test_lock_is_exclusive_names_its_holder_and_is_released_on_close(vault_path):
    vault, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    holder = f"pid {os.getpid()} on {socket.gethostname()}"
    try:
        for _ in range(2):  # a refused opener leaves the holder's name in place for the next one
            proc = _open_elsewhere(vault_path)
            assert proc.returncode == 3, proc.stderr
            assert holder in proc.stdout
        with pytest.raises(VaultLocked, match=rf"\({holder}\)"):
            Vault.open(vault_path)  # a second opener in the same process is refused too
        assert (vault_path / HOLDER_NAME).read_text() == holder
        if os.name == "posix":
            for name in (LOCK_NAME, HOLDER_NAME):
                assert stat.S_IMODE((vault_path / name).stat().st_mode) == 0o600, name
    finally:
        vault.close()
    assert (vault_path / HOLDER_NAME).read_text() == ""
    assert _open_elsewhere(vault_path).returncode == 0
    with Vault.open(vault_path) as again:
        again.unlock(PASSPHRASE)
        assert (vault_path / HOLDER_NAME).read_text() == holder
