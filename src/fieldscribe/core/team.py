"""Study membership on a laptop: the team file, this laptop's place in it, and its pseudonym block.

One study, many laptops. The study lead keeps a *team file* that lists the study's laptops
(members): each one's device id, its Ed25519 bundle-signing key, an age recipient of its own
(X25519, so a hand-over can be sealed to that one laptop), the interviewer who uses it (staff,
never a participant), a short site code, and its *pseudonym block*. A laptop joins by sending
the lead a join request; the lead approves it, which writes a new version of the team file;
the laptop takes that file in (``team join``). The analysis side believes bundles from exactly
the laptops the file lists (``bundle pull --team``). The steps that need the device signing
key or the team's identity — making a request, approving it, joining, the analysis side's
trust — live in ``core/sync/membership.py``; this module holds the format, its checks, the
held file and the blocks, and nothing that reaches the export or sync packages, because
:func:`participants.enrol` asks it for the block (import-linter forbids cycles among the
core's packages, and those import participants).

Who signs the team file
    The key the team already signs receipts with (``sync/trust.py``: derived from the team's
    age identity, listed in the study file under ``export: receipt_keys:``). So there is no
    new key to hand out: a laptop believes a team file exactly when one of the receipt keys in
    its own authenticated study file signed it, and a study whose file lists no receipt key
    has no team file to believe. The two uses are kept apart by what is signed: a team file's
    signature covers ``b"fieldscribe-team-file/1\\n"`` followed by its text, while a receipt's
    (like a bundle manifest's and a withdrawal notice's) covers bare JSON text, which begins
    with ``{``; no signature made for one can ever verify as the other.

The file
    ``{"format": "fieldscribe-team/1", "team": TEXT, "signed_by": HEX, "signature": HEX}``,
    where TEXT is canonical JSON (sorted keys, no spaces) of ``{"format", "study", "version",
    "updated_at", "members": [...]}`` and each member is ``{"device_id", "device_key",
    "age_recipient", "interviewer", "site", "block": [first, last], "earlier_blocks":
    [[first, last], ...], "joined_at"}``. The text is kept as the very string that was signed
    (as receipts and notices do), so nothing is canonicalised twice. ``version`` grows by one
    with every approval; a laptop refuses a version older than the one it holds, and a
    different file under the same version.

Pseudonym blocks
    Each laptop enrols within its own block (P101–P199, P201–P299, … : a hundred numbers less
    one, so that every block's numbers read alike); blocks never overlap between laptops, so no
    two laptops can give out the same pseudonym. P1–P100 belong to no block: a vault from
    before teams keeps its P1, P2, … and a vault without a team file goes on giving them out.
    A laptop that gave out numbers above P100 before joining says so in its request
    (``legacy_max``); the lead reserves them for it (an *earlier block*), and approval refuses
    a block that would hand them to another laptop. A participant received by hand-over keeps
    the pseudonym another laptop gave out: it is not a number this laptop gave out (neither in
    ``legacy_max`` nor when ``team join`` checks a newer team file), and enrolment here goes on
    in this laptop's own block. A laptop whose block is used up is given a
    new one; its old block stays in ``earlier_blocks``, never to be handed to anyone else.

The held team file is a study record (sealed with the study key, covered by the study's
history): someone editing ``vault.db`` can neither add a member nor roll the file back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import ledger
from .errors import FieldscribeError, InvalidInput
from .sanitise import is_hidden, printable
from .study_records import get_study_record, put_study_record
from .vault import Vault

TEAM_FORMAT = "fieldscribe-team/1"
REQUEST_FORMAT = "fieldscribe-join-request/1"
TEAM_CONTEXT = b"fieldscribe-team-file/1\n"  # what a team file's signature covers, before its text
REQUEST_CONTEXT = b"fieldscribe-join-request/1\n"
TEAM_RECORD = "team_file"
AGE_RECORD = "device_age_identity"
HANDOVER_RECORD = "handovers"  # core/handover.py's record of hand-overs sent and received
MAX_TEAM_FILE = 4 * 1024 * 1024  # a thousand members is about half a megabyte
MAX_REQUEST = 64 * 1024
MAX_MEMBERS = 2000
FIRST_NUMBER = 101  # P1–P100 stay with vaults from before teams
BLOCK_STRIDE = 100  # P101–P199, P201–P299, …
MAX_NUMBER = 999_999
MAX_INTERVIEWER = 80
NOT_SIGNED = "This team file is not signed by the study's team key; ask the study lead for the file they approved."
NOT_LISTED = "This laptop is not in the team file yet; send the study lead a join request (`fieldscribe team request`)."

_DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SITE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_STUDY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY_HEX = re.compile(r"^[0-9a-f]{64}$")
_SIG_HEX = re.compile(r"^[0-9a-f]{128}$")
_BLOCK = re.compile(r"^\s*[Pp]?\s*(\d{1,7})\s*(?:-|–|—|\.\.)\s*[Pp]?\s*(\d{1,7})\s*$")


class TeamRefused(InvalidInput):
    """A team file or join request that cannot be believed or used, in one sentence."""


class BlockUsedUp(FieldscribeError):
    def __init__(self, block: Block) -> None:
        self.params = {"block": str(block)}
        super().__init__(f"This laptop has used its pseudonyms {block}; ask the study lead for another block.")


# -- blocks -----------------------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Block:
    first: int
    last: int

    def __str__(self) -> str:
        return f"P{self.first}–P{self.last}"

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self.first <= number <= self.last

    def overlaps(self, other: Block) -> bool:
        return self.first <= other.last and other.first <= self.last

    def as_json(self) -> list[int]:
        return [self.first, self.last]


def parse_block(text: str) -> Block:
    """A block as the lead types it: ``P301-P399`` (``301-399`` and an en dash are fine too)."""
    match = _BLOCK.match(str(text))
    if not match:
        raise InvalidInput(f"'{printable(str(text)[:40])}' is not a pseudonym block; write it like P301-P399.")
    return _checked_block(int(match[1]), int(match[2]))


def _checked_block(first: int, last: int) -> Block:
    if first > last:
        raise InvalidInput(
            f"P{first}–P{last} is not a pseudonym block: it ends before it starts; write it like P301-P399."
        )
    if first < FIRST_NUMBER:
        raise InvalidInput(
            f"P{first}–P{last} starts below P{FIRST_NUMBER}: P1–P{FIRST_NUMBER - 1} are left to laptops that enrolled "
            f"before the team file; choose a block from P{FIRST_NUMBER} up."
        )
    if last > MAX_NUMBER:
        raise InvalidInput(f"P{first}–P{last} goes past P{MAX_NUMBER}; pseudonyms stay short, so choose a lower block.")
    return Block(first, last)


def next_free_block(taken: list[Block]) -> Block:
    """The first block P{n}01–P{n}99 (n ≥ 1) that overlaps none of TAKEN."""
    n = 1
    while True:
        candidate = Block(n * BLOCK_STRIDE + 1, n * BLOCK_STRIDE + BLOCK_STRIDE - 1)
        if candidate.last > MAX_NUMBER:
            raise InvalidInput("Every pseudonym block up to P999999 is taken; give a block with --block.")
        if not any(candidate.overlaps(b) for b in taken):
            return candidate
        n += 1


# -- members and the team file --------------------------------------------------------------------
@dataclass(frozen=True)
class Member:
    device_id: str
    device_key: str  # Ed25519 public key, 64 hex digits: what its bundles are signed with
    age_recipient: str  # age1…: hand-overs for this laptop are encrypted to it
    interviewer: str  # a display name (staff, never a participant)
    site: str
    block: Block  # where this laptop enrols now
    earlier_blocks: tuple[Block, ...] = ()  # used before (or before joining): never anyone else's
    joined_at: str = ""

    @property
    def blocks(self) -> tuple[Block, ...]:
        return (self.block, *self.earlier_blocks)

    @property
    def short_id(self) -> str:
        return self.device_id[:8]

    def as_json(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "device_key": self.device_key,
            "age_recipient": self.age_recipient,
            "interviewer": self.interviewer,
            "site": self.site,
            "block": self.block.as_json(),
            "earlier_blocks": [b.as_json() for b in self.earlier_blocks],
            "joined_at": self.joined_at,
        }


@dataclass(frozen=True)
class TeamFile:
    study: str
    version: int
    members: tuple[Member, ...]
    updated_at: str = ""
    text: str = field(default="", compare=False)  # the signed text ("" until signed)
    signature: str = field(default="", compare=False)
    signed_by: str = field(default="", compare=False)

    def body(self) -> dict[str, Any]:
        return {
            "format": TEAM_FORMAT,
            "study": self.study,
            "version": self.version,
            "updated_at": self.updated_at,
            "members": [m.as_json() for m in self.members],
        }

    def by_device(self, device_id: str) -> Member | None:
        return next((m for m in self.members if m.device_id == device_id), None)

    def by_key(self, key_hex: str) -> Member | None:
        key_hex = str(key_hex).lower()
        return next((m for m in self.members if m.device_key == key_hex), None)

    @property
    def device_keys(self) -> set[str]:
        return {m.device_key for m in self.members}

    def to_bytes(self) -> bytes:
        """The file as written (only for a signed team file)."""
        outer = {"format": TEAM_FORMAT, "team": self.text, "signed_by": self.signed_by, "signature": self.signature}
        return (json.dumps(outer, indent=2, ensure_ascii=False) + "\n").encode()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def public_key_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def sign_team(team: TeamFile, key: Ed25519PrivateKey) -> TeamFile:
    """TEAM with its text fixed and signed by KEY (the team's receipt key)."""
    text = canonical(team.body())
    signature = key.sign(TEAM_CONTEXT + text.encode()).hex()
    return TeamFile(team.study, team.version, team.members, team.updated_at, text, signature, public_key_hex(key))


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"the key {k!r} appears twice")
        out[k] = v
    return out


def _loads(data: bytes | str) -> Any:
    return json.loads(data, object_pairs_hook=_no_duplicate_keys)


def verify_team(data: bytes, trusted_keys: set[str], *, not_signed: str = NOT_SIGNED) -> TeamFile:
    """The team file in DATA if one of TRUSTED_KEYS (64 hex digits each) signed it; one sentence
    otherwise. The signature is checked before anything inside is looked at closely."""
    if len(data) > MAX_TEAM_FILE:
        raise TeamRefused(f"This team file is larger ({len(data):,} bytes) than any fieldscribe writes; refused.")
    try:
        outer = _loads(data)
        if not isinstance(outer, dict) or outer.get("format") != TEAM_FORMAT:
            raise ValueError("not a team file")
        text, signature = outer["team"], outer["signature"]
        if not (isinstance(text, str) and isinstance(signature, str) and _SIG_HEX.match(signature)):
            raise ValueError("no signed text")
        message = TEAM_CONTEXT + text.encode()
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeError):
        raise TeamRefused(
            "This is not a team file (fieldscribe-team/1); ask the study lead for the file they approved."
        ) from None
    signer = None
    for key_hex in sorted(k.lower() for k in trusted_keys):
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(bytes.fromhex(signature), message)
        except (ValueError, InvalidSignature):
            continue
        signer = key_hex
        break
    if signer is None:
        raise TeamRefused(not_signed)
    team = parse_team_text(text)
    return TeamFile(team.study, team.version, team.members, team.updated_at, text, signature, signer)


def _malformed(what: str) -> TeamRefused:
    return TeamRefused(f"This team file is malformed ({what}); ask the study lead for the file they approved.")


def parse_team_text(text: str) -> TeamFile:
    """The team file's signed text, checked field by field (after the signature)."""
    try:
        body = _loads(text)
    except (ValueError, RecursionError):
        raise _malformed("its text is not JSON") from None
    if not isinstance(body, dict) or body.get("format") != TEAM_FORMAT:
        raise _malformed("not fieldscribe-team/1")
    study, version, members = body.get("study"), body.get("version"), body.get("members")
    if not (isinstance(study, str) and _STUDY.match(study)):
        raise _malformed("no study id")
    if type(version) is not int or not 1 <= version <= 2**53:
        raise _malformed("no version number")
    if not isinstance(members, list) or len(members) > MAX_MEMBERS:
        raise _malformed("no list of members")
    parsed = tuple(_member(m, i + 1) for i, m in enumerate(members))
    _check_distinct(parsed)
    updated = body.get("updated_at", "")
    return TeamFile(study, version, parsed, updated if isinstance(updated, str) else "")


def _block_from(value: Any, where: str) -> Block:
    if not (
        isinstance(value, list) and len(value) == 2 and all(type(n) is int and 0 <= n <= MAX_NUMBER for n in value)
    ):
        raise _malformed(f"{where} has no valid pseudonym block")
    try:
        return _checked_block(value[0], value[1])
    except InvalidInput:
        raise _malformed(f"{where} has no valid pseudonym block") from None


def _member(value: Any, n: int) -> Member:
    where = f"member {n}"
    if not isinstance(value, dict):
        raise _malformed(f"{where} is not a mapping")
    device_id, key, recipient = value.get("device_id"), value.get("device_key"), value.get("age_recipient")
    interviewer, site, earlier = value.get("interviewer"), value.get("site"), value.get("earlier_blocks", [])
    if not (isinstance(device_id, str) and _DEVICE_ID.match(device_id)):
        raise _malformed(f"{where} has no valid device id")
    if not (isinstance(key, str) and _KEY_HEX.match(key)):
        raise _malformed(f"{where} has no valid device key")
    if not (isinstance(recipient, str) and valid_recipient(recipient)):
        raise _malformed(f"{where} has no valid age recipient")
    if not (isinstance(interviewer, str) and valid_interviewer(interviewer)):
        raise _malformed(f"{where} has no valid interviewer name")
    if not (isinstance(site, str) and _SITE.match(site)):
        raise _malformed(f"{where} has no valid site code")
    if not isinstance(earlier, list) or len(earlier) > 100:
        raise _malformed(f"{where} has no valid list of earlier blocks")
    joined = value.get("joined_at", "")
    return Member(
        device_id,
        key,
        recipient,
        interviewer,
        site,
        _block_from(value.get("block"), where),
        tuple(_block_from(b, where) for b in earlier),
        joined if isinstance(joined, str) else "",
    )


def _check_distinct(members: tuple[Member, ...]) -> None:
    for attr, what in (("device_id", "device id"), ("device_key", "device key"), ("age_recipient", "age recipient")):
        values = [getattr(m, attr) for m in members]
        if len(set(values)) != len(values):
            raise _malformed(f"two members share a {what}")
    clash = overlapping_blocks(members)
    if clash:
        raise _malformed(f"the pseudonym blocks of {clash[0].short_id} and {clash[1].short_id} overlap")


def overlapping_blocks(members: tuple[Member, ...] | list[Member]) -> tuple[Member, Member] | None:
    """Two members whose blocks overlap (one member's own blocks may), else None. A sweep in
    the blocks' order that remembers the two furthest-reaching blocks of different members."""
    spans = sorted((b.first, b.last, i) for i, m in enumerate(members) for b in m.blocks)
    reach: list[tuple[int, int]] = []  # (last, owner), at most two owners, furthest first
    for first, last, owner in spans:
        for far, other in reach:
            if other != owner:
                if far >= first:
                    return members[other], members[owner]
                break
        merged = {o: f for f, o in reach}
        merged[owner] = max(last, merged.get(owner, last))
        reach = sorted(((f, o) for o, f in merged.items()), reverse=True)[:2]
    return None


def valid_recipient(text: str) -> bool:
    from pyrage import RecipientError, x25519

    if not text.startswith("age1") or len(text) > 100:
        return False
    try:
        return str(x25519.Recipient.from_str(text)) == text
    except RecipientError:
        return False


def valid_interviewer(text: str) -> bool:
    return 0 < len(text) <= MAX_INTERVIEWER and text == text.strip() and not any(is_hidden(ch) for ch in text)


def check_interviewer(text: str) -> str:
    cleaned = " ".join(str(text).split())
    if not valid_interviewer(cleaned):
        raise InvalidInput(
            f"'{printable(str(text)[:40])}' is not an interviewer name; give the name the study lead knows you "
            f"by, 1 to {MAX_INTERVIEWER} printable characters."
        )
    return cleaned


def check_site(text: str, known: list[str]) -> str:
    """A site code: one of KNOWN (the study file's site ids) when the study lists any."""
    code = str(text).strip()
    if not _SITE.match(code):
        raise InvalidInput(
            f"'{printable(code[:40])}' is not a site code; use lower-case letters, digits, '-' or '_' (up to 32)."
        )
    if known and code not in known:
        raise InvalidInput(f"{code!r} is not one of this study's sites; the study file lists {', '.join(known)}.")
    return code


# -- join requests (parsed here; made and approved in sync/membership.py) ------------------------------
@dataclass(frozen=True)
class JoinRequest:
    study: str
    device_id: str
    device_key: str
    age_recipient: str
    interviewer: str
    site: str
    created_at: str
    legacy_max: int  # the highest pseudonym number this laptop gave out outside any block (0: none)

    def body(self) -> dict[str, Any]:
        return {
            "format": REQUEST_FORMAT,
            "study": self.study,
            "device_id": self.device_id,
            "device_key": self.device_key,
            "age_recipient": self.age_recipient,
            "interviewer": self.interviewer,
            "site": self.site,
            "created_at": self.created_at,
            "legacy_max": self.legacy_max,
        }


def sign_request(request: JoinRequest, key: Ed25519PrivateKey) -> bytes:
    text = canonical(request.body())
    outer = {"format": REQUEST_FORMAT, "request": text, "signature": key.sign(REQUEST_CONTEXT + text.encode()).hex()}
    return (json.dumps(outer, indent=2, ensure_ascii=False) + "\n").encode()


def parse_request(data: bytes) -> JoinRequest:
    """A join request, its self-signature verified (it proves only that whoever made it holds
    the device key inside it: the lead checks the fingerprint with the interviewer)."""
    again = "ask the interviewer to make a new one (`fieldscribe team request`)"
    if len(data) > MAX_REQUEST:
        raise TeamRefused(f"This join request is larger ({len(data):,} bytes) than any fieldscribe writes; refused.")
    try:
        outer = _loads(data)
        if not isinstance(outer, dict) or outer.get("format") != REQUEST_FORMAT:
            raise ValueError("not a request")
        text, signature = outer["request"], outer["signature"]
        if not (isinstance(text, str) and isinstance(signature, str) and _SIG_HEX.match(signature)):
            raise ValueError("no signed text")
        body = _loads(text)
        if not isinstance(body, dict) or body.get("format") != REQUEST_FORMAT:
            raise ValueError("not a request")
        fields = {k: body.get(k) for k in ("study", "device_id", "device_key", "age_recipient", "interviewer", "site")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise ValueError("missing fields")
        message = REQUEST_CONTEXT + text.encode()
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeError):
        raise TeamRefused(f"This is not a join request (fieldscribe-join-request/1); {again}.") from None
    key = str(fields["device_key"])
    try:
        if not _KEY_HEX.match(key):
            raise ValueError("no key")
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(bytes.fromhex(signature), message)
    except (ValueError, InvalidSignature):
        raise TeamRefused(
            f"This join request is not validly signed by the device key inside it (it was altered); {again}."
        ) from None
    legacy = body.get("legacy_max", 0)
    checks = (
        (bool(_STUDY.match(str(fields["study"]))), "study id"),
        (bool(_DEVICE_ID.match(str(fields["device_id"]))), "device id"),
        (valid_recipient(str(fields["age_recipient"])), "age recipient"),
        (valid_interviewer(str(fields["interviewer"])), "interviewer name"),
        (bool(_SITE.match(str(fields["site"]))), "site code"),
        (type(legacy) is int and 0 <= legacy <= MAX_NUMBER, "count of pseudonyms given out"),
    )
    for ok, what in checks:
        if not ok:
            raise TeamRefused(f"This join request has no valid {what}; {again}.")
    created = body.get("created_at", "")
    return JoinRequest(
        str(fields["study"]),
        str(fields["device_id"]),
        key,
        str(fields["age_recipient"]),
        str(fields["interviewer"]),
        str(fields["site"]),
        created if isinstance(created, str) else "",
        int(legacy),
    )


# -- this laptop ------------------------------------------------------------------------------------
def device_age_identity(vault: Vault) -> str:
    """This laptop's own age identity (AGE-SECRET-KEY-…), for hand-overs sealed to it: made on
    first use and sealed in the vault, like the device signing key."""
    from pyrage import x25519

    held = get_study_record(vault, AGE_RECORD)
    if isinstance(held, str):
        return held
    identity = x25519.Identity.generate()
    with vault.db.atomic():
        put_study_record(vault, AGE_RECORD, str(identity))
        ledger.update_study(vault, "team.device_age_key", "", recipient=str(identity.to_public()))
    return str(identity)


def device_age_recipient(vault: Vault) -> str:
    """The age1… recipient of :func:`device_age_identity`: what the team file lists for it."""
    from pyrage import x25519

    return str(x25519.Identity.from_str(device_age_identity(vault)).to_public())


def team(vault: Vault) -> TeamFile | None:
    """The team file this laptop holds (None before it has joined one)."""
    held = get_study_record(vault, TEAM_RECORD)
    if not isinstance(held, dict):
        return None
    parsed = parse_team_text(str(held["team"]))
    return TeamFile(
        parsed.study,
        parsed.version,
        parsed.members,
        parsed.updated_at,
        str(held["team"]),
        str(held["signature"]),
        str(held["signed_by"]),
    )


def this_member(vault: Vault) -> Member | None:
    held = team(vault)
    return held.by_device(vault.device_id) if held else None


def member(vault: Vault, device_id_prefix: str) -> Member:
    """The member whose device id starts with DEVICE_ID_PREFIX (as `team show` prints it)."""
    held = team(vault)
    if held is None:
        raise InvalidInput("This laptop has not joined a team; there are no team members to look up.")
    prefix = str(device_id_prefix).strip().lower()
    found = [m for m in held.members if prefix and m.device_id.lower().startswith(prefix)]
    if not found:
        raise InvalidInput(
            f"No laptop in the team file has a device id starting with '{printable(prefix[:40])}'; "
            "`fieldscribe team show` lists them."
        )
    if len(found) > 1:
        raise InvalidInput(f"Several laptops' device ids start with '{printable(prefix)}'; give more of it.")
    return found[0]


def member_by_key(vault: Vault, key_hex: str, *, what: str) -> Member:
    """The member whose device signing key is KEY_HEX, or one sentence: for taking in what
    another laptop signed (a hand-over), which only a listed laptop may send."""
    held = team(vault)
    found = held.by_key(key_hex) if held else None
    if found is None:
        raise TeamRefused(
            f"{what} is signed by a laptop that is not in this laptop's team file "
            f"(device key {printable(str(key_hex)[:16])}…); refused."
        )
    return found


def store_team(vault: Vault, team_file: TeamFile) -> None:
    """Keep TEAM_FILE (verified by the caller) as this laptop's team file."""
    value = {"team": team_file.text, "signature": team_file.signature, "signed_by": team_file.signed_by}
    with vault.db.atomic():
        put_study_record(vault, TEAM_RECORD, value)
        ledger.update_study(vault, "team.joined", "", version=team_file.version, members=len(team_file.members))


def received_here(vault: Vault) -> set[str]:
    """Pseudonyms this laptop first came to hold by a hand-over (``core/handover.py``): another
    laptop gave them out. One enrolled here, handed over and handed back is not among them."""
    held = get_study_record(vault, HANDOVER_RECORD)
    if not isinstance(held, dict):
        return set()
    events = [(str(e.get("at")), 0, str(e.get("participant"))) for e in held.get("sent", []) if isinstance(e, dict)]
    events += [
        (str(e.get("at")), 1, str(e.get("participant"))) for e in held.get("received", []) if isinstance(e, dict)
    ]
    first: dict[str, int] = {}
    for _at, received, pid in sorted(events):
        first.setdefault(pid, received)
    return {pid for pid, received in first.items() if received}


def numbers_given(vault: Vault) -> list[int]:
    """Every pseudonym number this vault has given out (by seq and by pseudonym): not those of
    participants received by hand-over (the laptop that enrolled them gave those out), nor a
    seq above MAX_NUMBER (one a received participant was stored under, ``handover._free_seq``)."""
    received = received_here(vault)
    numbers: set[int] = set()
    for pid, seq in vault.db.execute("SELECT id, seq FROM participants").fetchall():
        if pid in received:
            continue
        if isinstance(seq, int) and seq <= MAX_NUMBER:
            numbers.add(seq)
        if isinstance(pid, str) and pid[1:].isdigit():
            numbers.add(int(pid[1:]))
    return sorted(numbers)


def legacy_max(vault: Vault, own: tuple[Block, ...] = ()) -> int:
    """The highest pseudonym number given out here outside the blocks OWN (0 when none)."""
    return max((n for n in numbers_given(vault) if not any(n in b for b in own)), default=0)


def pseudonym_block(vault: Vault) -> Block | None:
    """Where enrolment gives out numbers on this laptop: its block in the team file, or None
    (no team file: P1, P2, … as ever)."""
    me = this_member(vault)
    return me.block if me else None


def next_in_block(vault: Vault, block: Block) -> int:
    """The next number in BLOCK, above every number given out in it (never reused)."""
    row = vault.db.execute(
        "SELECT MAX(n) FROM (SELECT seq AS n FROM participants "
        "UNION ALL SELECT CAST(SUBSTR(id, 2) AS INTEGER) FROM participants) WHERE n BETWEEN ? AND ?",
        (block.first, block.last),
    ).fetchone()
    number = max(row[0] or 0, block.first - 1) + 1
    if number > block.last:
        raise BlockUsedUp(block)
    return number
