"""Where this laptop syncs to, and with which credentials — sealed in the vault.

The address comes from, in order: the command line, the vault (`fieldscribe remote set`),
the study file (`sync: remote:`). SSH keys and known_hosts are files the interviewer already
protects; a WebDAV password is the one secret, and it is kept sealed with the study key,
never in a config file.
"""

from __future__ import annotations

import os
from typing import Any

from .. import ledger
from ..errors import StoreNotSet
from ..guides import current_guide
from ..study_records import get_study_record, put_study_record
from ..vault import Vault
from .store import Credentials, parse_address

ENV_KEY, ENV_KNOWN_HOSTS, ENV_PASSWORD = "FIELDSCRIBE_SSH_KEY", "FIELDSCRIBE_KNOWN_HOSTS", "FIELDSCRIBE_STORE_PASSWORD"


def save_remote(
    vault: Vault,
    url: str,
    *,
    identity_file: str | None = None,
    known_hosts: str | None = None,
    password: str | None = None,
) -> None:
    address = parse_address(url)
    record = {"url": url.strip(), "identity_file": identity_file, "known_hosts": known_hosts, "password": password}
    ledger.check_study(vault)
    with vault.db.atomic():
        put_study_record(vault, "sync", record)
        ledger.update_study(vault, "sync.remote_set", "", store=address.display)


def saved_remote(vault: Vault) -> dict[str, Any]:
    saved: dict[str, Any] = get_study_record(vault, "sync") or {}
    return saved


def resolve(
    vault: Vault, url: str | None = None, identity_file: str | None = None, known_hosts: str | None = None
) -> tuple[str, Credentials]:
    saved = saved_remote(vault)
    url = url or saved.get("url") or current_guide(vault).study.sync.remote
    if not url:
        raise StoreNotSet()
    creds = Credentials(
        identity_file=identity_file or os.environ.get(ENV_KEY) or saved.get("identity_file"),
        known_hosts=known_hosts or os.environ.get(ENV_KNOWN_HOSTS) or saved.get("known_hosts"),
        password=os.environ.get(ENV_PASSWORD) or saved.get("password"),
    )
    return url, creds


def credentials_without_vault(identity_file: str | None = None, known_hosts: str | None = None) -> Credentials:
    """The analysis side's way into the store (it has no vault to remember one): the options
    given, else the environment."""
    return Credentials(
        identity_file=identity_file or os.environ.get(ENV_KEY),
        known_hosts=known_hosts or os.environ.get(ENV_KNOWN_HOSTS),
        password=os.environ.get(ENV_PASSWORD),
    )
