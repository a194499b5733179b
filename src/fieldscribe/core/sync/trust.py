"""Which keys the analysis side believes, and which key the laptop believes receipts from.

A signature proves only that *some* key signed; what matters is whose. A bundle's manifest
carries its device's public key, so checking the signature against that key alone would let
anyone with write access to the store plant a bundle under a laptop's folder. The analysis
side therefore pins device keys:

* a study file may list the laptops' keys (``export: device_keys:``), and then nothing else
  is accepted;
* otherwise the first key seen for a study's device folder is pinned (trust on first use) in a
  file in the analyst's user data folder, and a later bundle or notice signed by another key
  for the same folder is refused.

On the laptop, receipts are believed only when signed by a receipt key the study file lists
(``export: receipt_keys:``, printed by ``fieldscribe bundle keygen``), and the list is taken
from study files whose text the vault has authenticated (see ``guides.load_guide``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import crypto
from ..errors import FieldscribeError, InvalidInput
from ..export.keys import identity_secret, public_hex

KEY_HEX = re.compile(r"^[0-9a-f]{64}$")
PINS_NAME = "trusted-devices.json"


class UntrustedKey(FieldscribeError):
    """Signed, but not by a key this side has reason to believe."""


def is_key_hex(text: object) -> bool:
    return isinstance(text, str) and bool(KEY_HEX.match(text))


# -- the team's receipt key ----------------------------------------------------------------------------
def receipt_signing_key(identity_path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key the team signs receipts with, derived from its age identity, so one
    secret file is all the team keeps."""
    secret = identity_secret(identity_path)  # bounded, regular file, one sentence otherwise
    return Ed25519PrivateKey.from_private_bytes(crypto.subkey(secret.encode(), "receipt-signing"))


def receipt_key_hex(identity_path: Path) -> str:
    """What the study file lists under ``export: receipt_keys:``."""
    return public_hex(receipt_signing_key(identity_path))


# -- device keys on the analysis side --------------------------------------------------------------------
def pins_path() -> Path:
    override = os.environ.get("FIELDSCRIBE_TRUST_FILE")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("fieldscribe", appauthor=False) / PINS_NAME


class DeviceTrust:
    """Device keys the analysis side accepts: a fixed list (from the study file) or the
    keys pinned on first use, per study and device folder."""

    def __init__(self, listed: set[str] | None = None, path: Path | None = None) -> None:
        self.listed = {k.lower() for k in (listed or set())}
        self.path = path or pins_path()
        self._pins: dict[str, str] | None = None

    def _load(self) -> dict[str, str]:
        if self._pins is None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                data = {}
            except (OSError, ValueError) as exc:
                raise InvalidInput(
                    f"The list of trusted devices {self.path} cannot be read ({exc}); "
                    "restore it from a backup or move it away to start trusting afresh."
                ) from None
            if not isinstance(data, dict) or not all(is_key_hex(v) for v in data.values()):
                raise InvalidInput(
                    f"The list of trusted devices {self.path} is damaged; restore it from a backup "
                    "or move it away to start trusting afresh."
                )
            self._pins = {str(k): str(v) for k, v in data.items()}
        return self._pins

    def known(self, study: str, device: str) -> str | None:
        """The key pinned for this folder, if any (listed keys pin nothing)."""
        return self._load().get(f"{study}/{device}")

    def check(self, study: str, device: str, key_hex: str, *, what: str) -> str:
        """Accept KEY_HEX for STUDY/DEVICE or raise :class:`UntrustedKey`; returns how it
        was trusted: 'listed', 'pinned' (seen before) or 'new' (pinned now)."""
        key_hex = str(key_hex).lower()
        if not is_key_hex(key_hex):
            raise UntrustedKey(f"{what} carries no valid device key; refused.")
        if self.listed:
            if key_hex in self.listed:
                return "listed"
            raise UntrustedKey(
                f"{what} is signed by device key {key_hex[:16]}…, which the study file does not "
                "list under export: device_keys; refused."
            )
        pins = self._load()
        folder = f"{study}/{device}"
        pinned = pins.get(folder)
        if pinned == key_hex:
            return "pinned"
        if pinned is not None:
            raise UntrustedKey(
                f"{what} is signed by device key {key_hex[:16]}…, but this device folder's bundles "
                f"have been signed by {pinned[:16]}… until now; refused (someone else may have "
                "written to the store — ask the interviewer which key their laptop shows)."
            )
        return "new"

    def pin(self, study: str, device: str, key_hex: str) -> None:
        """Remember the key once what it signed has been verified and accepted."""
        if self.listed:
            return
        pins = self._load()
        pins[f"{study}/{device}"] = key_hex.lower()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.path.with_name(self.path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(pins, f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(self.path)
