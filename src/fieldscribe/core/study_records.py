"""Study-wide records: one sealed JSON value per name in ``study_records``, sealed with the
study key and bound to its name, covered by the study's history (``core/ledger.py``).

The study-level twin of ``participants.get_record``/``put_record``: the replacement table,
study identifiers, the store settings, withdrawal notices, the team's keys and the voice
profiles all live here, read and written the same way.
"""

from __future__ import annotations

from typing import Any

from . import ledger
from .audit import now_iso
from .vault import Vault


def get_study_record(vault: Vault, name: str) -> Any:
    """The value kept under NAME (None when there is none). The study's history is checked
    first, so a record deleted or rolled back on disk is refused, not taken as absent."""
    ledger.check_study(vault)
    row = vault.db.execute("SELECT sealed FROM study_records WHERE name = ?", (name,)).fetchone()
    return None if row is None else vault.open_json(vault.study_key, row[0], "study", name)


def put_study_record(vault: Vault, name: str, value: Any) -> None:
    """Seal VALUE under NAME, replacing what was there. The caller seals the study's history
    in the same transaction (``ledger.update_study``)."""
    vault.db.table("study_records").upsert(
        {"name": name, "sealed": vault.seal_json(vault.study_key, value, "study", name), "updated_at": now_iso()},
        pk="name",
    )


def drop_study_record(vault: Vault, name: str) -> None:
    """Delete the record NAME (the caller seals the study's history in the same transaction)."""
    vault.db.execute("DELETE FROM study_records WHERE name = ?", (name,))
