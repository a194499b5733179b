"""Data minimisation: once the analysis team has confirmed it holds a session's de-identified
bundle, the laptop no longer needs the raw audio and full transcript. Purging crypto-shreds
them (the session key's wraps are destroyed, so the vault itself can no longer read them), removes
the audio file, and keeps the audit trail and the participant's consent record.

What purge cannot do: a copy of the vault folder taken *before* the purge still holds the
wrapped session key, and the passphrase still opens it. SECURITY.md says what would close that
gap and why the laptop does not try."""

from __future__ import annotations

from .. import ledger, sessions
from ..audit import now_iso
from ..errors import ConfirmationMismatch, InvalidInput
from ..export.outbox import list_exports, newest_bundles, stored_receipt
from ..recordings import audio_path
from ..vault import Vault
from .push import receipt_keys
from .receipts import verify_receipt


def purgeable(vault: Vault) -> list[str]:
    """Sessions whose newest bundle carries a receipt that verifies *now*: signed by a receipt
    key the study file lists, for exactly that bundle and its sealed manifest hash. A status
    column says what happened, but anyone with the file can edit it; destroying data waits
    for evidence."""
    return sorted(verified_received(vault))


def verified_received(vault: Vault) -> set[str]:

    trusted = receipt_keys(vault)
    exports = list_exports(vault)
    newest = newest_bundles(exports)
    proven: set[str] = set()
    for e in exports:
        raw = stored_receipt(vault, e.name)
        if not e.received_at or raw is None or not trusted:
            continue
        if (
            verify_receipt(
                raw, bundle=e.name, bundle_sha256=e.sha256, manifest_sha256=e.manifest_sha256, trusted_keys=trusted
            )
            is None
        ):
            continue
        proven |= {sid for sid in e.sessions if newest.get(sid) == e.name}
    return {s.id for s in sessions.list_sessions(vault) if s.status == sessions.RECEIVED and s.id in proven}


def confirmation_phrase(session_ids: list[str]) -> str:
    return f"purge {len(session_ids)} session" + ("" if len(session_ids) == 1 else "s")


def purge_received(vault: Vault, confirmation: str) -> list[str]:
    """Purge every received session; the typed confirmation must match
    :func:`confirmation_phrase`, because this cannot be undone."""
    ids = purgeable(vault)
    if not ids:
        raise InvalidInput(
            "No session has been confirmed as received by the analysis team yet; run "
            "`fieldscribe sync` to collect receipts first. Nothing was purged."
        )
    expected = confirmation_phrase(ids)
    if " ".join(confirmation.split()).lower() != expected:
        raise ConfirmationMismatch(expected)
    for sid in ids:  # nothing is destroyed on a history someone edited (e.g. a status set in SQL)
        ledger.check_session(vault, sid)
    with vault.db.atomic():
        for sid in ids:
            transcripts = [r[0] for r in vault.db.execute("SELECT id FROM transcripts WHERE session_id = ?", (sid,))]
            for tid in transcripts:
                vault.db.execute("DELETE FROM transcript_segments WHERE transcript_id = ?", (tid,))
            vault.db.execute("UPDATE transcripts SET state = 'purged', settings = '{}' WHERE session_id = ?", (sid,))
            vault.db.execute("DELETE FROM session_events WHERE session_id = ?", (sid,))
            vault.db.execute("DELETE FROM redactions WHERE session_id = ?", (sid,))
            vault.db.execute(
                "UPDATE recordings SET state = 'purged', updated_at = ? WHERE session_id = ?", (now_iso(), sid)
            )
            vault.db.execute("DELETE FROM session_keys WHERE session_id = ?", (sid,))
            sessions.set_status(vault, sid, sessions.PURGED)
            vault.log("session.purged", sid, reason="received by the analysis team")
    for sid in ids:  # after the commit: a crash in between leaves only unreadable ciphertext
        audio_path(vault, sid).unlink(missing_ok=True)
    vault.shred_residue()
    return ids
