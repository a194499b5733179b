"""Bundles: a tar of the export files plus a manifest (per-file SHA-256, study, guide
versions, counts of what was redacted — never the originals), signed with this device's
Ed25519 key and encrypted with age (pyrage) to the analysis team's recipients.

age is a documented, standard format: the team can open a bundle with the `age` tool or
with `fieldscribe bundle open`. The field laptop holds only the public recipients, so it
cannot read back what it exported. Opening refuses anything a hostile or damaged archive
could use against the analyst's machine: absolute or parent paths, duplicates, links and
devices, oversized entries, and files the signed manifest does not list.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..audit import now_iso
from ..errors import FieldscribeError, InvalidInput
from ..vault import Vault

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_ENTRY = 4 * 1024**3
FORMAT = "fieldscribe-bundle/1"


class BundleRefused(FieldscribeError):
    pass


# -- keys --------------------------------------------------------------------------------------------
def keygen(out: Path) -> tuple[Path, str]:
    """An analysis-team key pair: OUT holds the secret identity, OUT.pub the recipient."""
    from pyrage import x25519

    if out.exists():
        raise InvalidInput(f"{out} already exists; choose a new path (an identity is never overwritten).")
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = out.open("x", encoding="utf-8")
    out.chmod(0o600)
    with fd:
        fd.write(f"# created: {now_iso()}\n# public key: {recipient}\n{identity}\n")
    out.with_name(out.name + ".pub").write_text(recipient + "\n", encoding="utf-8")
    return out, recipient


def read_recipients(values: list[str]) -> list:
    from pyrage import x25519

    out = []
    for value in values:
        text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                try:
                    out.append(x25519.Recipient.from_str(line))
                except Exception:  # pyrage raises its own untyped error for a malformed key
                    raise InvalidInput(f"{line[:20]}… is not an age recipient (age1…); check the study file or --recipient.") from None
    if not out:
        raise InvalidInput("No recipient to encrypt to: add the analysis team's age1… key to the study file "
                           "(export: recipients:) or pass --recipient FILE.")
    return out


def _identity(path: Path):
    from pyrage import x25519

    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise InvalidInput(f"The identity file {path} cannot be read ({exc.strerror}).") from None
    for line in lines:
        if line.startswith("AGE-SECRET-KEY-"):
            return x25519.Identity.from_str(line)
    raise InvalidInput(f"{path} holds no age identity (AGE-SECRET-KEY-…).")


def device_key(vault: Vault) -> Ed25519PrivateKey:
    """This laptop's signing key, made on first export, sealed in the vault."""
    row = vault.db.execute("SELECT sealed FROM study_records WHERE name = 'device_signing_key'").fetchone()
    if row:
        raw = bytes.fromhex(vault.open_json(vault.study_key, row[0], "study", "device_signing_key"))
        return Ed25519PrivateKey.from_private_bytes(raw)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    with vault.db.atomic():
        vault.db["study_records"].insert({
            "name": "device_signing_key", "updated_at": now_iso(),
            "sealed": vault.seal_json(vault.study_key, raw.hex(), "study", "device_signing_key"),
        })
    return key


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


# -- writing -----------------------------------------------------------------------------------------
def write_bundle(files: dict[str, bytes], manifest_extra: dict, signer: Ed25519PrivateKey, recipients: list,
                 out: Path) -> str:
    """Write the sealed bundle; return the SHA-256 of its manifest, which only someone who
    can decrypt the bundle can learn (receipts prove receipt with it)."""
    import pyrage

    manifest = {
        "format": FORMAT, "created_at": now_iso(), "device_public_key": public_hex(signer),
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)} for name, data in files.items()},
        **manifest_extra,
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
    signature = signer.sign(manifest_bytes)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in [(MANIFEST, manifest_bytes), (SIGNATURE, signature), *sorted(files.items())]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    sealed = pyrage.encrypt(buf.getvalue(), recipients)
    partial = out.with_name(out.name + ".partial")
    partial.write_bytes(sealed)
    partial.replace(out)
    return hashlib.sha256(manifest_bytes).hexdigest()


# -- opening -----------------------------------------------------------------------------------------
@dataclass
class Opened:
    manifest: dict
    files: dict[str, bytes]
    manifest_sha256: str = ""


def open_bundle(path: Path, identity_path: Path, trusted_devices: set[str] | None = None) -> Opened:
    import pyrage

    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise BundleRefused(f"The bundle {path} cannot be read ({exc.strerror}).") from None
    identity = _identity(identity_path)
    try:
        plain = pyrage.decrypt(blob, [identity])
    except Exception:  # pyrage.DecryptError and header parse errors alike
        raise BundleRefused(
            f"{path.name} could not be decrypted: it is damaged or truncated, or it was not encrypted to this "
            "identity; check you are using the analysis team's key."
        ) from None
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
            for member in tar:
                name = _safe_name(member.name)
                if not member.isfile():
                    raise BundleRefused(f"{path.name} contains {member.name!r}, which is not a regular file; refused.")
                if member.size > MAX_ENTRY:
                    raise BundleRefused(f"{path.name} contains an oversized entry {member.name!r}; refused.")
                if name in files:
                    raise BundleRefused(f"{path.name} contains {name!r} twice; refused.")
                f = tar.extractfile(member)
                assert f is not None
                files[name] = f.read()
    except tarfile.TarError as exc:
        raise BundleRefused(f"{path.name} is not a valid bundle archive ({exc}).") from None
    if MANIFEST not in files or SIGNATURE not in files:
        raise BundleRefused(f"{path.name} has no signed manifest; refused.")
    manifest_bytes = files.pop(MANIFEST)
    signature = files.pop(SIGNATURE)
    try:
        manifest = json.loads(manifest_bytes)
        device = Ed25519PublicKey.from_public_bytes(bytes.fromhex(manifest["device_public_key"]))
        device.verify(signature, manifest_bytes)
    except (InvalidSignature, ValueError, KeyError):
        raise BundleRefused(f"The manifest of {path.name} is not validly signed; the bundle was altered. Refused.") from None
    if trusted_devices is not None and manifest["device_public_key"] not in trusted_devices:
        raise BundleRefused(f"{path.name} was signed by an unknown device ({manifest['device_public_key'][:16]}…).")
    listed = manifest.get("files", {})
    extra = sorted(set(files) - set(listed))
    missing = sorted(set(listed) - set(files))
    if extra or missing:
        raise BundleRefused(f"{path.name} does not match its manifest (unlisted: {extra}, missing: {missing}); refused.")
    for name, meta in listed.items():
        if hashlib.sha256(files[name]).hexdigest() != meta["sha256"]:
            raise BundleRefused(f"{name} in {path.name} does not match its manifest hash; refused.")
    return Opened(manifest, files, hashlib.sha256(manifest_bytes).hexdigest())


def _safe_name(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith(("/", "\\")) or "\\" in name or not p.parts:
        raise BundleRefused(f"The bundle contains an unsafe path {name!r}; refused.")
    return str(p)


def extract(opened: Opened, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    root = out.resolve()
    for name, data in sorted({**opened.files, MANIFEST: json.dumps(opened.manifest, indent=2).encode()}.items()):
        target = (out / name).resolve()
        if root not in target.parents:
            raise BundleRefused(f"The bundle entry {name!r} would be written outside {out}; refused.")
        if target.exists():
            raise InvalidInput(f"{target} already exists; open the bundle into an empty folder.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written
