"""A connection test for the study store: what the interviewer runs after typing its address.

It does what a sync does first — connect with the saved credentials (the host key checked
against known_hosts, never accepted), then make and list this laptop's folder for the study —
and uploads nothing. The outcome is one word and one sentence. The whole test runs in a
helper thread bounded by a deadline, because a hung mount or a half-open TCP connection must
not hold the app for minutes; the thread never touches the vault, so one that outlives its
deadline only finishes talking to the store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from ..errors import FieldscribeError, HostKeyRejected, InvalidInput, StoreRefused, StoreUnreachable
from .store import Credentials, connect, parse_address

Outcome = Literal["reachable", "host_key", "refused", "unreachable", "invalid"]


@dataclass(frozen=True)
class StoreCheck:
    outcome: Outcome  # reachable | host_key (unknown or changed) | refused (login, permissions) | unreachable | invalid
    sentence: str  # what happened and what to do next
    address: str  # the store's address without any password


def check_store(url: str, creds: Credentials, folder: tuple[str, ...], *, timeout: float = 10.0) -> StoreCheck:
    """Connect to URL, create and list FOLDER (the study's and this laptop's folder, as sync
    uses them) below the store's root, within about TIMEOUT seconds. Never raises for what a
    store can answer; a bad address or a missing key file is ``invalid``."""
    try:
        display = parse_address(url).display
    except InvalidInput as exc:
        return StoreCheck("invalid", str(exc), url.strip())
    result: list[StoreCheck] = []

    def run() -> None:
        result.append(_attempt(url, creds, folder, display, timeout))

    worker = threading.Thread(target=run, name="fieldscribe-store-check", daemon=True)
    worker.start()
    worker.join(timeout + 5.0)  # connect() has its own timeout; this bounds everything after it
    if result:
        return result[0]
    return StoreCheck(
        "unreachable",
        f"The study store {display} did not answer within {timeout + 5.0:.0f} s; check the address and the "
        "network (fieldwork is unaffected).",
        display,
    )


def _attempt(url: str, creds: Credentials, folder: tuple[str, ...], display: str, timeout: float) -> StoreCheck:
    try:
        store = connect(url, creds, timeout=timeout)
    except HostKeyRejected as exc:
        return StoreCheck("host_key", str(exc), display)
    except StoreRefused as exc:
        return StoreCheck("refused", str(exc), display)
    except StoreUnreachable as exc:
        return StoreCheck("unreachable", str(exc), display)
    except InvalidInput as exc:
        return StoreCheck("invalid", str(exc), display)
    except FieldscribeError as exc:
        return StoreCheck("unreachable", str(exc), display)
    try:
        path = store.path(*folder)
        store.makedirs(path)
        entries = store.listdir(path)
    except FileNotFoundError:
        return StoreCheck(
            "refused", f"{display} has no folder where this laptop's bundles would go; check the address.", display
        )
    except StoreRefused as exc:
        return StoreCheck("refused", str(exc), display)
    except (StoreUnreachable, HostKeyRejected) as exc:
        return StoreCheck("unreachable", str(exc), display)
    except OSError as exc:  # a mounted folder that cannot hold ours (read-only, full)
        return StoreCheck(
            "refused",
            f"The folder for this laptop cannot be made on {display} ({exc.strerror or exc}); "
            "ask whoever runs the store.",
            display,
        )
    finally:
        store.close()
    held = f"; it already holds {len(entries)} file(s) from this laptop" if entries else ""
    return StoreCheck(
        "reachable", f"The study store {display} is reachable and this laptop's folder is ready{held}.", display
    )
