"""Receipts: the analysis team's signed word that a bundle arrived, opened and verified.

A receipt carries the SHA-256 of the bundle's decrypted manifest, which only a holder of the
team's age identity can know (the laptop keeps it sealed), and is signed with the team's
receipt key, derived from that identity. The laptop believes a receipt only when both hold
and the signing key is one the study file lists (``export: receipt_keys:``): a key taken
from the receipt itself would prove nothing.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..audit import now_iso
from ..errors import InvalidInput, StoreRefused
from ..export.bundle import BundleRefused, extract, open_bundle
from ..export.keys import public_hex
from ..export.outbox import file_sha256
from ..paths import actor
from . import notices
from .store import Store
from .trust import DeviceTrust, UntrustedKey, receipt_signing_key

FORMAT = "fieldscribe-receipt/1"
BUNDLE_SUFFIX = ".fsbundle.age"
RECEIPTS = "receipts"
SMALL_FILE = 64 * 1024  # receipts and notices are a few hundred bytes
MAX_BUNDLE = 8 * 1024**3  # as open_bundle accepts
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


def safe_name(name: object) -> bool:
    """A study, device or bundle name that can be a single path component on the analyst's
    machine: no separators, no leading dot, nothing a terminal or a shell treats specially."""
    return isinstance(name, str) and bool(_SAFE_NAME.match(name)) and ".." not in name


def receipt_name(bundle: str) -> str:
    return f"{bundle}.receipt.json"


def make_receipt(bundle: str, bundle_sha256: str, manifest_sha256: str, device_id: str, identity_path: Path) -> bytes:
    key = receipt_signing_key(identity_path)
    body = {
        "format": FORMAT,
        "bundle": bundle,
        "bundle_sha256": bundle_sha256,
        "manifest_sha256": manifest_sha256,
        "device_id": device_id,
        "received_at": now_iso(),
        "received_by": actor(),
        "verify_key": public_hex(key),
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return json.dumps({"receipt": text, "signature": key.sign(text.encode()).hex()}, indent=2).encode()


def verify_receipt(
    data: bytes, *, bundle: str, bundle_sha256: str, manifest_sha256: str, trusted_keys: set[str]
) -> dict[str, Any] | None:
    """The receipt's content if it is genuine, signed by one of TRUSTED_KEYS (the study
    file's receipt keys) and for exactly this bundle, else None."""
    try:
        outer = json.loads(data)
        body = json.loads(outer["receipt"])
        if not isinstance(body, dict) or str(body["verify_key"]).lower() not in trusted_keys:
            return None
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(body["verify_key"])).verify(
            bytes.fromhex(outer["signature"]), outer["receipt"].encode()
        )
    except (ValueError, KeyError, TypeError, AttributeError, InvalidSignature):
        return None
    if (
        body.get("format") != FORMAT
        or body.get("bundle") != bundle
        or body.get("bundle_sha256") != bundle_sha256
        or body.get("manifest_sha256") != manifest_sha256
    ):
        return None
    return body


@dataclass
class Pulled:
    study: str
    device: str
    bundle: str
    folder: Path | None = None
    error: str | None = None
    trust: str = ""  # listed | pinned | new (first bundle from this device folder)


@dataclass
class Withdrawal:
    """A verified withdrawal notice and what the pull did about it."""

    study: str
    device: str
    participant: str
    bundles: tuple[str, ...]
    deleted: list[Path] = field(default_factory=list)
    error: str | None = None


@dataclass
class PullReport:
    bundles: list[Pulled] = field(default_factory=list)
    withdrawals: list[Withdrawal] = field(default_factory=list)


SEEN = ".withdrawals.json"


def _withdrawn_bundles(out_dir: Path) -> dict[str, list[str]]:
    """study/device → bundle names a verified notice withdrew (kept beside the unpacked data)."""
    try:
        data = json.loads((out_dir / SEEN).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"{out_dir / SEEN} cannot be read ({exc}); restore it — it lists withdrawn bundles "
            "that must not be unpacked again."
        ) from None
    return {str(k): [str(b) for b in v] for k, v in data.items()} if isinstance(data, dict) else {}


def _save_withdrawn(out_dir: Path, seen: dict[str, list[str]]) -> None:
    partial = out_dir / (SEEN + ".partial")
    partial.write_text(json.dumps(seen, indent=2, sort_keys=True), encoding="utf-8")
    partial.replace(out_dir / SEEN)


def _unpacked_folder(out_dir: Path, study: str, device: str, bundle: str) -> Path:
    """OUT/<study>/<device>/<bundle>: the whole device id (a shortened one would let a folder
    named like another device's prefix land on that device's data)."""
    return out_dir / study / device / bundle.removesuffix(BUNDLE_SUFFIX)


def _apply_notices(
    store: Store,
    folder: str,
    study: str,
    device: str,
    trust: DeviceTrust,
    out_dir: Path,
    seen: dict[str, list[str]],
    report: PullReport,
) -> set[str]:
    """Verify this device folder's withdrawal notices against its pinned key and delete what
    was unpacked from the bundles they name; returns every bundle withdrawn so far."""
    key = f"{study}/{device}"
    withdrawn = set(seen.get(key, []))
    names = [n for n in store.listdir(posixpath.join(folder, notices.NOTICES)) if n.endswith(notices.SUFFIX)]
    for name in sorted(names):
        try:
            data = store.read(posixpath.join(folder, notices.NOTICES, name), SMALL_FILE)
        except StoreRefused as exc:
            report.withdrawals.append(Withdrawal(study, device, "?", (), error=str(exc)))
            continue
        parsed = notices.parse_notice(data)
        pinned = trust.known(study, device)
        candidates = sorted(trust.listed) if trust.listed else ([pinned] if pinned else [])
        notice = next((n for n in (notices.verify_notice(data, k) for k in candidates) if n is not None), None)
        who = parsed[0].participant if parsed else "?"
        if notice is not None and not all(safe_name(b) and b.endswith(BUNDLE_SUFFIX) for b in notice.bundles):
            report.withdrawals.append(
                Withdrawal(
                    study,
                    device,
                    notice.participant,
                    (),
                    error=(f"the withdrawal notice {name} names a bundle that is not a bundle file name; ignored"),
                )
            )
            continue
        if notice is None or notice.study != study or notice.device_id != device:
            report.withdrawals.append(
                Withdrawal(
                    study,
                    device,
                    who,
                    (),
                    error=(
                        f"the withdrawal notice {name} is not signed by this device's trusted key; ignored (ask the "
                        "interviewer whether one of their participants withdrew)"
                    ),
                )
            )
            continue
        new = [b for b in notice.bundles if b not in withdrawn]
        if not new and name in seen.get(key + "#notices", []):
            continue
        seen[key + "#sessions"] = sorted({*seen.get(key + "#sessions", []), *notice.sessions})
        item = Withdrawal(study, device, notice.participant, notice.bundles)
        home = (out_dir / study / device).resolve()
        for bundle in notice.bundles:
            target = _unpacked_folder(out_dir, study, device, bundle)
            if target.is_dir() and not target.is_symlink() and target.resolve().parent == home:
                shutil.rmtree(target)
                item.deleted.append(target)
            elif target.exists() or target.is_symlink():
                item.error = f"{target} is not a folder this pull unpacked; it was left alone — delete it by hand"
            withdrawn.add(bundle)
        seen[key] = sorted(withdrawn)
        seen[key + "#notices"] = sorted({*seen.get(key + "#notices", []), name})
        _save_withdrawn(out_dir, seen)
        report.withdrawals.append(item)
    return withdrawn


def pull(
    store: Store,
    identity_path: Path,
    out_dir: Path,
    *,
    trust: DeviceTrust | None = None,
    on_bundle: Callable[[Pulled], None] | None = None,
) -> PullReport:
    """Analysis side: apply withdrawal notices, then download every bundle without a receipt,
    open and verify it (against the device key the study lists or pinned on first use),
    unpack it into OUT/<study>/<device>/<bundle>/ and write its receipt back to the store."""
    if not identity_path.is_file():
        raise InvalidInput(f"The identity file {identity_path} does not exist; give the analysis team's key.")
    trust = trust or DeviceTrust()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    incoming = out_dir / ".incoming"
    incoming.mkdir(exist_ok=True, mode=0o700)
    seen = _withdrawn_bundles(out_dir)
    for stale in out_dir.glob("*/*/.*.unpacking"):  # left by a pull killed mid-unpack; never acknowledged
        shutil.rmtree(stale)
    report = PullReport()
    for study in (s for s in store.listdir(store.root) if safe_name(s)):
        for device in (d for d in store.listdir(store.path(study)) if safe_name(d)):
            folder = store.path(study, device)
            withdrawn = _apply_notices(store, folder, study, device, trust, out_dir, seen, report)
            gone_sessions = set(seen.get(f"{study}/{device}#sessions", []))
            done = set(store.listdir(posixpath.join(folder, RECEIPTS)))
            for name in store.listdir(folder):
                if (
                    not name.endswith(BUNDLE_SUFFIX)
                    or not safe_name(name)
                    or receipt_name(name) in done
                    or name in withdrawn
                ):
                    continue
                item = _pull_one(
                    store, folder, study, device, name, identity_path, out_dir, incoming, trust, gone_sessions
                )
                report.bundles.append(item)
                if on_bundle:
                    on_bundle(item)
    return report


def _pull_one(
    store: Store,
    folder: str,
    study: str,
    device: str,
    name: str,
    identity_path: Path,
    out_dir: Path,
    incoming: Path,
    trust: DeviceTrust,
    gone_sessions: set[str],
) -> Pulled:
    item = Pulled(study, device, name)
    local = incoming / name
    try:
        store.download(posixpath.join(folder, name), local, MAX_BUNDLE)  # ciphertext
        opened = open_bundle(local, identity_path, trusted_devices=trust.listed or None)
        m = opened.manifest
        if m.get("device_id") != device or m.get("study", {}).get("id") != study:
            raise BundleRefused(
                f"{name} says it comes from study {str(m.get('study', {}).get('id'))[:40]!r}, "
                f"device {str(m.get('device_id'))[:12]!r}, but lies in {study}/{device[:12]}"
                " on the store; refused."
            )
        item.trust = trust.check(study, device, str(m.get("device_public_key", "")), what=name)
        if m.get("bundle", name) != name:
            raise BundleRefused(f"{name} was exported as {str(m.get('bundle'))[:80]!r}: a renamed copy; refused.")
        withdrawn_here = sorted({str(s.get("id")) for s in m.get("sessions", [])} & gone_sessions)
        if withdrawn_here:
            raise BundleRefused(
                f"{name} holds {', '.join(withdrawn_here)}, whose participant withdrew; it is not unpacked."
            )
        target = _unpacked_folder(out_dir, study, device, name)
        if not target.exists():
            # extract unpacks into a hidden folder and renames it when complete, so a crash
            # never leaves a partial copy that a later run would acknowledge
            extract(opened, target)
        item.folder = target
        trust.pin(study, device, str(m["device_public_key"]))
        store.write_atomic(
            posixpath.join(folder, RECEIPTS, receipt_name(name)),
            make_receipt(
                name, file_sha256(local), opened.manifest_sha256, str(m.get("device_id", device)), identity_path
            ),
        )
    except (BundleRefused, UntrustedKey, InvalidInput, StoreRefused) as exc:  # InvalidInput: unusable unpack folder
        item.error = str(exc)
    finally:
        local.unlink(missing_ok=True)
    return item
