"""Receipts: the analysis team's signed word that a bundle arrived, opened and verified.

A receipt carries the SHA-256 of the bundle's decrypted manifest. Only someone holding the
team's age identity can know it (the store sees ciphertext only; the manifest lists the hash
of every transcript), so a receipt cannot be forged by the store or anyone else who merely
sees the files. It is also signed with an Ed25519 key derived from that identity, so the
team can show which of its keys acknowledged what.
"""

from __future__ import annotations

import json
import posixpath
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .. import crypto
from ..audit import now_iso
from ..errors import InvalidInput
from ..export.bundle import BundleRefused, extract, open_bundle
from ..paths import actor
from .store import Store

FORMAT = "fieldscribe-receipt/1"
BUNDLE_SUFFIX = ".fsbundle.age"
RECEIPTS = "receipts"


def receipt_name(bundle: str) -> str:
    return f"{bundle}.receipt.json"


def _signing_key(identity_path: Path) -> Ed25519PrivateKey:
    try:
        secret = next(ln.strip() for ln in identity_path.read_text(encoding="utf-8").splitlines()
                      if ln.strip().startswith("AGE-SECRET-KEY-"))
    except (OSError, StopIteration):
        raise InvalidInput(f"{identity_path} holds no age identity (AGE-SECRET-KEY-…).") from None
    return Ed25519PrivateKey.from_private_bytes(crypto.subkey(secret.encode(), "receipt-signing"))


def make_receipt(bundle: str, bundle_sha256: str, manifest_sha256: str, device_id: str,
                 identity_path: Path) -> bytes:
    key = _signing_key(identity_path)
    body = {
        "format": FORMAT, "bundle": bundle, "bundle_sha256": bundle_sha256, "manifest_sha256": manifest_sha256,
        "device_id": device_id, "received_at": now_iso(), "received_by": actor(),
        "verify_key": key.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw).hex(),
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return json.dumps({"receipt": text, "signature": key.sign(text.encode()).hex()}, indent=2).encode()


def verify_receipt(data: bytes, *, bundle: str, bundle_sha256: str, manifest_sha256: str) -> dict | None:
    """The receipt's content if it is genuine and for exactly this bundle, else None."""
    try:
        outer = json.loads(data)
        body = json.loads(outer["receipt"])
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(body["verify_key"])).verify(
            bytes.fromhex(outer["signature"]), outer["receipt"].encode())
    except (ValueError, KeyError, TypeError, InvalidSignature):
        return None
    if body.get("format") != FORMAT or body.get("bundle") != bundle or body.get("bundle_sha256") != bundle_sha256 \
            or body.get("manifest_sha256") != manifest_sha256:
        return None
    return body


@dataclass
class Pulled:
    study: str
    device: str
    bundle: str
    folder: Path | None = None
    error: str | None = None


def pull(store: Store, identity_path: Path, out_dir: Path, *, on_bundle=None) -> list[Pulled]:
    """Analysis side: download every bundle without a receipt, open and verify it, unpack it
    into OUT/<study>/<device>/<bundle>/ and write its receipt back to the store."""
    from .outbox import file_sha256

    if not identity_path.exists():
        raise InvalidInput(f"The identity file {identity_path} does not exist; give the analysis team's key.")
    out_dir.mkdir(parents=True, exist_ok=True)
    incoming = out_dir / ".incoming"
    incoming.mkdir(exist_ok=True)
    results: list[Pulled] = []
    for study in (s for s in store.listdir(store.root) if not s.startswith(".")):
        for device in (d for d in store.listdir(store.path(study)) if not d.startswith(".")):
            folder = store.path(study, device)
            done = set(store.listdir(posixpath.join(folder, RECEIPTS)))
            for name in store.listdir(folder):
                if not name.endswith(BUNDLE_SUFFIX) or name.startswith(".") or receipt_name(name) in done:
                    continue
                item = Pulled(study, device, name)
                local = incoming / name
                local.write_bytes(store.read(posixpath.join(folder, name)))   # ciphertext
                try:
                    opened = open_bundle(local, identity_path)
                    m = opened.manifest
                    if m.get("device_id") != device or m.get("study", {}).get("id") != study:
                        raise BundleRefused(f"{name} says it comes from study {m.get('study', {}).get('id')!r}, "
                                            f"device {str(m.get('device_id'))[:12]!r}, but lies in {study}/{device[:12]}"
                                            " on the store; refused.")
                    target = out_dir / study / device[:12] / name.removesuffix(BUNDLE_SUFFIX)
                    if not target.exists():
                        # unpacked completely before it is named, so a crash never leaves a
                        # partial copy that a later run would acknowledge
                        partial = target.with_name(target.name + ".partial")
                        if partial.exists():
                            shutil.rmtree(partial)
                        extract(opened, partial)
                        partial.rename(target)
                    item.folder = target
                    store.write_atomic(posixpath.join(folder, RECEIPTS, receipt_name(name)), make_receipt(
                        name, file_sha256(local), opened.manifest_sha256, opened.manifest.get("device_id", device),
                        identity_path))
                except BundleRefused as exc:
                    item.error = str(exc)
                finally:
                    local.unlink(missing_ok=True)
                results.append(item)
                if on_bundle:
                    on_bundle(item)
    return results
