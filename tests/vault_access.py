"""What the attack tests share: reopening a vault, an intruder's plain-SQLite edit with no
key, and syncing/pulling through a folder store (the same calls the app and CLI make)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from fieldscribe.core.sync.push import SyncReport, sync
from fieldscribe.core.sync.receipts import PullReport, pull
from fieldscribe.core.sync.store import Credentials, connect
from fieldscribe.core.sync.trust import DeviceTrust
from fieldscribe.core.vault import Vault

from .conftest import PASSPHRASE


def reopen(path: Path, passphrase: str = PASSPHRASE) -> Vault:
    v = Vault.open(path)
    try:
        v.unlock(passphrase)
    except BaseException:
        v.close()
        raise
    return v


def raw_db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path / "vault.db")


def sql(folder: Path, statement: str, *args: Any) -> None:
    """An intruder's edit with the vault closed: plain SQLite, no key."""
    con = raw_db(folder)
    with con:
        con.execute(statement, args)
    con.close()


def sync_with(v: Vault, url: str, creds: Credentials | None = None) -> SyncReport:
    store = connect(url, creds or Credentials())
    try:
        return sync(v, store)
    finally:
        store.close()


def pull_from_store(
    url: str, identity: Path, out: Path, creds: Credentials | None = None, trust: DeviceTrust | None = None
) -> PullReport:
    store = connect(url, creds or Credentials())
    try:
        return pull(store, identity, out, trust=trust)
    finally:
        store.close()
