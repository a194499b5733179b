"""The study lead's view of the store: per laptop, when it last uploaded, how many bundles the
analysis team has received and how many wait, and its withdrawal notices.

Read from the store alone and without decrypting anything: bundles are counted by name, size
and modification time; receipts (a few hundred bytes each) are read and believed only when the
team's receipt key, derived from the identity, signed them for that bundle of that laptop;
withdrawal notices are checked against the laptop's key where one is known (the team file's,
else the key ``bundle pull`` pinned for that folder). A receipt cannot be checked against the
bundle's hashes here (that would mean reading every bundle), so a receipt counts for the bundle
of that name.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..errors import InvalidInput, StoreRefused
from ..export.keys import public_hex
from ..sanitise import printable
from ..team import Member, TeamFile
from . import notices
from .membership import analysis_team
from .receipts import BUNDLE_SUFFIX, FORMAT, RECEIPTS, SMALL_FILE, receipt_name, safe_name, verify_receipt
from .store import Entry, Store
from .trust import DeviceTrust, receipt_signing_key

VERIFIED, UNCHECKED, REFUSED = "verified", "unchecked", "refused"


@dataclass(frozen=True)
class NoticeStatus:
    name: str
    participant: str
    bundles: tuple[str, ...]
    state: str  # verified (the laptop's key signed it) | unchecked (no key known yet) | refused


@dataclass
class DeviceStatus:
    study: str
    device: str
    member: Member | None = None  # the team file's entry for this laptop, when a team file was given
    in_team: bool | None = None  # None: no team file given
    synced: bool = True  # False: a team member with no folder on the store
    bundles: list[str] = field(default_factory=list)
    bundle_bytes: int = 0
    received: list[str] = field(default_factory=list)  # bundles with a receipt the team's key signed
    not_team_receipts: list[str] = field(default_factory=list)  # bundles whose receipt the team did not sign
    withdrawn: list[str] = field(default_factory=list)  # bundles a verified notice withdrew (never pulled)
    notices: list[NoticeStatus] = field(default_factory=list)
    unfinished: int = 0  # .NAME.part uploads the laptop has not completed
    last_upload: datetime | None = None  # the newest bundle or notice the laptop wrote

    @property
    def outstanding(self) -> list[str]:
        """Bundles waiting for the team: no team receipt, and no verified withdrawal."""
        done = {*self.received, *self.withdrawn}
        return [b for b in self.bundles if b not in done]

    @property
    def withdrawals(self) -> int:
        """Notices that are the laptop's or cannot be checked yet (a refused one is not counted)."""
        return sum(1 for n in self.notices if n.state != REFUSED)

    @property
    def label(self) -> str:
        if self.member is None:
            return self.device[:12]
        return f"{self.member.short_id} {printable(self.member.interviewer)} ({self.member.site})"


@dataclass
class StudyStatus:
    store: str  # the store's address, without a password
    devices: list[DeviceStatus] = field(default_factory=list)
    team: TeamFile | None = None

    @property
    def studies(self) -> list[str]:
        return sorted({d.study for d in self.devices})


def study_status(
    store: Store, identity_path: Path, *, study: str | None = None, team: Path | None = None
) -> StudyStatus:
    """What each laptop has put on STORE and what the team has acknowledged, per study and
    device folder; with TEAM (a team file the identity signed), rows name the interviewer and
    site, members that never synced are listed and other folders flagged."""
    key_hex = public_hex(receipt_signing_key(identity_path))  # one sentence for a missing or unusable identity
    team_file = analysis_team(team, identity_path) if team is not None else None
    if team_file is not None:
        if study is not None and study != team_file.study:
            raise InvalidInput(
                f"The team file is for study {team_file.study}, not {printable(study)}; give the team file of "
                "that study, or leave out --study."
            )
        study = team_file.study
    studies = [s for s in store.listdir(store.root) if safe_name(s)]
    if study is not None:
        if study not in studies and team_file is None:
            held = f" (it holds {', '.join(studies[:10])})" if studies else ""
            raise InvalidInput(
                f"The store at {store.address.display} holds no folder for study {printable(study)}{held}; "
                "check the study id or the store address."
            )
        studies = [s for s in studies if s == study]
    pins = DeviceTrust() if team_file is None else None
    result = StudyStatus(store.address.display, team=team_file)
    read = believed = 0
    for s in studies:
        for d in (d for d in store.listdir(store.path(s)) if safe_name(d)):
            row = _device(store, s, d, key_hex, team_file, pins)
            read += len(row.received) + len(row.not_team_receipts)
            believed += len(row.received)
            result.devices.append(row)
    if team_file is not None:
        seen = {d.device for d in result.devices}
        for m in team_file.members:
            if m.device_id not in seen:
                result.devices.append(DeviceStatus(team_file.study, m.device_id, m, True, synced=False))
    elif not result.devices:
        raise InvalidInput(
            f"The store at {store.address.display} holds no laptop's folder yet: no laptop has synced to it "
            "(check the address, or wait for the first sync)."
        )
    if read and not believed and team_file is None:
        raise InvalidInput(
            f"None of the {read} receipt(s) on the store is signed by the receipt key of {printable(identity_path)}; "
            "give the analysis team's identity (the one `bundle pull` uses)."
        )
    return result


def _device(
    store: Store, study: str, device: str, key_hex: str, team_file: TeamFile | None, pins: DeviceTrust | None
) -> DeviceStatus:
    folder = store.path(study, device)
    member = team_file.by_device(device) if team_file is not None and study == team_file.study else None
    row = DeviceStatus(study, device, member, None if team_file is None else member is not None)
    newest: list[datetime] = []
    for e in store.entries(folder):
        if e.kind != "file":
            continue
        if e.name.endswith(BUNDLE_SUFFIX) and safe_name(e.name):
            row.bundles.append(e.name)
            row.bundle_bytes += e.size or 0
            if e.modified:
                newest.append(e.modified)
        elif e.name.startswith(".") and e.name.endswith(BUNDLE_SUFFIX + ".part"):
            row.unfinished += 1
    _receipts(store, folder, device, key_hex, row)
    device_key = member.device_key if member is not None else (pins.known(study, device) if pins else None)
    for e, notice in _notices(store, folder, study, device, device_key):
        row.notices.append(notice)
        if notice.state == VERIFIED:
            row.withdrawn.extend(b for b in notice.bundles if b in row.bundles and b not in row.withdrawn)
        if notice.state != REFUSED and e.modified:
            newest.append(e.modified)
    row.last_upload = max(newest, default=None)
    return row


def _receipts(store: Store, folder: str, device: str, key_hex: str, row: DeviceStatus) -> None:
    present = set(store.listdir(posixpath.join(folder, RECEIPTS)))  # what `bundle pull` goes by
    for bundle in row.bundles:
        if receipt_name(bundle) not in present:
            continue
        try:
            data = store.read(posixpath.join(folder, RECEIPTS, receipt_name(bundle)), SMALL_FILE)
        except StoreRefused:
            row.not_team_receipts.append(bundle)
            continue
        (row.received if team_receipt(data, bundle, device, key_hex) else row.not_team_receipts).append(bundle)


def team_receipt(data: bytes, bundle: str, device: str, key_hex: str) -> bool:
    """Whether DATA is a receipt the team's receipt key KEY_HEX signed for BUNDLE of DEVICE.

    The hashes it carries are taken as they stand (checking them means reading the bundle);
    the signature, the key, the bundle name and the device are checked by `verify_receipt`."""
    try:
        outer = json.loads(data)
        body = json.loads(outer["receipt"])
        hashes = {"bundle_sha256": str(body["bundle_sha256"]), "manifest_sha256": str(body["manifest_sha256"])}
        device_ok = body.get("device_id") == device and body.get("format") == FORMAT
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    return device_ok and verify_receipt(data, bundle=bundle, trusted_keys={key_hex}, **hashes) is not None


def _notices(
    store: Store, folder: str, study: str, device: str, device_key: str | None
) -> list[tuple[Entry, NoticeStatus]]:
    out = []
    where = posixpath.join(folder, notices.NOTICES)
    for e in store.entries(where):
        if e.kind != "file" or not e.name.endswith(notices.SUFFIX) or not safe_name(e.name):
            continue
        try:
            data = store.read(posixpath.join(where, e.name), SMALL_FILE)
        except StoreRefused:
            out.append((e, NoticeStatus(e.name, "?", (), REFUSED)))
            continue
        parsed = notices.parse_notice(data)
        if parsed is None or parsed[0].study != study or parsed[0].device_id != device:
            out.append((e, NoticeStatus(e.name, "?", (), REFUSED)))
            continue
        notice = parsed[0]
        if device_key is None:
            state = UNCHECKED  # the laptop's key is not known here yet: nothing to check it against
        else:
            state = VERIFIED if notices.verify_notice(data, device_key) is not None else REFUSED
        out.append((e, NoticeStatus(e.name, notice.participant, notice.bundles, state)))
    return out
