"""Joining a study's team: the laptop's join request, the study lead's approval, the laptop
taking the approved team file in, and the analysis side believing exactly its laptops.

The team file itself (format, signature, pseudonym blocks) is described in ``core/team.py``;
this module holds the steps that need the device signing key (``export/keys.py``) or the
team's identity (``sync/trust.py``), which ``core/team.py`` may not import (participants
asks it for the pseudonym block, and the export and sync packages import participants).

1. On the laptop, ``make_join_request`` writes a small JSON file — study id, device id, the
   device's bundle-signing key, its own age recipient (for hand-overs), interviewer, site —
   signed by the device key over ``b"fieldscribe-join-request/1\\n"`` + its text, the key
   inside. The self-signature proves only that the request was not altered and that whoever
   made it holds that key; a request carried through the store could be someone else's, so
   the command prints the key's fingerprint on the laptop and ``team approve`` prints it on
   the lead's machine, and the lead compares the two (by phone, in person).
2. On the lead's machine (no vault, just the team's identity from ``bundle keygen``),
   ``approve`` checks the request, adds or updates the member (same device id: updated,
   block kept unless ``--block`` gives a new one, the old one kept as an earlier block; the
   same device id with another signing key, or a key or age recipient already another
   device's: refused), gives a new member the next free
   block, bumps the version, signs with the team's receipt key and writes the file
   atomically. An existing team file must verify against the same identity first.
3. On each laptop, ``join`` believes the file only when a receipt key in the laptop's own
   authenticated study file signed it, refuses an older version than the one held (or a
   different file under the same version), a file for another study, a file that does not
   list this laptop with this laptop's keys, and a file that gives another laptop a number
   this one already gave out (a participant received by hand-over was given out by another
   laptop, so their pseudonym does not count: ``team.numbers_given``); then keeps it sealed
   in the vault.
4. On the analysis side, ``analysis_team`` reads a team file verified against the team's own
   identity, and :class:`TeamTrust` accepts bundles (and withdrawal notices) from exactly its
   members, each from its own device folder.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .. import team as team_mod
from ..audit import now_iso
from ..errors import InvalidInput
from ..export.keys import device_key, open_regular, public_hex
from ..guides import current_guide
from ..sanitise import printable
from ..team import Block, JoinRequest, Member, TeamFile, TeamRefused
from ..vault import Vault
from .trust import DeviceTrust, UntrustedKey, is_key_hex, receipt_signing_key

# a team file is signed with the key receipts are signed with; see core/team.py for why
team_signing_key = receipt_signing_key


def fingerprint(key_hex: str) -> str:
    """The first 64 bits of a device key in groups of four, for reading aloud."""
    return " ".join(key_hex[i : i + 4] for i in range(0, 16, 4))


def read_small_file(path: Path, cap: int, what: str) -> bytes:
    """A team file or join request: a regular file of bounded size, one sentence otherwise."""
    f, _size = open_regular(path, cap, InvalidInput, what)
    try:
        with f:
            return f.read(cap + 1)
    except OSError as exc:
        raise InvalidInput(f"The {what} '{printable(path)}' cannot be read ({exc.strerror}).") from None


def write_file_atomic(path: Path, data: bytes, what: str) -> None:
    """Write DATA to PATH whole or not at all (a partial file beside it, then renamed over)."""
    if os.path.lexists(path) and (path.is_symlink() or not path.is_file()):
        raise InvalidInput(f"{printable(path)} is not a regular file; give a file path for the {what}.")
    partial = path.with_name(path.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise InvalidInput(
            f"The {what} cannot be written to {printable(path)} ({exc.strerror or exc}); choose a file path in a "
            "folder you can write to."
        ) from None


# -- the laptop ---------------------------------------------------------------------------------------
def make_join_request(vault: Vault, interviewer: str, site: str) -> bytes:
    """This laptop's signed request to join its study's team."""
    study = current_guide(vault).study
    interviewer = team_mod.check_interviewer(interviewer)
    site = team_mod.check_site(site, [s.id for s in study.study.sites])
    held = team_mod.team(vault)
    me = held.by_device(vault.device_id) if held else None
    signer = device_key(vault)
    request = JoinRequest(
        study=study.study.id,
        device_id=vault.device_id,
        device_key=public_hex(signer),
        age_recipient=team_mod.device_age_recipient(vault),
        interviewer=interviewer,
        site=site,
        created_at=now_iso(),
        legacy_max=team_mod.legacy_max(vault, me.blocks if me else ()),
    )
    return team_mod.sign_request(request, signer)


def join(vault: Vault, data: bytes) -> Member:
    """Take in the team file DATA the study lead approved; returns this laptop's entry."""
    study = current_guide(vault).study
    keys = {k.lower() for k in study.export.receipt_keys}
    if not keys:
        raise TeamRefused(
            "The study file lists no team key (export: receipt_keys:, printed by `fieldscribe bundle keygen`), so "
            "no team file can be believed; ask the study lead to add it, then import the study file again."
        )
    new = team_mod.verify_team(data, keys)
    if new.study != study.study.id:
        raise TeamRefused(
            f"This team file is for study {new.study!r}, but this laptop's study is {study.study.id!r}; ask the "
            "study lead for the right file."
        )
    held = team_mod.team(vault)
    if held is not None and new.version < held.version:
        raise TeamRefused(
            f"This team file is version {new.version}, older than version {held.version} which this laptop "
            "holds; ask the study lead for the newest file."
        )
    if held is not None and new.version == held.version and new.text != held.text:
        raise TeamRefused(
            f"This team file is version {new.version} like the one this laptop holds, but it differs from it; ask "
            "the study lead for the newest file."
        )
    me = new.by_device(vault.device_id)
    if me is None:
        raise TeamRefused(team_mod.NOT_LISTED)
    if me.device_key != public_hex(device_key(vault)) or me.age_recipient != team_mod.device_age_recipient(vault):
        raise TeamRefused(
            "The team file lists this laptop with keys that are not this laptop's (a request made on another "
            "copy of the vault?); send the study lead a new join request (`fieldscribe team request`)."
        )
    for number in team_mod.numbers_given(vault):
        if any(number in b for b in me.blocks):
            continue
        other = next((m for m in new.members if m is not me and any(number in b for b in m.blocks)), None)
        if other is not None:
            raise TeamRefused(
                f"This laptop already gave out P{number}, which the team file leaves to laptop {other.short_id}; "
                "send the study lead a new join request (`fieldscribe team request`) so the block is moved."
            )
    if held is None or new.text != held.text:
        team_mod.store_team(vault, new)
    return me


# -- the study lead ------------------------------------------------------------------------------------
def approve(request_bytes: bytes, team_path: Path, identity_path: Path, *, block: str | None = None) -> TeamFile:
    """Add (or update) the requesting laptop in the team file TEAM_PATH, signed with the team's
    identity; a new team file when TEAM_PATH does not exist. Returns the new team file."""
    chosen = team_mod.parse_block(block) if block is not None else None
    existing = lead_team_file(team_path, identity_path)
    key = team_signing_key(identity_path)
    request = team_mod.parse_request(request_bytes)
    if existing is not None and request.study != existing.study:
        raise TeamRefused(
            f"This join request is for study {request.study!r}, but the team file {printable(team_path)} is for "
            f"{existing.study!r}; refused."
        )
    members = list(existing.members) if existing else []
    old = next((m for m in members if m.device_id == request.device_id), None)
    others = [m for m in members if m is not old]
    if old is not None and old.device_key != request.device_key:
        # a vault keeps its device id and signing key together (a copy or a restore keeps both);
        # the id alone is no secret, so a request that pairs it with another key replaces nothing
        raise TeamRefused(
            f"Laptop {old.short_id} ({printable(old.interviewer)}) is in the team file with another device key; "
            "refused (a laptop set up afresh sends a request as a new laptop)."
        )
    for m in others:
        if m.device_key == request.device_key or m.age_recipient == request.age_recipient:
            raise TeamRefused(
                f"This join request's keys already belong to laptop {m.short_id} ({printable(m.interviewer)}) "
                "in the team file; refused (a copied vault must not join as a second laptop)."
            )
    taken = [b for m in others for b in m.blocks]
    earlier = list(old.earlier_blocks) if old else []
    if request.legacy_max >= team_mod.FIRST_NUMBER:
        used = Block(team_mod.FIRST_NUMBER, request.legacy_max)
        clash = next((b for b in taken if b.overlaps(used)), None)
        if clash is not None:
            raise TeamRefused(
                f"This laptop gave out pseudonyms up to P{request.legacy_max} before joining, which overlaps "
                f"{clash} of another laptop; refused (tell the interviewer and the laptop concerned)."
            )
        if not any(used.first >= b.first and used.last <= b.last for b in (*earlier, *(old.blocks if old else ()))):
            earlier.append(used)
    if chosen is not None:
        clash = next((b for b in taken if b.overlaps(chosen)), None)
        if clash is not None:
            owner = next(m for m in others if clash in m.blocks)
            raise InvalidInput(
                f"The block {chosen} overlaps {clash} of laptop {owner.short_id} ({printable(owner.interviewer)}); "
                "choose another."
            )
        if old is not None and old.block != chosen and old.block not in earlier:
            earlier.append(old.block)
        new_block = chosen
    elif old is not None:
        new_block = old.block
    else:
        new_block = team_mod.next_free_block(taken + earlier)
    member = Member(
        device_id=request.device_id,
        device_key=request.device_key,
        age_recipient=request.age_recipient,
        interviewer=request.interviewer,
        site=request.site,
        block=new_block,
        earlier_blocks=tuple(b for b in earlier if b != new_block),
        joined_at=old.joined_at if old else now_iso(),
    )
    updated = [member if m is old else m for m in members] if old else [*members, member]
    if len(updated) > team_mod.MAX_MEMBERS:
        raise InvalidInput(f"A team file holds at most {team_mod.MAX_MEMBERS} laptops; refused.")
    signed = team_mod.sign_team(
        TeamFile(request.study, (existing.version if existing else 0) + 1, tuple(updated), now_iso()), key
    )
    write_file_atomic(team_path, signed.to_bytes(), "team file")
    return signed


def lead_team_file(team_path: Path, identity_path: Path) -> TeamFile | None:
    """The study lead's team file at TEAM_PATH (None when there is none yet), believed only
    when IDENTITY_PATH's team key signed it."""
    key_hex = public_hex(team_signing_key(identity_path))  # the identity is checked even for a new file
    if not os.path.lexists(team_path):
        return None
    data = read_small_file(team_path, team_mod.MAX_TEAM_FILE, "team file")
    return team_mod.verify_team(
        data,
        {key_hex},
        not_signed=(
            f"The team file {printable(team_path)} is not signed by this identity's team key; give the identity "
            "that approved it (--identity), or a new path to start a team file."
        ),
    )


# -- the analysis side ----------------------------------------------------------------------------------
def analysis_team(team_path: Path, identity_path: Path) -> TeamFile:
    """The team file at TEAM_PATH, believed only when the team's own identity signed it."""
    data = read_small_file(team_path, team_mod.MAX_TEAM_FILE, "team file")
    return team_mod.verify_team(
        data,
        {public_hex(team_signing_key(identity_path))},
        not_signed=(
            f"The team file {printable(team_path)} is not signed by this identity's team key; give the team file "
            "the study lead approved with this identity."
        ),
    )


class TeamTrust(DeviceTrust):
    """The device keys of a team file's members, and nothing else: each accepted only for its
    own study and device folder. Nothing is pinned (listed keys never are). With ALSO_LISTED
    (a study file's ``export: device_keys:``), a member must be in that list too."""

    def __init__(self, team_file: TeamFile, also_listed: set[str] | None = None) -> None:
        keys = team_file.device_keys
        self.also = {k.lower() for k in also_listed} if also_listed else None
        super().__init__(keys & self.also if self.also is not None else keys)
        self.team = team_file

    def check(self, study: str, device: str, key_hex: str, *, what: str) -> str:
        key_hex = str(key_hex).lower()
        if not is_key_hex(key_hex):
            raise UntrustedKey(f"{what} carries no valid device key; refused.")
        found = self.team.by_key(key_hex)
        if found is not None and self.also is not None and key_hex not in self.also:
            raise UntrustedKey(
                f"{what} is signed by laptop {found.short_id} of the team file, which the study file does not list "
                "under export: device_keys; refused."
            )
        if found is None:
            raise UntrustedKey(
                f"{what} is signed by device key {key_hex[:16]}…, a laptop that is not in the team file "
                f"(version {self.team.version}); refused — it must join the team first (`fieldscribe team request`)."
            )
        if found.device_id != device or study != self.team.study:
            raise UntrustedKey(
                f"{what} is signed by laptop {found.short_id} ({found.interviewer}) of study {self.team.study} but "
                f"lies in {study}/{device[:12]}; refused."
            )
        return "listed"


def team_trust(team_path: Path, identity_path: Path, also_listed: set[str] | None = None) -> TeamTrust:
    """What ``bundle pull --team`` and ``bundle open --team`` believe."""
    return TeamTrust(analysis_team(team_path, identity_path), also_listed)
