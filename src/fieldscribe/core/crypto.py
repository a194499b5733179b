"""The few cryptographic building blocks the vault uses, all from `cryptography`.

Nothing here is a new construction: Argon2id (RFC 9106 parameters) turns a passphrase into
a key-encryption key, HKDF-SHA256 derives purpose-bound subkeys from high-entropy keys,
and AES-256-GCM seals every value with a random 96-bit nonce. The associated data always
names the vault and the record, so a ciphertext moved to another row, field or vault fails
authentication instead of decrypting as the wrong person's data.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import KeySettingsTampered

KEY_BYTES = 32
NONCE_BYTES = 12
SEAL_VERSION = b"\x01"
RECOVERY_KEY_BYTES = 20  # 160 bits, written down on paper as 8 groups of 4 base32 letters


class AuthenticationFailed(Exception):
    """A ciphertext did not verify under this key and associated data.

    Internal: callers translate it into a typed user error that names the record, or into
    a wrong-passphrase error when it happens while unwrapping the master key.
    """


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost, stored beside the wrapped key so it can be raised for new vaults
    without breaking old ones. Defaults: RFC 9106's second recommended option (64 MiB,
    t=3, p=4), about 0.2 s on a 2-core laptop."""

    memory_kib: int = 64 * 1024
    iterations: int = 3
    lanes: int = 4

    def to_dict(self) -> dict[str, int]:
        return {"memory_kib": self.memory_kib, "iterations": self.iterations, "lanes": self.lanes}

    @classmethod
    def from_dict(cls, d: object) -> KdfParams:
        """Parameters read back from a vault file, which anyone with the file can edit.

        They are used before the passphrase can be checked, so an edited value must not be
        able to exhaust memory (a huge memory_kib), hang unlock (huge iterations) or crash
        it (a string, a float, a missing key): anything outside :data:`KDF_BOUNDS`, or not
        exactly the three integer fields, raises :class:`KeySettingsTampered`."""
        if not isinstance(d, dict):
            raise KeySettingsTampered(f"expected the three Argon2id settings, found {type(d).__name__}")
        if set(d) != set(KDF_BOUNDS):  # the names found are not echoed: they may hold terminal escapes
            raise KeySettingsTampered(f"expected exactly {', '.join(KDF_BOUNDS)}, found a different set of fields")
        for name, (low, high) in KDF_BOUNDS.items():
            value = d[name]
            if type(value) is not int:  # not bool, float or str: JSON gives ints for what we wrote
                raise KeySettingsTampered(f"{name} is {type(value).__name__}, not a whole number")
            if not low <= value <= high:
                raise KeySettingsTampered(
                    f"{name} is {value if abs(value) < 10**12 else 'huge'}, outside {low} to {high}"
                )
        return cls(memory_kib=d["memory_kib"], iterations=d["iterations"], lanes=d["lanes"])

    @classmethod
    def from_json(cls, text: object) -> KdfParams:
        """:meth:`from_dict` for the JSON text stored in the vault: malformed JSON is tampering too."""
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise KeySettingsTampered("they are not text") from None
        if not isinstance(text, str) or len(text) > 1000:
            raise KeySettingsTampered("they are not the short JSON text fieldscribe writes")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise KeySettingsTampered("they are not valid JSON") from None
        return cls.from_dict(data)


# What from_dict accepts: memory 8 MiB to 1 GiB (in KiB), 1 to 10 passes, 1 to 64 lanes. The
# defaults (64 MiB, 3, 4) and the tests' cheap FAST_KDF (8 MiB, 1, 1) are inside; the ceiling
# is 16x the default memory, yet the worst an edited value can cost an ordinary laptop is
# about ten seconds and 1 GiB before the passphrase is refused (4 GiB would swap or fail).
KDF_BOUNDS: dict[str, tuple[int, int]] = {
    "memory_kib": (8 * 1024, 1024 * 1024),
    "iterations": (1, 10),
    "lanes": (1, 64),
}


def random_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def random_salt() -> bytes:
    return secrets.token_bytes(16)


def passphrase_key(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    ).derive(passphrase.encode("utf-8"))


def subkey(key: bytes, purpose: str, salt: bytes | None = None) -> bytes:
    """Derive an independent key for one purpose, so that no key is ever used for two jobs."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=b"fieldscribe/" + purpose.encode()).derive(
        key
    )


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != SEAL_VERSION:
        raise AuthenticationFailed("malformed ciphertext")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + NONCE_BYTES :], aad)
    except InvalidTag:
        raise AuthenticationFailed("authentication tag mismatch") from None


def new_recovery_key() -> bytes:
    return secrets.token_bytes(RECOVERY_KEY_BYTES)


def format_recovery_key(raw: bytes) -> str:
    text = base64.b32encode(raw).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes | None:
    """Accept what a person types back from paper: any case, dashes or spaces anywhere,
    and the usual misreadings of 0/O, 1/I and 8/B. Returns None when it cannot be a key."""
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.replace("0", "O").replace("1", "I").replace("8", "B")
    if len(cleaned) != RECOVERY_KEY_BYTES * 8 // 5:
        return None
    try:
        return base64.b32decode(cleaned)
    except ValueError:
        return None
