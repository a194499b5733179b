"""Withdrawal notices: how a participant's withdrawal reaches data that already left the laptop.

Crypto-shredding makes what is on the laptop unreadable, but a bundle already uploaded is
in the team's hands. When a participant withdraws, the laptop writes a notice naming the
pseudonym, their sessions and the bundles that carried them, signs it with the laptop's
bundle-signing key (the same key the team has pinned for that device folder) and uploads it
with the next ``sync``. ``bundle pull`` verifies it against that pinned key, deletes what it
unpacked from those bundles, never unpacks them afterwards, and tells the analyst to delete
any copy imported into a QDA project.

The notice holds pseudonyms, session ids and bundle names only — the store may read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..audit import now_iso
from ..study_records import get_study_record, put_study_record
from ..vault import Vault

FORMAT = "fieldscribe-withdrawal/1"
NOTICES = "notices"
SUFFIX = ".withdrawal.json"
RECORD = "withdrawal_notices"


@dataclass(frozen=True)
class Notice:
    participant: str
    sessions: tuple[str, ...]
    bundles: tuple[str, ...]
    study: str
    device_id: str
    device_public_key: str
    withdrawn_at: str


def make_notice(vault: Vault, study_id: str, pid: str, session_ids: list[str], bundles: list[str]) -> tuple[str, bytes]:
    """(file name, signed notice) for a withdrawal; signed with this laptop's bundle key."""
    from ..export.keys import device_key, public_hex

    signer = device_key(vault)
    body = {
        "format": FORMAT,
        "study": study_id,
        "device_id": vault.device_id,
        "participant": pid,
        "sessions": sorted(session_ids),
        "bundles": sorted(bundles),
        "withdrawn_at": now_iso(),
        "device_public_key": public_hex(signer),
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    data = json.dumps({"notice": text, "signature": signer.sign(text.encode()).hex()}, indent=2).encode()
    return f"{pid}-{stamp}{SUFFIX}", data


def parse_notice(data: bytes) -> tuple[Notice, str, bytes] | None:
    """The notice, the signed text and the signature, if it is well formed (not yet trusted)."""
    try:
        outer = json.loads(data)
        text = outer["notice"]
        signature = bytes.fromhex(outer["signature"])
        body = json.loads(text)
        notice = Notice(
            str(body["participant"]),
            tuple(map(str, body["sessions"])),
            tuple(map(str, body["bundles"])),
            str(body["study"]),
            str(body["device_id"]),
            str(body["device_public_key"]),
            str(body["withdrawn_at"]),
        )
        if body.get("format") != FORMAT or not isinstance(text, str):
            return None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return notice, text, signature


def verify_notice(data: bytes, device_key_hex: str) -> Notice | None:
    """The notice if it is signed by DEVICE_KEY_HEX (the key pinned for its folder), else None."""
    parsed = parse_notice(data)
    if parsed is None:
        return None
    notice, text, signature = parsed
    if notice.device_public_key.lower() != device_key_hex.lower():
        return None
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(device_key_hex)).verify(signature, text.encode())
    except (ValueError, InvalidSignature):
        return None
    return notice


# -- the laptop's queue of notices to upload ----------------------------------------------------------------
def pending(vault: Vault) -> list[dict[str, Any]]:
    """Notices written on this laptop: {name, data, uploaded_at}. Sealed with the study key and
    part of the study's sealed history, so nobody can drop one from the queue unnoticed. The
    callers that change the queue seal the study history in the same transaction."""
    # a notice dropped from the queue, or an older queue put back, is tampering (the history)
    return list(get_study_record(vault, RECORD) or [])


def _save(vault: Vault, items: list[dict[str, Any]]) -> None:
    put_study_record(vault, RECORD, items)


def queue(vault: Vault, name: str, data: bytes) -> None:
    _save(vault, [*pending(vault), {"name": name, "data": data.decode(), "uploaded_at": None}])


def mark_uploaded(vault: Vault, name: str) -> None:
    _save(
        vault,
        [{**n, "uploaded_at": n["uploaded_at"] or (now_iso() if n["name"] == name else None)} for n in pending(vault)],
    )
