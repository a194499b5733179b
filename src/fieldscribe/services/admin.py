"""Services for the study's administration from inside the app: consent taken again, the
identifiers to look for, the analysis team's key, the study store, purge and withdrawal.

Every method is a thin wrapper over the core (which checks and audits what the command line's
commands check and audit) and hands back frozen views defined here. Each irreversible action
comes in two calls: a preview, computed without changing anything, that says what will happen
and which phrase confirms it, then the action itself, which takes that phrase. Methods marked
``@counted`` decrypt many records or talk to the network: call them from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..core.errors import InvalidInput
from .calls import ServiceBase, counted

# -- views -------------------------------------------------------------------------------------

RecipientSource = Literal["app", "vault", "study_file", "older_study_file"]


@dataclass(frozen=True)
class RecipientKey:
    recipient: str  # age1… (or, for "app", a key file's path as the app was started with)
    source: RecipientSource  # app: given when the app started; vault: set in the app or CLI;
    # study_file: the newest study file; older_study_file: only older versions name it
    in_use: bool  # exports with no other choice encrypt to this key now


@dataclass(frozen=True)
class RecipientsView:
    keys: tuple[RecipientKey, ...]  # every key known, the one(s) in use first
    source: RecipientSource | None  # where exports take their keys from (None: nowhere for new sessions)
    summary: str  # one sentence for the screen


@dataclass(frozen=True)
class ConsentItemState:
    id: str
    text: str
    required: bool
    audio_recording: bool  # the item the recording gate checks (asked last, on its own)
    given: bool | None  # the latest decision; None: never asked
    taken_by: str | None
    at: str | None  # ISO time of the latest decision
    note: str  # the latest decision's note ("" when none)


@dataclass(frozen=True)
class ConsentStatus:
    participant: str
    state: str  # complete | partial | no audio | none (core.consent.consent_state)
    items: tuple[ConsentItemState, ...]  # protocol order, the audio item last


@dataclass(frozen=True)
class IdentifierView:
    text: str
    descriptor: str  # what replaces it in exports, e.g. [sister]
    kind: str  # name | contact | identifier
    source: Literal["participant", "added", "study_file"]  # the person's own record; added in the
    # app or CLI; named by a version of the study file (sites, staff, places: not editable here)


@dataclass(frozen=True)
class StoreSettingsView:
    url: str | None  # the saved address as typed (never holds a password), for editing
    address: str | None  # the address for display
    source: Literal["vault", "study_file"] | None  # where the address comes from (None: not set)
    identity_file: str | None  # SSH key (None: the agent and ~/.ssh defaults)
    known_hosts: str | None  # None: ~/.ssh/known_hosts
    password_set: bool  # a password is kept sealed (it is never shown)
    environment: tuple[str, ...]  # FIELDSCRIBE_* variables set now, which override the saved values


StoreOutcome = Literal["reachable", "host_key", "refused", "unreachable", "invalid", "not_set"]


@dataclass(frozen=True)
class StoreTestView:
    outcome: StoreOutcome  # reachable | host_key (unknown or changed) | refused (login or
    # permissions) | unreachable | invalid (address, key file) | not_set
    sentence: str
    address: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "reachable"


@dataclass(frozen=True)
class PurgePreview:
    sessions: tuple[str, ...]  # received sessions whose receipt verifies now (empty: nothing to purge)
    confirmation: str  # the phrase to type ("" when there is nothing to purge)
    audio_bytes: int  # the recordings' size on disk, freed by the purge
    deletes: tuple[str, ...]  # sentences: what is destroyed
    keeps: tuple[str, ...]  # sentences: what stays


@dataclass(frozen=True)
class PurgeResult:
    sessions: tuple[str, ...]
    sentence: str


@dataclass(frozen=True)
class WithdrawalPreviewView:
    participant: str
    confirmation: str  # type this (the pseudonym) to confirm
    sessions_destroyed: tuple[str, ...]  # unreadable for good
    group_sessions_kept: tuple[str, ...]  # focus groups: readable through the other members
    bundles_held_back: tuple[str, ...]  # not sent yet: deleted
    bundles_sent: tuple[str, ...]  # the team has them: a signed notice goes with the next sync
    sessions_to_export_again: tuple[str, ...]  # others in held-back bundles: back to "reviewed"
    table_entries_removed: int  # names only their interviews put in the replacement table
    notice: bool  # a withdrawal notice will be queued for the team
    consequences: tuple[str, ...]  # the above as sentences, in the order to show them


@dataclass(frozen=True)
class WithdrawalResult:
    participant: str
    sessions_destroyed: tuple[str, ...]
    group_sessions_kept: tuple[str, ...]
    bundles_held_back: tuple[str, ...]
    bundles_sent: tuple[str, ...]
    table_entries_removed: int
    notice: str | None  # the queued notice's name
    sentences: tuple[str, ...]  # what was done, to show after


# -- the services ------------------------------------------------------------------------------

_RECIPIENT_SUMMARY = {
    "app": "Exports are encrypted to the key(s) the app was started with; the study's key is not used.",
    "vault": "Exports are encrypted to the analysis team's key set for this study, for every session.",
    "study_file": "Exports are encrypted to the key in the study file; set the team's key here to use another.",
}


class StudyAdmin(ServiceBase):
    """Study settings, people and trust (mixed into :class:`~.app_services.Services`)."""

    export_recipients: list[str] | None = None  # Services: the app's own override, if started with one

    # -- the analysis team's key ----------------------------------------------------------------
    def recipients(self) -> RecipientsView:
        """Every key bundles could be encrypted to, where each comes from, and which are used:
        the app's own override > the study's key in the vault > the newest study file > (for
        sessions planned with it) an older study file."""
        from ..core.export.recipients import known_recipients

        known = known_recipients(self.vault)
        source: RecipientSource | None = "app" if self.export_recipients else known.source
        keys = (
            [RecipientKey(r, "app", source == "app") for r in self.export_recipients or []]
            + [RecipientKey(r, "vault", source == "vault") for r in known.vault]
            + [RecipientKey(r, "study_file", source == "study_file") for r in known.study_file]
            + [RecipientKey(r, "older_study_file", False) for r in known.older_study_files]
        )
        if source is not None:
            summary = _RECIPIENT_SUMMARY[source]
        elif known.older_study_files:
            summary = (
                "Only an older version of the study file names a key, so only sessions planned with it can be "
                "exported; set the analysis team's key to export every session."
            )
        else:
            summary = "No key for the analysis team is set: set their age1… key (or .pub file) before exporting."
        return RecipientsView(tuple(keys), source, summary)

    def set_recipient(self, text: str) -> RecipientsView:
        """Keep the analysis team's key for the whole study (every session, planned before or
        after): an age1… line, the contents of their .pub file, or its path. Replaces the key
        set before; checked, sealed in the vault and audited."""
        from ..core.export.recipients import set_study_recipients

        set_study_recipients(self.vault, text)
        return self.recipients()

    def clear_recipient(self) -> RecipientsView:
        """Forget the study's key in the vault (exports fall back to the study file's); audited."""
        from ..core.export.recipients import clear_study_recipients

        clear_study_recipients(self.vault)
        return self.recipients()

    # -- consent --------------------------------------------------------------------------------
    def consent_items(self, pid: str) -> list[ConsentItemState]:
        """The current study's consent items with the participant's latest decision on each,
        in protocol order with the audio-recording item last."""
        return list(self._consent_status(pid).items)

    def record_consent(
        self,
        pid: str,
        decisions: dict[str, bool],
        notes: dict[str, str] | None = None,
        *,
        taken_by: str | None = None,
    ) -> ConsentStatus:
        """Record the items answered now (taking consent, or taking some items again); the
        others keep their earlier decision. The history keeps every decision. A note belongs
        to an item answered now."""
        from ..core import consent
        from ..core.guides import current_guide

        if not decisions:
            raise InvalidInput("No consent item was answered; read an item out and record the answer.")
        stray = sorted(set(notes or {}) - set(decisions))
        if stray:
            raise InvalidInput(
                f"A note was given for {stray[0]!r}, which is not answered now; answer it or drop the note."
            )
        study = current_guide(self.vault).study
        consent.record_consent(
            self.vault,
            study,
            pid,
            decisions,
            taken_by=taken_by or None,
            notes={k: v.strip() for k, v in (notes or {}).items() if v.strip()},
        )
        return self._consent_status(pid)

    def consent_status(self, pid: str) -> ConsentStatus:
        """The participant's consent state and the latest decision on each item."""
        return self._consent_status(pid)

    def _consent_status(self, pid: str) -> ConsentStatus:
        from ..core import consent
        from ..core.guides import current_guide
        from ..core.participants import require_active

        pid = require_active(self.vault, pid)
        study = current_guide(self.vault).study
        latest = consent.current_consent(self.vault, pid)
        ordered = [*(c for c in study.consent if not c.audio_recording), study.audio_consent_item]
        items = []
        for c in ordered:
            d = latest.get(c.id)
            items.append(
                ConsentItemState(
                    c.id,
                    c.text,
                    c.required,
                    c.audio_recording,
                    None if d is None else d.given,
                    None if d is None else d.taken_by,
                    None if d is None else d.at,
                    "" if d is None else d.note,
                )
            )
        return ConsentStatus(pid, consent.consent_state(self.vault, study, pid), tuple(items))

    # -- identifiers ----------------------------------------------------------------------------
    def participant_identifiers(self, pid: str) -> list[IdentifierView]:
        """The person's own name and contact details and what was added for them (sealed with
        their key; never exported)."""
        from ..core.deid.lists import participant_identifiers

        return [
            IdentifierView(i.text, i.descriptor, i.kind, "participant")
            for i in participant_identifiers(self.vault, pid)
        ]

    def add_participant_identifiers(self, pid: str, entries: list[str]) -> list[IdentifierView]:
        """Add 'TEXT' or 'TEXT=DESCRIPTOR' entries (e.g. 'Mary=sister'); returns the whole list."""
        from ..core.deid.lists import add_participant_identifiers

        add_participant_identifiers(self.vault, pid, _entries(entries))
        return self.participant_identifiers(pid)

    def study_identifiers(self) -> list[IdentifierView]:
        """What is looked for in every transcript: added in the app or CLI, then what the
        study file names (sites, staff, places)."""
        from ..core.deid.lists import added_study_identifiers, study_file_identifiers

        added = [IdentifierView(i.text, i.descriptor, i.kind, "added") for i in added_study_identifiers(self.vault)]
        listed = [
            IdentifierView(i.text, i.descriptor, i.kind, "study_file") for i in study_file_identifiers(self.vault)
        ]
        return added + listed

    def add_study_identifiers(self, entries: list[str]) -> list[IdentifierView]:
        """Add 'TEXT' or 'TEXT=DESCRIPTOR' entries for the whole study; returns the whole list."""
        from ..core.deid.lists import add_study_identifiers

        add_study_identifiers(self.vault, _entries(entries))
        return self.study_identifiers()

    # -- the study store ------------------------------------------------------------------------
    def store_settings(self) -> StoreSettingsView:
        """Where sync goes and with which key files; whether a password is kept (never which)."""
        import os

        from ..core.guides import current_guide
        from ..core.sync.settings import ENV_KEY, ENV_KNOWN_HOSTS, ENV_PASSWORD, saved_remote
        from ..core.sync.store import parse_address

        saved = saved_remote(self.vault)
        url = saved.get("url")
        source: Literal["vault", "study_file"] | None = "vault" if url else None
        if not url:
            url = current_guide(self.vault).study.sync.remote
            source = "study_file" if url else None
        address = None
        if url:
            try:
                address = parse_address(url).display
            except InvalidInput:
                address = url  # a study file's address fieldscribe cannot use: shown as written
        return StoreSettingsView(
            url=url or None,
            address=address,
            source=source,
            identity_file=saved.get("identity_file"),
            known_hosts=saved.get("known_hosts"),
            password_set=bool(saved.get("password")),
            environment=tuple(v for v in (ENV_KEY, ENV_KNOWN_HOSTS, ENV_PASSWORD) if os.environ.get(v)),
        )

    def save_store(
        self,
        url: str,
        *,
        identity_file: str | None = None,
        known_hosts: str | None = None,
        password: str | None = None,
    ) -> StoreSettingsView:
        """Save the store's address (sftp://user@host/path, webdav(s)://user@host/path or
        file:///folder) and the files to log in with; sealed in the vault and audited.

        PASSWORD: None keeps the password saved before, if the host and user are unchanged
        (a password is never carried to another server); "" removes it."""
        from ..core.sync.settings import save_remote, saved_remote
        from ..core.sync.store import parse_address

        address = parse_address(url)
        files = {}
        for what, value in (("SSH key", identity_file), ("known_hosts file", known_hosts)):
            path = (value or "").strip()
            if path:
                path = str(Path(path).expanduser())
                if not Path(path).is_file():
                    raise InvalidInput(f"The {what} {path} does not exist; give the path of the file.")
            files[what] = path or None
        if password is None:
            saved = saved_remote(self.vault)
            before = None
            if saved.get("url"):
                try:
                    before = parse_address(str(saved["url"]))
                except InvalidInput:
                    before = None
            same = before is not None and (before.scheme, before.host, before.port, before.user) == (
                address.scheme,
                address.host,
                address.port,
                address.user,
            )
            password = saved.get("password") if same else None
        save_remote(
            self.vault,
            url,
            identity_file=files["SSH key"],
            known_hosts=files["known_hosts file"],
            password=password or None,
        )
        return self.store_settings()

    @counted
    def test_store(self, timeout_s: float = 10.0) -> StoreTestView:
        """Connect to the store with the saved settings, make and list this laptop's folder
        for the study, upload nothing; one sentence (call from a worker: up to ~TIMEOUT_S + 5 s)."""
        from ..core.sync.check import check_store
        from ..core.sync.push import device_folder
        from ..core.sync.settings import resolve

        try:
            url, creds = resolve(self.vault)
        except InvalidInput:
            return StoreTestView(
                "not_set", "No study store is set; enter its address (e.g. sftp://user@host/path) first.", None
            )
        folder = device_folder(self.vault)
        result = check_store(url, creds, folder, timeout=timeout_s)
        return StoreTestView(result.outcome, result.sentence, result.address)

    # -- purge ----------------------------------------------------------------------------------
    @counted
    def purge_preview(self) -> PurgePreview:
        """The sessions the analysis team has confirmed receiving (receipts verified now), the
        phrase that confirms purging them, and what is destroyed and kept."""
        from ..core.recordings import audio_path
        from ..core.sync.purge import confirmation_phrase, purgeable

        ids = purgeable(self.vault)
        if not ids:
            return PurgePreview(
                (),
                "",
                0,
                (),
                ("No session has a verified receipt from the analysis team yet; sync to collect receipts.",),
            )
        size = 0
        for sid in ids:
            path = audio_path(self.vault, sid)
            size += path.stat().st_size if path.is_file() else 0
        listed = ", ".join(ids)
        deletes = (
            f"The recordings of {listed} ({size / 1e6:.1f} MB) are destroyed.",
            "Their transcripts, timelines, field notes and redaction reviews become unreadable for good: "
            "their keys are destroyed.",
        )
        keeps = (
            "The analysis team keeps the de-identified bundles; their receipts stay in the outbox.",
            "Participants' records and consent history, and the audit trail, stay.",
        )
        return PurgePreview(tuple(ids), confirmation_phrase(ids), size, deletes, keeps)

    @counted
    def purge(self, confirmation: str) -> PurgeResult:
        """Purge every received session; CONFIRMATION is the preview's phrase (refused, with
        nothing changed, when it does not match — e.g. when another receipt arrived since)."""
        from ..core.sync.purge import purge_received

        ids = purge_received(self.vault, confirmation)
        return PurgeResult(tuple(ids), f"Purged {', '.join(ids)}: their raw data is gone from this laptop.")

    # -- withdrawal -----------------------------------------------------------------------------
    @counted
    def withdrawal_preview(self, pid: str) -> WithdrawalPreviewView:
        """What withdrawing PID would do, changing nothing (reads every transcript that stays:
        call from a worker)."""
        from ..core.withdrawal import plan_withdrawal

        p = plan_withdrawal(self.vault, pid)
        pid = p.participant
        held_back, sent = tuple(e.name for e in p.held), tuple(e.name for e in p.sent)
        lines = []
        if p.shredded_sessions:
            lines.append(f"Their interviews {', '.join(p.shredded_sessions)} become unreadable for good.")
        lines.append(f"{pid}'s records, questionnaire answers and consent history become unreadable for good.")
        if p.group_sessions:
            lines.append(
                f"Focus groups {', '.join(p.group_sessions)} stay readable through the other members; remove "
                f"{pid}'s contributions when you review them."
            )
        if p.table_entries_removed:
            lines.append(
                f"{p.table_entries_removed} name(s) only {pid}'s interviews added leave the study's replacement table."
            )
        if held_back:
            again = f"; export {', '.join(p.requeued)} again" if p.requeued else ""
            lines.append(f"Bundles not sent yet are deleted: {', '.join(held_back)}{again}.")
        if sent:
            lines.append(
                f"The analysis team already has {', '.join(sent)}: a signed withdrawal notice goes with the next sync."
            )
        lines.append(f"The pseudonym {pid} will not be reused. This cannot be undone.")
        return WithdrawalPreviewView(
            pid,
            pid,
            p.shredded_sessions,
            p.group_sessions,
            held_back,
            sent,
            p.requeued,
            p.table_entries_removed,
            p.notice,
            tuple(lines),
        )

    @counted
    def withdraw(self, pid: str, confirmation: str) -> WithdrawalResult:
        """Withdraw PID; CONFIRMATION repeats the pseudonym (refused, nothing changed, otherwise)."""
        from ..core import withdrawal

        r = withdrawal.withdraw(self.vault, pid, confirmation)  # forgets their cached name-finder results too
        lines = [f"{r.participant} withdrawn; their data key was destroyed."]
        if r.shredded_sessions:
            lines.append(f"Interviews destroyed with them: {', '.join(r.shredded_sessions)}.")
        if r.group_sessions:
            lines.append(f"Focus groups {', '.join(r.group_sessions)} stay; remove their contributions in review.")
        if r.held_back:
            lines.append(f"Held back and deleted {len(r.held_back)} unsent bundle(s); export the other sessions again.")
        if r.sent:
            lines.append("A signed withdrawal notice goes to the analysis team with the next sync.")
        return WithdrawalResult(
            r.participant,
            tuple(r.shredded_sessions),
            tuple(r.group_sessions),
            tuple(r.held_back),
            tuple(r.sent),
            r.table_entries_removed,
            r.notice,
            tuple(lines),
        )


def _entries(entries: list[str]) -> list[str]:
    kept = [e.strip() for e in entries if e.strip()]
    if not kept:
        raise InvalidInput("Nothing to add; type a name or place (TEXT, or TEXT=DESCRIPTOR such as Mary=sister).")
    return kept
