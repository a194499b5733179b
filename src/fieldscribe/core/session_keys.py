"""Session keys, unwrapped.

Each session has its own key (for its audio, timeline and transcript), wrapped once under the
data key of every participant in it, so that the session stays readable through any member
who has not withdrawn. This module sits low — below the history ledger, which seals each
session's rows with that key, and below the sessions module, which creates the wraps.
"""

from __future__ import annotations

from .errors import InvalidTransition
from .vault import Vault


def unwrap(vault: Vault, session_id: str) -> bytes:
    """The key of SESSION_ID (already a normalised id), through any participant who has not
    withdrawn."""
    rows = vault.db.execute(
        "SELECT participant_id, wrapped FROM session_keys WHERE session_id = ? ORDER BY participant_id",
        (session_id,),
    ).fetchall()
    if not rows:
        raise InvalidTransition(f"Session {session_id} can no longer be read: every participant in it has withdrawn.")
    pid, wrapped = rows[0]
    return vault.unseal_raw(
        vault.participant_key(pid), wrapped, ("session-key", session_id, pid), f"key of session {session_id}"
    )
