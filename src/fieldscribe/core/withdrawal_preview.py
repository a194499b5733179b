"""What withdrawing a participant would do, worked out without changing anything.

The confirmation the interviewer is asked for should show the consequences, not only warn:
which interviews become unreadable, which focus groups stay readable through the others,
which unsent bundles are held back and deleted, which bundles the analysis team already has
(a signed withdrawal notice goes to them), and how many names leave the study's replacement
table. This module reaches each of those the way :func:`core.withdrawal.withdraw` does — the
same queries and the same whole-word test of what is still said in the interviews that stay —
but only reads; ``tests/test_admin_services.py`` checks that a preview and the withdrawal that
follows it agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import participants, sessions
from .deid.detect import Identifier, find_listed, fold
from .deid.review import logged_originals, participant_identifiers, replacement_table, table_origins
from .export.outbox import Export, list_exports
from .transcripts import current_transcript, load_segments
from .vault import Vault


@dataclass(frozen=True)
class WithdrawalPreview:
    participant: str
    shredded_sessions: tuple[str, ...]  # unreadable from then on
    group_sessions: tuple[str, ...]  # focus groups: stay readable through the other members
    held_back: tuple[str, ...]  # unsent bundles that would be deleted
    sent: tuple[str, ...]  # bundles the team has or may have: a notice goes with the next sync
    requeued: tuple[str, ...]  # other sessions in held-back bundles: back to "reviewed"
    table_entries_removed: int
    notice: bool  # a signed withdrawal notice would be queued


def preview_withdrawal(vault: Vault, pid: str) -> WithdrawalPreview:
    """The consequences of withdrawing PID now (nothing is changed; refused, in one
    sentence, for an unknown or already withdrawn participant or a tampered history)."""
    pid = participants.require_active(vault, pid)
    theirs = [
        r[0]
        for r in vault.db.execute(
            "SELECT session_id FROM session_participants WHERE participant_id = ? ORDER BY session_id", (pid,)
        )
    ]
    shredded = participants.sessions_keyed_only_by(vault, pid)
    held: list[Export] = []
    sent: list[Export] = []
    for e in list_exports(vault):
        if set(theirs) & set(e.sessions):
            (sent if e.uploaded_at or e.received_at else held).append(e)
    requeue = sorted({sid for e in held for sid in e.sessions} - set(theirs))
    return WithdrawalPreview(
        participant=pid,
        shredded_sessions=tuple(shredded),
        group_sessions=tuple(s for s in theirs if s not in shredded),
        held_back=tuple(e.name for e in held),
        sent=tuple(e.name for e in sent),
        requeued=tuple(sid for sid in requeue if sessions.get_session(vault, sid).status == sessions.EXPORTED),
        table_entries_removed=_entries_removed(vault, pid, theirs, shredded),
        notice=bool(held or sent),
    )


def _entries_removed(vault: Vault, pid: str, theirs: list[str], shredded: list[str]) -> int:
    """How many replacement-table entries only PID's interviews put there and no interview
    that stays still says (withdrawal deletes exactly these)."""
    table, origins = replacement_table(vault), table_origins(vault)
    own = {i.text for i in participant_identifiers(vault, pid)}
    logged: set[str] = set()
    for sid in shredded:
        logged |= logged_originals(vault, sid)
    staying = _staying_text(vault, set(shredded))
    folded = fold(staying)
    removed = 0
    for original, descriptor in table.items():
        came_from = origins.get(original)
        only_theirs = set(came_from) <= set(theirs) if came_from else (original in own or original in logged)
        if only_theirs and not find_listed(staying, [Identifier(original, descriptor, "identifier")], folded):
            removed += 1
    return removed


def _staying_text(vault: Vault, shredded: set[str]) -> str:
    parts = []
    for s in sessions.list_sessions(vault):
        if s.id in shredded or s.status in (sessions.PURGED, sessions.WITHDRAWN):
            continue
        t = current_transcript(vault, s.id)
        if t is not None:
            parts += [seg.text for seg in load_segments(vault, t)]
    return "\n".join(parts)
