"""Informed consent, item by item, as an append-only sealed history.

Each decision (given or refused, who took it, when, an optional note) is sealed with the
participant's key. The latest decision per item counts, but earlier ones stay: a
participant who withdraws consent to quotes after wave 1 leaves a record of both.
Audio recording is refused in the core — not merely hidden in the UI — until the
study's audio-recording item is given by every participant in the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ledger
from .audit import now_iso
from .errors import ConsentMissing, InvalidInput
from .participants import require_active
from .paths import actor
from .study import Study
from .vault import Vault


@dataclass(frozen=True)
class ConsentDecision:
    item_id: str
    given: bool
    taken_by: str
    at: str
    note: str = ""


def record_consent(
    vault: Vault,
    study: Study,
    pid: str,
    decisions: dict[str, bool],
    *,
    taken_by: str | None = None,
    notes: dict[str, str] | None = None,
) -> list[ConsentDecision]:
    pid = require_active(vault, pid)
    items = {c.id for c in study.consent}
    unknown = sorted(set(decisions) - items)
    if unknown:
        raise InvalidInput(
            f"Unknown consent item {', '.join(unknown)}; this study's items are {', '.join(c.id for c in study.consent)}."
        )
    key = vault.participant_key(pid)
    who = taken_by or actor()
    out = []
    ledger.check_participant(vault, pid)  # a deleted decision must not be sealed in as history
    with vault.db.atomic():
        for item in study.consent:  # protocol order, so the history reads as it was taken
            if item.id not in decisions:
                continue
            d = ConsentDecision(item.id, bool(decisions[item.id]), who, now_iso(), (notes or {}).get(item.id, ""))
            vault.db.table("consents").insert(
                {
                    "participant_id": pid,
                    "item_id": item.id,
                    "sealed": vault.seal_json(key, d.__dict__, "consent", pid, item.id, d.at),
                    "recorded_at": d.at,
                }
            )
            out.append(d)
        ledger.update_participant(
            vault,
            pid,
            "consent.record",
            pid,
            given=[d.item_id for d in out if d.given],
            refused=[d.item_id for d in out if not d.given],
        )
    return out


def consent_history(vault: Vault, pid: str) -> list[ConsentDecision]:
    """Every decision, oldest first; refused if rows were deleted, rolled back or edited
    (the recording gate reads consent through here)."""
    pid = require_active(vault, pid)
    key = vault.participant_key(pid)
    rows = vault.db.execute(
        "SELECT item_id, sealed, recorded_at FROM consents WHERE participant_id = ? ORDER BY id", (pid,)
    ).fetchall()
    history = [
        ConsentDecision(**vault.open_json(key, sealed, "consent", pid, item_id, at)) for item_id, sealed, at in rows
    ]
    ledger.check_participant(vault, pid)  # each decision authenticates; now the set of them
    return history


def current_consent(vault: Vault, pid: str) -> dict[str, ConsentDecision]:
    latest: dict[str, ConsentDecision] = {}
    for d in consent_history(vault, pid):
        latest[d.item_id] = d
    return latest


COMPLETE, PARTIAL, NO_AUDIO, NONE = "complete", "partial", "no audio", "none"


def consent_state(vault: Vault, study: Study, pid: str) -> str:
    """One word for a person's consent, the same in the app and on the command line:
    complete (every required item given), no audio (audio recording not given), partial, none."""
    state = current_consent(vault, pid)
    if not state:
        return NONE
    if all(state.get(c.id) is not None and state[c.id].given for c in study.consent if c.required):
        return COMPLETE
    audio = state.get(study.audio_consent_item.id)
    if audio is None or not audio.given:
        return NO_AUDIO
    return PARTIAL


def consent_complete(vault: Vault, study: Study, pid: str) -> bool:
    return consent_state(vault, study, pid) == COMPLETE


def require_recording_consent(vault: Vault, study: Study, participant_ids: list[str]) -> None:
    """Raise unless every participant has given (and not since refused) audio consent."""
    item = study.audio_consent_item
    missing = [pid for pid in participant_ids if not _given(vault, pid, item.id)]
    if missing:
        raise ConsentMissing(missing)


def _given(vault: Vault, pid: str, item_id: str) -> bool:
    decision = current_consent(vault, pid).get(item_id)
    return decision is not None and decision.given
