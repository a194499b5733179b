"""A participant's withdrawal, everywhere their data went.

Destroying the participant's data key (``sessions.shred_participant``) makes their records,
consent history and individual interviews unreadable. But what was learnt from them lives on
in three other places, and each is reached here:

* the study-wide **replacement table** (original → descriptor, sealed with the study key):
  every entry that only this participant's interviews put there — their name, relatives'
  names added as their identifiers, anything accepted while reviewing their transcripts — is
  deleted, unless the same words still occur in an interview that stays (then it is still
  needed to de-identify that one);
* the **outbox**: a bundle holding one of their sessions that has not been uploaded is deleted
  and forgotten (held back); the others in it go back to "reviewed" to be exported again;
* the **analysis team**: bundles already uploaded are listed, and a signed withdrawal notice is
  queued for the next ``sync``; ``bundle pull`` deletes what it unpacked from them — the other
  participants' sessions in those bundles too, so those go back to "reviewed" here as well, to
  be exported again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ledger, participants, sessions
from .deid import ner
from .deid.detect import Identifier, find_listed, fold
from .deid.lists import participant_identifiers, replacement_table, save_table, table_origins
from .deid.review import logged_originals
from .errors import ConfirmationMismatch
from .export.outbox import Export, list_exports, remove_export
from .guides import current_guide
from .sync import notices
from .transcripts import current_transcript, load_segments
from .vault import Vault


@dataclass
class WithdrawalReport:
    participant: str
    shredded_sessions: list[str] = field(default_factory=list)  # unreadable from now on
    group_sessions: list[str] = field(default_factory=list)  # focus groups, readable through the others
    held_back: list[str] = field(default_factory=list)  # unsent bundles deleted
    sent: list[str] = field(default_factory=list)  # bundles the team has or may have
    table_entries_removed: int = 0
    notice: str | None = None  # queued for the next sync
    export_again: list[str] = field(default_factory=list)  # others' sessions in their bundles: back to reviewed


@dataclass(frozen=True)
class WithdrawalPlan:
    """Everything withdrawing PID will do, worked out by reading only: the preview the app
    shows before asking, and the list :func:`withdraw` then carries out (one computation, so
    what is shown is what happens)."""

    participant: str
    theirs: tuple[str, ...]  # every session they took part in
    shredded_sessions: tuple[str, ...]  # unreadable from then on
    group_sessions: tuple[str, ...]  # focus groups: stay readable through the other members
    held: tuple[Export, ...]  # unsent bundles to delete
    sent: tuple[Export, ...]  # bundles the team has or may have: a notice goes with the next sync
    requeued: tuple[str, ...]  # other sessions in their bundles (sent or not) that go back to "reviewed"
    table: dict[str, str]  # the replacement table without what only their interviews put there
    origins: dict[str, list[str]]
    table_entries_removed: int

    @property
    def notice(self) -> bool:
        return bool(self.held or self.sent)


def plan_withdrawal(vault: Vault, pid: str) -> WithdrawalPlan:
    """The consequences of withdrawing PID now (nothing is changed; refused, in one sentence,
    for an unknown or already withdrawn participant or a tampered history)."""
    pid = participants.require_active(vault, pid)
    theirs = [
        r[0]
        for r in vault.db.execute(
            "SELECT session_id FROM session_participants WHERE participant_id = ? ORDER BY session_id", (pid,)
        )
    ]
    shredded = participants.sessions_keyed_only_by(vault, pid)
    table, origins, removed = _pruned_table(vault, pid, theirs, shredded)
    held, sent, requeue = _outbox(vault, set(theirs))
    return WithdrawalPlan(
        participant=pid,
        theirs=tuple(theirs),
        shredded_sessions=tuple(shredded),
        group_sessions=tuple(s for s in theirs if s not in shredded),
        held=tuple(held),
        sent=tuple(sent),
        requeued=tuple(
            sid
            for sid in requeue
            if sessions.get_session(vault, sid).status in (sessions.EXPORTED, sessions.SYNCED, sessions.RECEIVED)
        ),
        table=table,
        origins=origins,
        table_entries_removed=removed,
    )


def withdraw(vault: Vault, pid: str, confirmation: str) -> WithdrawalReport:
    """Withdraw PID (the typed confirmation repeats the pseudonym; this cannot be undone)."""
    pid = participants.require_active(vault, pid)
    if confirmation.strip().upper() != pid:
        raise ConfirmationMismatch(pid)
    plan = plan_withdrawal(vault, pid)
    report = WithdrawalReport(
        pid,
        list(plan.shredded_sessions),
        list(plan.group_sessions),
        [e.name for e in plan.held],
        [e.name for e in plan.sent],
        plan.table_entries_removed,
        export_again=list(plan.requeued),
    )
    notice = None
    if plan.notice:
        # held-back bundles are named too: a sync that died between the store's rename and
        # its own record may have delivered one the outbox still calls unsent
        notice = notices.make_notice(
            vault, current_guide(vault).study.study.id, pid, list(plan.theirs), report.sent + report.held_back
        )
        report.notice = notice[0]
    with vault.db.atomic():
        sessions.shred_participant(vault, pid)
        save_table(vault, plan.table, origins=plan.origins)
        for e in plan.held:
            remove_export(vault, e.name)
        for sid in plan.requeued:
            sessions.set_status(vault, sid, sessions.REVIEWED)
        if notice:
            notices.queue(vault, *notice)
        ledger.update_study(
            vault,
            "participant.withdrawal_reach",
            pid,
            table_entries_removed=report.table_entries_removed,
            bundles_held_back=report.held_back,
            bundles_sent=report.sent,
            notice=bool(notice),
        )
    for e in plan.held:  # after the commit: ciphertext only the team could read, now never sent
        if e.path.name == e.name:  # never another file, whatever the outbox row says
            e.path.unlink(missing_ok=True)
    vault.forget_participant_key(pid)
    ner.forget()
    vault.shred_residue()
    return report


def _pruned_table(
    vault: Vault, pid: str, theirs: list[str], shredded: list[str]
) -> tuple[dict[str, str], dict[str, list[str]], int]:
    """The replacement table without what only PID's interviews put there, and how many
    entries that leaves out."""
    table, origins = replacement_table(vault), table_origins(vault)
    own = {i.text for i in participant_identifiers(vault, pid)}
    logged: set[str] = set()
    for sid in shredded:
        logged |= logged_originals(vault, sid)
    staying = _staying_text(vault, set(shredded))
    folded = fold(staying)

    def still_said(original: str, descriptor: str) -> bool:
        # whole words, as detection matches them: "Ann" is not kept because someone said "Annual"
        return bool(find_listed(staying, [Identifier(original, descriptor, "identifier")], folded))

    kept: dict[str, str] = {}
    removed = 0
    for original, descriptor in table.items():
        came_from = origins.get(original)
        only_theirs = set(came_from) <= set(theirs) if came_from else (original in own or original in logged)
        if only_theirs and not still_said(original, descriptor):
            removed += 1
            continue
        kept[original] = descriptor
    return kept, {o: [s for s in sids if s not in shredded] for o, sids in origins.items() if o in kept}, removed


def _staying_text(vault: Vault, shredded: set[str]) -> str:
    """The current transcripts of every interview that stays readable, as one text."""
    parts = []
    for s in sessions.list_sessions(vault):
        if s.id in shredded or s.status in (sessions.PURGED, sessions.WITHDRAWN):
            continue
        t = current_transcript(vault, s.id)
        if t is not None:
            parts += [seg.text for seg in load_segments(vault, t)]
    return "\n".join(parts)


def _outbox(vault: Vault, theirs: set[str]) -> tuple[list[Export], list[Export], list[str]]:
    """(bundles to hold back, bundles already sent, other sessions to export again)."""
    held: list[Export] = []
    sent: list[Export] = []
    for e in list_exports(vault):
        if not theirs & set(e.sessions):
            continue
        (sent if e.uploaded_at or e.received_at else held).append(e)
    # the team deletes every bundle that held their sessions, so the others in it, sent or not,
    # must be exported again for the team to keep them
    requeue = sorted({sid for e in [*held, *sent] for sid in e.sessions} - theirs)
    return held, sent, requeue
