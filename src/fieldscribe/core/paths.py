"""Where things live. Resolved on demand, never at import: importing fieldscribe creates nothing."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAULT = "FIELDSCRIBE_VAULT"
ENV_PASSPHRASE = "FIELDSCRIBE_PASSPHRASE"
ENV_INTERVIEWER = "FIELDSCRIBE_INTERVIEWER"


def default_vault_path() -> Path:
    from platformdirs import user_data_path

    return user_data_path("fieldscribe", appauthor=False) / "vault"


def resolve_vault_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--vault beats FIELDSCRIBE_VAULT beats the platform's user data folder."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAULT)
    if env:
        return Path(env).expanduser()
    return default_vault_path()


def actor() -> str:
    """Who is acting, for the audit log: the interviewer if set, else the OS account."""
    name = os.environ.get(ENV_INTERVIEWER)
    if name:
        return name
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):
        # getpass.getuser() falls back to the pwd module, which only POSIX has;
        # os.getuid is POSIX-only too, so Windows gets a plain placeholder.
        getuid = getattr(os, "getuid", None)
        return f"uid:{getuid()}" if getuid is not None else "unknown"
