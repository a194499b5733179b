"""Hand-over: a participant moves from one laptop of the study team to another for the next wave.

``hand_over`` gathers everything this laptop keeps about one participant — the row (group,
site, enrolment time), every sealed record (identity, eligibility, baseline, compensation,
notes, identifiers), the full consent history as it was taken, and the replacement-table
entries that are theirs (their own identifiers, and what only their interviews put in the
table) — into one JSON payload that names the study, the sending laptop (device id and
signing key), the receiving laptop, the time and a fresh hand-over id. The payload is signed
with this laptop's device key and the whole is encrypted with age to the receiving member's
own age recipient from the team file, and to nobody else (not the analysis team): the file
can travel through the store or on a USB stick. The pseudonym stays the same everywhere.

What the sender does with its own copy is the study's decision (``team: hand_over:`` in the
study file, ``keep`` unless it says ``shred``; no flag overrides it):

keep
    Everything stays; a sealed study record notes that the participant was handed over to
    that laptop (``participant show`` says so).
shred
    Destroyed here: the participant's identity record (name, contact, enrolment notes), their
    quick notes, eligibility screening, compensation and identifier list — the rows are
    deleted and the WAL checkpointed (the vault runs ``secure_delete``, so the pages are
    zeroed). Kept: the pseudonym row (group, site), the participant's data key (every session
    key of their interviews recorded here is wrapped under it, so those stay readable and
    exportable), their baseline answers (the export's case attributes, generalised) and
    their consent history (what those recordings were made and may be shared under), and
    the study-wide replacement table (it de-identifies the interviews that stay). A
    participant with an interview recorded here but not yet reviewed cannot be handed over
    with shred: the review needs their name. A participant shredded here stays enrolled (so
    the interviews here stay in exports) but cannot be handed over again from here.

``receive`` takes such a file in: it must be sealed to this laptop's age identity, signed by
a laptop in this laptop's team file (``team.member_by_key``), for this study and this
laptop, and never imported before (the hand-over id is remembered). The participant is
enrolled here under the same pseudonym (outside this laptop's block: they keep their
pseudonym across waves) with their consent history as it was, sealed with this vault's keys.
Replacement entries are merged into this laptop's study-wide table without overwriting a
different descriptor already there (this laptop's descriptor stays, so its transcripts stay
consistent); every received entry is also added to the participant's own identifier list, so
their interviews here are reviewed with it and their withdrawal here removes what only they
brought. A participant received here was given their pseudonym by another laptop, so it does
not count as a number this laptop gave out (``team.numbers_given``).

A pseudonym already on this laptop is taken in only as a *hand-back*: this laptop's latest
hand-over of that participant was sent by it, to the very laptop that now sends them back, and
the file was made after that hand-over (``created_at``; an older file, made before, would roll
the record back). Any other member — one that never held them, one this laptop handed them to
before, or the end of a longer chain A→B→C (C hands them back to B, B to A) — is refused, as
are someone withdrawn here and another participant under that pseudonym. A hand-back replaces
the records here with the received ones, except that notes and identifiers this laptop added
after handing them over are kept (a note is kept unless the same note came back; an identifier
unless one with the same text did; notes stay oldest first), and consent decisions not yet
here are appended.

Through the store (``hand_over(..., via_store=True)``, ``participant hand-over --via-store``):
the sealed file is queued in the vault, in the same transaction that records the hand-over and
(under ``shred``) deletes the record here, so a shred never happens without the file kept
durably; :func:`carry` (run by :func:`exchange` at every sync) uploads it into the receiving
laptop's inbox on the store, ``STUDY/DEVICE/handovers/NAME`` (age ciphertext for that laptop
only: the store learns a pseudonym and two device ids from the name, nothing else), and on the
receiving laptop takes in each new file there with :func:`receive`'s checks, then removes it.
A file refused there is reported once, in one sentence, left on the store and not tried again
(unless it changes, or this laptop joins a newer team file).

Withdrawal reaches them wherever their data is: a participant who was handed over (either
way) and is withdrawn on one laptop gets a signed withdrawal notice (``sync/notices.py``'s
format, with no bundles) queued by :func:`tell_peers` (``participant withdraw`` calls it; so
does :func:`exchange`); ``fieldscribe sync`` uploads it to this laptop's folder on the store,
and :func:`exchange` on the other laptops reads the notices in the other members' folders,
verifies each against the signing key the team file lists for that folder, and withdraws the
participant there (``participant.withdrawn_elsewhere``) if they hold them and a hand-over links
the two laptops: only a notice from a laptop this one handed them to or received them from, and
only one whose withdrawal time is later than the hand-over that first linked the two (by the
partner's clock for a hand-over received, by this laptop's for one sent) is acted on; any other
member's notice for them is not even read. Along a chain A→B→C, C's withdrawal reaches B, and B,
having withdrawn them, queues its own notice and uploads it in the same sync, which A then acts on.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import posixpath
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import ledger, participants, sessions, team, withdrawal
from .audit import now_iso
from .consent import ConsentDecision, consent_history
from .deid.lists import participant_identifiers, replacement_table, save_table, table_origins
from .errors import FieldscribeError, InvalidInput, StoreRefused
from .export.keys import device_key, public_hex
from .guides import current_guide
from .sanitise import printable
from .study_records import get_study_record, put_study_record
from .sync import notices
from .sync.receipts import safe_name
from .sync.store import Store
from .vault import Vault

FORMAT = "fieldscribe-handover/1"
CONTEXT = b"fieldscribe-handover/1\n"  # what the signature covers, before the payload's text
SUFFIX = ".handover.age"
RECORD = team.HANDOVER_RECORD  # study record: {"sent": [...], "received": [...]}
OUTBOX = "handover_outbox"  # study record: hand-overs queued for the store [{name, to, data, ...}]
INBOX = "handover_inbox"  # study record: files met in this laptop's inbox {"taken": {...}, "refused": {...}}
HANDOVERS = "handovers"  # the receiving laptop's inbox on the store: STUDY/DEVICE/handovers/NAME
MAX_FILE = 16 * 1024 * 1024
SHREDDED_KINDS = ("identity", participants.NOTES, "eligibility", "compensation", "identifiers")
NOTICE_LIMIT = 64 * 1024
_NOT_REVIEWED = (sessions.RECORDING, sessions.RECORDED, sessions.TRANSCRIBED)


class HandOverRefused(InvalidInput):
    """A hand-over that cannot be made or taken in, in one sentence."""


@dataclass(frozen=True)
class HandOver:
    name: str  # the file name to carry
    data: bytes  # age-encrypted to the receiving laptop
    participant: str
    to_device: str
    mode: str  # "kept" or "shredded"
    handover_id: str


@dataclass
class Received:
    participant: str
    from_device: str
    handover_id: str
    handed_back: bool = False
    name: str = ""  # the file it came in (in this laptop's inbox on the store)
    table_added: int = 0
    table_conflicts: list[str] = field(default_factory=list)  # words whose descriptor here differs


# -- the record of hand-overs (sealed with the study key, part of the study's history) ------------
def _record(vault: Vault) -> dict[str, list[dict[str, Any]]]:
    held = get_study_record(vault, RECORD)
    if not isinstance(held, dict):
        return {"sent": [], "received": []}
    return {"sent": list(held.get("sent", [])), "received": list(held.get("received", []))}


def history(vault: Vault, pid: str) -> list[dict[str, Any]]:
    """PID's hand-overs from and to this laptop, oldest first ({direction, device, at, mode, id})."""
    rec = _record(vault)
    out = [{"direction": "sent", "device": e["to"], **e} for e in rec["sent"] if e["participant"] == pid]
    out += [{"direction": "received", "device": e["from"], **e} for e in rec["received"] if e["participant"] == pid]
    return sorted(out, key=lambda e: str(e["at"]))


def shredded_here(vault: Vault, pid: str) -> bool:
    """Whether PID's personal record was shredded here by a hand-over (and not handed back since)."""
    last = history(vault, pid)
    return bool(last) and last[-1]["direction"] == "sent" and last[-1].get("mode") == "shredded"


def _study_id(vault: Vault) -> str:
    return current_guide(vault).study.study.id


def mode(vault: Vault) -> str:
    """``keep`` or ``shred``, as the current study file decides."""
    return current_guide(vault).study.team.hand_over


# -- sending ------------------------------------------------------------------------------------------
def _sessions_of(vault: Vault, pid: str) -> list[str]:
    return [
        r[0]
        for r in vault.db.execute(
            "SELECT session_id FROM session_participants WHERE participant_id = ? ORDER BY session_id", (pid,)
        )
    ]


def _their_table(vault: Vault, pid: str) -> dict[str, str]:
    """The replacement-table entries that are PID's: their own identifiers (name, contact,
    what the interviewer added) and what only their interviews put in the table."""
    table, origins = replacement_table(vault), table_origins(vault)
    own = {i.text for i in participant_identifiers(vault, pid)}
    theirs = set(participants.sessions_keyed_only_by(vault, pid))  # their own interviews, not focus groups
    return {o: d for o, d in table.items() if o in own or (origins.get(o) and set(origins[o]) <= theirs)}


def handover_payload(vault: Vault, pid: str, receiver: team.Member, handover_id: str) -> dict[str, Any]:
    """What a hand-over of PID to RECEIVER carries, before it is signed and sealed (public so
    that the tests can forge one the way a hostile team member would)."""
    key = vault.participant_key(pid)
    row = vault.db.execute("SELECT study_group, enrolled_at, site FROM participants WHERE id = ?", (pid,)).fetchone()
    kinds = [
        r[0]
        for r in vault.db.execute(
            "SELECT kind FROM participant_records WHERE participant_id = ? ORDER BY kind", (pid,)
        ).fetchall()
    ]
    return {
        "format": FORMAT,
        "handover_id": handover_id,
        "study": _study_id(vault),
        "sender_device": vault.device_id,
        "sender_key": public_hex(device_key(vault)),
        "receiver_device": receiver.device_id,
        "created_at": now_iso(),
        "participant": {
            "id": pid,
            "group": row[0],
            "enrolled_at": row[1],
            "site": vault.open_json(vault.study_key, row[2], "participant", pid, "site") if row[2] else None,
            "records": {k: participants.get_record(vault, key, pid, k) for k in kinds},
            "consents": [asdict(d) for d in consent_history(vault, pid)],
            "replacements": _their_table(vault, pid),
        },
    }


def hand_over(
    vault: Vault,
    pid: str,
    to_device_prefix: str,
    *,
    deliver: Callable[[str, bytes], None] | None = None,
    via_store: bool = False,
) -> HandOver:
    """Seal PID for the team member whose device id starts with TO_DEVICE_PREFIX, then keep or
    shred the copy here as the study file decides. DELIVER(name, data), when given, writes the
    file before anything here changes (a shred never happens without the file written).

    VIA_STORE queues the sealed file in the vault instead (a sealed study record, ``OUTBOX``),
    in the same transaction that records the hand-over and, under ``shred``, deletes the
    record here: the file is durable in the vault before anything is shredded, and only the
    receiving laptop can open it. :func:`exchange` uploads it at the next sync into the
    receiver's inbox on the store (``STUDY/DEVICE/handovers/NAME``); the queued copy stays in
    the vault after the upload (it is ciphertext for the receiver only), so the participant is
    never only in a file on the store."""
    if via_store and deliver is not None:
        raise InvalidInput("A hand-over goes either through the store or into a file, not both.")
    pid = participants.require_active(vault, pid)
    receiver = team.member(vault, to_device_prefix)
    if via_store and not safe_name(receiver.device_id):
        raise HandOverRefused(f"{receiver.short_id}'s device id cannot name a folder on the store; use a file.")
    if receiver.device_id == vault.device_id:
        raise HandOverRefused(f"{receiver.short_id} is this laptop; hand {pid} over to another laptop of the team.")
    if shredded_here(vault, pid):
        raise HandOverRefused(
            f"{pid} was handed over with their record shredded here; hand them over from the laptop that has them now."
        )
    shred = mode(vault) == "shred"
    if shred:
        pending = [s for s in _sessions_of(vault, pid) if sessions.get_session(vault, s).status in _NOT_REVIEWED]
        if pending:
            raise HandOverRefused(
                f"{pid}'s interview {', '.join(pending)} is not reviewed yet and this study shreds the record "
                "here on hand-over; review it first, since the review needs their name."
            )
    ledger.check_participant(vault, pid)
    ledger.check_study(vault)
    from pyrage import encrypt, x25519

    handover_id = uuid.uuid4().hex
    text = team.canonical(handover_payload(vault, pid, receiver, handover_id))
    signature = device_key(vault).sign(CONTEXT + text.encode()).hex()
    plain = json.dumps({"format": FORMAT, "payload": text, "signature": signature}).encode()
    data = encrypt(plain, [x25519.Recipient.from_str(receiver.age_recipient)])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")  # unique on the store, too
    name = f"{pid}-to-{receiver.short_id}-{stamp}{SUFFIX}"
    done = "shredded" if shred else "kept"
    if deliver is not None:
        deliver(name, data)
    rec = _record(vault)
    rec["sent"].append({"participant": pid, "to": receiver.device_id, "at": now_iso(), "mode": done, "id": handover_id})
    with vault.db.atomic():
        if shred:
            gone = [
                r[0]
                for r in vault.db.execute(
                    "SELECT kind FROM participant_records WHERE participant_id = ?", (pid,)
                ).fetchall()
                if r[0] in SHREDDED_KINDS
            ]
            vault.db.execute(
                f"DELETE FROM participant_records WHERE participant_id = ? AND kind IN ({','.join('?' * len(SHREDDED_KINDS))})",
                (pid, *SHREDDED_KINDS),
            )
            ledger.update_participant(vault, pid, "participant.record_shredded", pid, records=sorted(gone))
        put_study_record(vault, RECORD, rec)
        if via_store:  # durable in the vault before (in the same transaction as) any shred
            queued = {"name": name, "to": receiver.device_id, "data": base64.b64encode(data).decode()}
            put_study_record(vault, OUTBOX, [*queued_hand_overs(vault), {**queued, "uploaded_at": None}])
        ledger.update_study(
            vault,
            "participant.handed_over",
            pid,
            to=receiver.short_id,
            mode=done,
            handover=handover_id,
            via="store" if via_store else "file",
        )
    if shred:
        vault.shred_residue()
    return HandOver(name, data, pid, receiver.device_id, done, handover_id)


# -- receiving ----------------------------------------------------------------------------------------
def _refuse(why: str) -> HandOverRefused:
    return HandOverRefused(f"This hand-over {why}; refused.")


def _open(vault: Vault, data: bytes) -> tuple[dict[str, Any], str, str]:
    """(payload, its text, signature hex) from DATA, decrypted with this laptop's age identity."""
    from pyrage import DecryptError, decrypt, x25519

    if len(data) > MAX_FILE:
        raise _refuse(f"file is larger ({len(data):,} bytes) than any fieldscribe writes")
    if not data.startswith(b"age-encryption.org/v1\n"):
        raise HandOverRefused("This is not a fieldscribe hand-over file (it is not age-encrypted); check the file.")
    try:
        plain = decrypt(data, [x25519.Identity.from_str(team.device_age_identity(vault))])
    except DecryptError as exc:
        if "no matching" in str(exc).lower() or "matching keys" in str(exc).lower():
            raise HandOverRefused(
                "This hand-over was sealed for another laptop; only the laptop it was handed over to can open it."
            ) from None
        raise HandOverRefused("This hand-over file is damaged or was altered (it does not decrypt); refused.") from None
    try:
        outer = json.loads(plain)
        text, signature = outer["payload"], outer["signature"]
        if outer.get("format") != FORMAT or not (isinstance(text, str) and isinstance(signature, str)):
            raise ValueError("not a hand-over")
        body = json.loads(text)
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError("not a hand-over")
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeError):
        raise HandOverRefused("This is not a fieldscribe hand-over (fieldscribe-handover/1); check the file.") from None
    return body, text, signature


def _verified(vault: Vault, data: bytes) -> tuple[dict[str, Any], team.Member]:
    body, text, signature = _open(vault, data)
    sender = team.member_by_key(vault, str(body.get("sender_key", "")), what="This hand-over")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(sender.device_key)).verify(
            bytes.fromhex(signature), CONTEXT + text.encode()
        )
    except (ValueError, InvalidSignature):
        raise _refuse(f"is not validly signed by the laptop it names ({sender.short_id}); it was altered") from None
    if body.get("sender_device") != sender.device_id:
        raise _refuse(f"names a device id other than the one the team file lists for its key ({sender.short_id})")
    if sender.device_id == vault.device_id:
        raise _refuse("was made on this laptop")
    if body.get("study") != _study_id(vault):
        raise _refuse(f"belongs to another study ({printable(str(body.get('study'))[:40])})")
    if body.get("receiver_device") != vault.device_id:
        raise _refuse("is addressed to another laptop")
    return body, sender


def _participant_doc(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    doc = body.get("participant")
    try:
        if not isinstance(doc, dict):
            raise ValueError("no participant")
        pid = participants.normalise_pseudonym(str(doc["id"]))
        if pid != doc["id"] or not isinstance(doc["group"], str) or not isinstance(doc["records"], dict):
            raise ValueError("bad participant")
        if not isinstance(doc["consents"], list) or not isinstance(doc["replacements"], dict):
            raise ValueError("bad lists")
        for d in doc["consents"]:
            ConsentDecision(**d)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in doc["replacements"].items()):
            raise ValueError("bad table")
        if not all(isinstance(k, str) and k.isidentifier() for k in doc["records"]):
            raise ValueError("bad record kinds")
    except (ValueError, KeyError, TypeError, InvalidInput):
        raise _refuse("holds no valid participant") from None
    return pid, doc


def receive(vault: Vault, data: bytes) -> Received:
    """Take in a hand-over made for this laptop by a laptop of its team (see the module doc)."""
    body, sender = _verified(vault, data)
    pid, doc = _participant_doc(body)
    handover_id = str(body.get("handover_id", ""))
    rec = _record(vault)
    if any(e["id"] == handover_id for e in rec["received"]) or any(e["id"] == handover_id for e in rec["sent"]):
        raise _refuse(f"of {pid} ({handover_id[:8]}) was already imported on this laptop")
    study = current_guide(vault).study
    if doc["group"] not in study.group_ids:
        raise _refuse(f"puts {pid} in the group {printable(doc['group'][:40])}, which this study file does not have")
    row = vault.db.execute("SELECT status FROM participants WHERE id = ?", (pid,)).fetchone()
    handed_back = row is not None
    if row is not None:
        if row[0] == participants.WITHDRAWN:
            raise _refuse(
                f"is of {pid}, who withdrew on this laptop; their withdrawal reaches the sender at the next sync"
            )
        _check_hand_back(vault, pid, sender, body)
    result = Received(pid, sender.device_id, handover_id, handed_back)
    if handed_back:
        ledger.check_participant(vault, pid)
    ledger.check_study(vault)
    consents = [ConsentDecision(**d) for d in doc["consents"]]
    kept: dict[str, list[Any]] = {}  # a hand-back: notes and identifiers added here since, kept
    with vault.db.atomic():
        if handed_back:
            key = vault.participant_key(pid)
            have = {(d.item_id, d.at, d.given, d.taken_by, d.note) for d in consent_history(vault, pid)}
            consents = [d for d in consents if (d.item_id, d.at, d.given, d.taken_by, d.note) not in have]
            kept = _added_here(vault, key, pid, doc["records"])
            vault.db.execute("DELETE FROM participant_records WHERE participant_id = ?", (pid,))
            vault.db.execute("UPDATE participants SET study_group = ? WHERE id = ?", (doc["group"], pid))
        else:
            number = int(pid[1:])
            taken = vault.db.execute("SELECT 1 FROM participants WHERE seq = ?", (number,)).fetchone()
            vault.db.table("participants").insert(
                {
                    "id": pid,
                    "seq": number if taken is None else _free_seq(vault),
                    "study_group": doc["group"],
                    "status": participants.ENROLLED,
                    "enrolled_at": str(doc.get("enrolled_at") or now_iso()),
                    "withdrawn_at": None,
                    "site": None,
                }
            )
            key = vault.new_participant_key(pid)
        site = doc.get("site")
        vault.db.execute(
            "UPDATE participants SET site = ? WHERE id = ?",
            (vault.seal_json(vault.study_key, site, "participant", pid, "site") if site else None, pid),
        )
        records = dict(doc["records"])
        for kind, extra in kept.items():
            records[kind] = [*(records.get(kind) or []), *extra]
        if participants.NOTES in kept:
            records[participants.NOTES].sort(key=lambda n: str(n.get("at", "")) if isinstance(n, dict) else "")
        table, origins = replacement_table(vault), table_origins(vault)
        idents = list(records.get("identifiers") or [])
        known = {str(i.get("text")) for i in idents if isinstance(i, dict)}
        for original, descriptor in doc["replacements"].items():
            if original not in table:
                table[original] = descriptor
                result.table_added += 1
            elif table[original] != descriptor:
                result.table_conflicts.append(original)
            if original not in known:
                idents.append({"text": original, "descriptor": descriptor, "kind": "identifier"})
                known.add(original)
        if idents:
            records["identifiers"] = idents
        for kind, value in records.items():
            participants.put_record(vault, key, pid, kind, value)
        for d in consents:
            vault.db.table("consents").insert(
                {
                    "participant_id": pid,
                    "item_id": d.item_id,
                    "sealed": vault.seal_json(key, asdict(d), "consent", pid, d.item_id, d.at),
                    "recorded_at": d.at,
                }
            )
        save_table(vault, table, origins=origins)
        rec["received"].append(
            {
                "participant": pid,
                "from": sender.device_id,
                "at": now_iso(),
                "id": handover_id,
                "created_at": str(body.get("created_at", "")),  # the sender's clock, for its withdrawal notices
            }
        )
        put_study_record(vault, RECORD, rec)
        ledger.update_participant(
            vault,
            pid,
            "participant.received",
            pid,
            **{"from": sender.short_id},
            handover=handover_id,
            handed_back=handed_back,
            consents=len(consents),
        )
        ledger.update_study(vault, "handover.imported", pid, table_added=result.table_added)
    return result


def _when(text: object) -> datetime | None:
    """An ISO time (as ``now_iso`` writes it) as an aware datetime, or None."""
    try:
        at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _check_hand_back(vault: Vault, pid: str, sender: team.Member, body: dict[str, Any]) -> None:
    """PID is held here already: take them in only as a hand-back from the laptop this laptop
    last handed them to, made after that hand-over (an older copy would roll them back)."""
    last = history(vault, pid)[-1] if history(vault, pid) else None
    if last is None or last["direction"] != "sent":
        raise _refuse(f"is of {pid}, but this laptop holds another participant under that pseudonym")
    if last["device"] != sender.device_id:
        raise _refuse(
            f"is of {pid}, whom this laptop last handed over to {str(last['device'])[:8]}, not to the sender "
            f"{sender.short_id}; only {str(last['device'])[:8]} can hand them back"
        )
    made, handed = _when(body.get("created_at")), _when(last["at"])
    if made is None or handed is None or made <= handed:
        raise _refuse(
            f"of {pid} was made before this laptop last handed them to {sender.short_id} (it is older than that "
            "hand-over), so it would roll their record back"
        )


def _added_here(vault: Vault, key: bytes, pid: str, received: dict[str, Any]) -> dict[str, list[Any]]:
    """The notes and identifiers this laptop holds for PID that the hand-back RECEIVED lacks
    (added here after handing them over): kept, not replaced."""
    out: dict[str, list[Any]] = {}
    for kind in (participants.NOTES, "identifiers"):
        mine = participants.get_record(vault, key, pid, kind) or []
        theirs = received.get(kind) or []
        if not isinstance(mine, list) or not isinstance(theirs, list):
            continue
        if kind == "identifiers":  # an identifier is the same when its text is
            have = {str(i.get("text")) for i in theirs if isinstance(i, dict)}
            extra = [i for i in mine if isinstance(i, dict) and str(i.get("text")) not in have]
        else:  # a note when all of it (text, time, author) is
            seen = {json.dumps(n, sort_keys=True) for n in theirs}
            extra = [n for n in mine if json.dumps(n, sort_keys=True) not in seen]
        if extra:
            out[kind] = extra
    return out


def _free_seq(vault: Vault) -> int:
    """A seq above every seq and number in use (only when the pseudonym's own number is taken
    as a seq by someone else, which a vault made before teams can have). It is above
    ``team.MAX_NUMBER``, so it never counts as a number this laptop gave out."""
    row = vault.db.execute(
        "SELECT MAX(COALESCE(MAX(seq), 0), COALESCE(MAX(CAST(SUBSTR(id, 2) AS INTEGER)), 0)) FROM participants"
    ).fetchone()
    return int(row[0]) + 1_000_000


# -- withdrawal, wherever their data is -------------------------------------------------------------
def _handed_over(vault: Vault) -> dict[str, set[str]]:
    """Pseudonym → the devices it was handed over to or received from."""
    return {pid: set(devices) for pid, devices in _links(vault).items()}


def _links(vault: Vault) -> dict[str, dict[str, datetime]]:
    """Pseudonym → {device it was handed over to or received from: when they were first linked}.
    A hand-over sent is dated by this laptop's clock when it was made; one received by the
    sender's clock when it was made (``created_at``; the time it was taken in here for a record
    from before that was kept), so the partner's own withdrawal notice compares with its own clock."""
    out: dict[str, dict[str, datetime]] = {}
    rec = _record(vault)
    dated = [(e["participant"], e["to"], e.get("at")) for e in rec["sent"]]
    dated += [(e["participant"], e["from"], e.get("created_at") or e.get("at")) for e in rec["received"]]
    for pid, device, at in dated:
        when = _when(at) or datetime.max.replace(tzinfo=UTC)  # undated: links nothing
        devices = out.setdefault(pid, {})
        devices[device] = min(devices.get(device, when), when)
    return out


def tell_peers(vault: Vault) -> list[str]:
    """Queue a signed withdrawal notice (for the next sync) for each participant who was
    handed over to or from this laptop and is withdrawn here, unless one is queued already."""
    linked = _handed_over(vault)
    if not linked:
        return []
    queued = {str(n["name"]).split("-")[0] for n in notices.pending(vault)}
    out = []
    for pid in sorted(linked):
        row = vault.db.execute("SELECT status FROM participants WHERE id = ?", (pid,)).fetchone()
        if row is None or row[0] != participants.WITHDRAWN or pid in queued:
            continue
        name, data = notices.make_notice(vault, _study_id(vault), pid, _sessions_of(vault, pid), [])
        with vault.db.atomic():
            notices.queue(vault, name, data)
            ledger.update_study(vault, "participant.withdrawal_to_team", pid, notice=name)
        out.append(name)
    return out


@dataclass
class Exchange:
    sent: list[str] = field(default_factory=list)  # notices uploaded now
    withdrawn: list[str] = field(default_factory=list)  # participants withdrawn here on another laptop's notice
    ignored: list[str] = field(default_factory=list)  # notices that failed verification
    handed: list[str] = field(default_factory=list)  # queued hand-overs uploaded now (file names)
    received: list[Received] = field(default_factory=list)  # hand-overs taken in from the inbox now
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, why in one sentence)


def exchange(vault: Vault, store: Store) -> Exchange:
    """At sync: upload the hand-overs queued here and take in those in this laptop's inbox on
    the store (:func:`carry`), upload this laptop's withdrawal notices for handed-over
    participants, and withdraw here anyone a team member's verified notice says withdrew there."""
    out = Exchange()
    study_id = _study_id(vault)
    carry(vault, store, out)  # first: a participant received now is linked for the notices below
    tell_peers(vault)
    linked = _links(vault)
    _upload(vault, store, study_id, linked, out)
    held = team.team(vault)
    if held is None:
        return out
    active = {
        pid
        for pid in linked
        if (r := vault.db.execute("SELECT status FROM participants WHERE id = ?", (pid,)).fetchone())
        and r[0] != participants.WITHDRAWN
    }
    if not active:
        return out
    for m in held.members:
        if m.device_id == vault.device_id:
            continue
        folder = store.path(study_id, m.device_id, notices.NOTICES)
        for name in store.listdir(folder):
            pid = name.split("-")[0]
            if pid not in active or not name.endswith(notices.SUFFIX):
                continue
            if m.device_id not in linked[pid]:
                continue  # only a laptop this one handed them to or received them from speaks for them
            try:
                raw = store.read(posixpath.join(folder, name), NOTICE_LIMIT)
            except FieldscribeError:
                out.ignored.append(name)
                continue
            notice = notices.verify_notice(raw, m.device_key)
            if (
                notice is None
                or notice.participant != pid
                or notice.study != study_id
                or notice.device_id != m.device_id
                or (withdrawn_at := _when(notice.withdrawn_at)) is None
                or withdrawn_at <= linked[pid][m.device_id]  # from before the hand-over linked them
            ):
                out.ignored.append(name)
                vault.log("participant.withdrawal_notice_refused", pid, device=m.short_id, notice=name)
                continue
            withdrawal.withdraw(vault, pid, pid)
            ledger.update_study(
                vault, "participant.withdrawn_elsewhere", pid, device=m.short_id, withdrawn_at=notice.withdrawn_at
            )
            active.discard(pid)
            out.withdrawn.append(pid)
    if out.withdrawn and tell_peers(vault):
        _upload(vault, store, study_id, linked, out)  # the laptops linked to this one learn it at their sync
    return out


def _upload(vault: Vault, store: Store, study_id: str, linked: dict[str, Any], out: Exchange) -> None:
    """Upload this laptop's queued withdrawal notices for handed-over participants not yet uploaded."""
    for item in notices.pending(vault):
        if item["uploaded_at"] or str(item["name"]).split("-")[0] not in linked:
            continue
        store.write_atomic(store.path(study_id, vault.device_id, notices.NOTICES, item["name"]), item["data"].encode())
        with vault.db.atomic():
            notices.mark_uploaded(vault, item["name"])
            ledger.update_study(
                vault, "sync.withdrawal_notice", item["name"].split("-")[0], store=store.address.display
            )
        out.sent.append(item["name"])


# -- hand-overs through the store -------------------------------------------------------------------
def queued_hand_overs(vault: Vault) -> list[dict[str, Any]]:
    """Hand-overs queued here for the store: {name, to, data (base64 of the sealed file),
    uploaded_at}, oldest first. Sealed with the study key and part of the study's history,
    like the withdrawal notices' queue."""
    held = get_study_record(vault, OUTBOX)
    return list(held) if isinstance(held, list) else []


def _inbox(vault: Vault) -> dict[str, dict[str, Any]]:
    held = get_study_record(vault, INBOX)
    held = held if isinstance(held, dict) else {}
    return {"taken": dict(held.get("taken", {})), "refused": dict(held.get("refused", {}))}


def carry(vault: Vault, store: Store, out: Exchange | None = None) -> Exchange:
    """Upload every hand-over queued here into its receiver's inbox on the store, then take in
    the files in this laptop's own inbox (``STUDY/DEVICE/handovers``).

    Each file there is read with a size limit (a regular file of at most ``MAX_FILE`` bytes)
    and taken in by :func:`receive`, with all its checks (sealed for this laptop, signed by a
    laptop in the team file, for this study, never imported before). One taken in is recorded
    (``INBOX``, in the same transaction as the import) and then removed from the store; where
    the store does not allow that, it stays and is skipped from then on. One refused is
    reported in one sentence and left on the store, and its name is remembered with its size
    and the team file's version: it is not tried again unless it changes or this laptop joins
    a newer team file (a laptop that joined the team after this laptop's copy was made becomes
    a sender it can believe). A store that cannot be reached stops the sync as ever; nothing
    is lost."""
    out = out if out is not None else Exchange()
    study_id = _study_id(vault)
    for item in queued_hand_overs(vault):
        if item.get("uploaded_at"):
            continue
        to, name = str(item["to"]), str(item["name"])
        store.write_atomic(store.path(study_id, to, HANDOVERS, name), base64.b64decode(item["data"]))
        with vault.db.atomic():
            put_study_record(
                vault,
                OUTBOX,
                [
                    {**i, "uploaded_at": i.get("uploaded_at") or (now_iso() if i["name"] == name else None)}
                    for i in queued_hand_overs(vault)
                ],
            )
            ledger.update_study(vault, "sync.handover", name.split("-")[0], to=to[:8], store=store.address.display)
        out.handed.append(name)
    held = team.team(vault)
    if held is None or not safe_name(vault.device_id):
        return out
    folder = store.path(study_id, vault.device_id, HANDOVERS)
    for entry in store.entries(folder):
        name = entry.name
        if not (name.endswith(SUFFIX) and safe_name(name)):
            continue  # not a hand-over (nor our own partial upload, .NAME.part)
        box = _inbox(vault)
        if name in box["taken"]:
            continue  # taken in before; the store did not let us remove it
        seen = box["refused"].get(name)
        if seen and seen.get("size") == entry.size and seen.get("team") == held.version:
            continue  # refused before, unchanged, and the team file is the same
        try:
            data = store.read(posixpath.join(folder, name), MAX_FILE)
        except FileNotFoundError:
            continue  # gone since the listing
        except StoreRefused as exc:
            _refused(vault, out, name, entry.size, held.version, str(exc))
            continue
        try:
            with vault.db.atomic():
                got = receive(vault, data)
                box = _inbox(vault)
                box["taken"][name] = {
                    "participant": got.participant,
                    "from": got.from_device,
                    "id": got.handover_id,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "at": now_iso(),
                }
                box["refused"].pop(name, None)
                put_study_record(vault, INBOX, box)
                ledger.update_study(vault, "handover.from_store", got.participant, name=name)
        except InvalidInput as exc:  # refused by one of receive's checks (a one-sentence reason)
            _refused(vault, out, name, entry.size, held.version, str(exc))
            continue
        got.name = name
        out.received.append(got)
        _remove_quietly(store, posixpath.join(folder, name))
    return out


def _refused(vault: Vault, out: Exchange, name: str, size: int | None, version: int, why: str) -> None:
    box = _inbox(vault)
    box["refused"][name] = {"size": size, "team": version, "why": why, "at": now_iso()}
    with vault.db.atomic():
        put_study_record(vault, INBOX, box)
        ledger.update_study(vault, "handover.refused_from_store", "", name=name)
    out.refused.append((name, why))


def _remove_quietly(store: Store, path: str) -> None:
    """Remove a hand-over taken in; a store that does not allow it keeps it (it is skipped)."""
    with contextlib.suppress(FieldscribeError, OSError):
        store.remove(path)
