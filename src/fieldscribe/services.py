"""The services one unlocked vault offers the interactive app.

The Textual app never reaches into the core itself: it is handed a :class:`Services`
(tests hand it one with a fake sound source, or a fake altogether) and calls plain,
blocking methods from its thread workers. Nothing here imports Textual, so the same object
could serve another front end, and the layering test keeps it that way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core import consent, participants, sessions
from .core.errors import InvalidInput
from .core.guides import current_guide, load_guide
from .core.study import Domain, Question, Study, StudyFile
from .core.vault import Vault

TAMPERED = "tampered"  # a row whose history was edited on disk (its sentence is under "needs attention")
# how the app words core.overview's attention items (tampered ones carry their own sentence)
_ATTENTION = {
    "interrupted": "{id}: a recording was interrupted — it will be recovered on unlock.",
    "consent": "{id}: consent {detail}.",
    sessions.RECORDED: "{id}: recorded, not transcribed yet.",
    sessions.TRANSCRIBED: "{id}: transcript waiting for review.",
    sessions.EXPORTED: "{id}: exported, not synced to the study store yet (press U).",
    sessions.RECEIVED: "{id}: received by the analysis team; its raw data can be purged.",
}


@dataclass(frozen=True)
class ParticipantRow:
    id: str
    group: str
    wave: int | None
    consent: str  # complete | partial | none | no audio | withdrawn
    sessions: str  # "S1 recorded, S3 planned"


@dataclass(frozen=True)
class SessionRow:
    id: str
    kind: str
    wave: int
    participants: tuple[str, ...]
    status: str  # a session status, or "transcribing 40%"


@dataclass(frozen=True)
class Dashboard:
    study_title: str
    sites: list[str]
    participants: list[ParticipantRow]
    sessions: list[SessionRow]
    attention: list[str] = field(default_factory=list)


class Services:
    """Open a vault folder; unlock it; then every field-day operation the app offers."""

    def __init__(
        self,
        vault_path: str | Path,
        *,
        source_factory: Callable[[], Any] | None = None,
        recorder_config: Callable[[], Any] | None = None,
        live_model: str | None = None,
        export_recipients: list[str] | None = None,
    ) -> None:
        self.vault_path = Path(vault_path)
        self._source_factory = source_factory  # tests: a fake microphone
        self._recorder_config = recorder_config
        self.live_model = live_model
        self.export_recipients = export_recipients  # else the study file's
        self._vault: Vault | None = None

    # -- the vault ------------------------------------------------------------------------------
    @property
    def vault(self) -> Vault:
        if self._vault is None or not self._vault.unlocked:
            from .core.vault import Locked

            raise Locked()
        return self._vault

    @property
    def unlocked(self) -> bool:
        return self._vault is not None and self._vault.unlocked

    def _open(self) -> Vault:
        if self._vault is None:
            self._vault = Vault.open(self.vault_path)
        return self._vault

    def unlock(self, passphrase: str) -> list[str]:
        """Unlock, then repair any recording a crash interrupted; return what to tell the user."""
        self._open().unlock(passphrase)
        return self._recover()

    def unlock_with_recovery_key(self, recovery_key: str) -> list[str]:
        self._open().unlock_with_recovery_key(recovery_key)
        return self._recover()

    def _recover(self) -> list[str]:
        """Each interrupted recording on its own; one that fails is a warning line, never a
        reason to stay locked out (or to leave the keys in memory behind an error)."""
        from .core.recovery import recover_each

        try:
            done, problems = recover_each(self.vault)
        except BaseException:
            self.lock()
            raise
        return [
            f"Recording of {r.session_id} was interrupted; {r.seconds:.0f} s were recovered." for r in done
        ] + problems

    def lock(self) -> None:
        """Forget every key; the vault stays open (and locked against other processes)."""
        from .core.deid import ner

        ner.forget()  # cached name-finder results quote transcript text
        if self._vault is not None and self._vault.unlocked:
            self._vault.lock()

    def close(self) -> None:
        from .core.deid import ner

        ner.forget()
        if self._vault is not None:
            self._vault.close()
            self._vault = None

    # -- the study ------------------------------------------------------------------------------
    def study_file(self) -> StudyFile:
        return current_guide(self.vault)

    def study(self) -> Study:
        return self.study_file().study

    def session_study(self, sid: str) -> Study:
        return load_guide(self.vault, sessions.get_session(self.vault, sid).guide_sha256).study

    def dashboard(self) -> Dashboard:
        """The overview (decided in core.overview, worded here for the app). A participant or
        session whose history was edited on disk is shown as "tampered" with its sentence under
        "needs attention"; the others stay reachable."""
        from .core.overview import TAMPERED as TAMPERED_KIND
        from .core.overview import overview

        study = self.study()
        view = overview(self.vault, study)
        rows: list[SessionRow] = []
        by_person: dict[str, list[SessionRow]] = {}
        for s in view.sessions:
            status = s.status if s.transcribed_share is None else f"transcribing {int(100 * s.transcribed_share)}%"
            row = SessionRow(s.id, s.kind, s.wave, tuple(s.participants), status)
            rows.append(row)
            for pid in s.participants:
                by_person.setdefault(pid, []).append(row)
        people = []
        for p in view.people:
            mine = by_person.get(p.id, [])
            people.append(
                ParticipantRow(
                    p.id,
                    p.group,
                    max((r.wave for r in mine), default=None),
                    p.consent,
                    ", ".join(f"{r.id} {r.status}" for r in mine) or "no session yet",
                )
            )
        attention = [
            a.detail if a.kind == TAMPERED_KIND else _ATTENTION[a.kind].format(id=a.subject, detail=a.detail)
            for a in view.attention
        ]
        return Dashboard(study.study.title, [s.name for s in study.study.sites], people, rows, attention)

    # -- enrolment ------------------------------------------------------------------------------
    def enrol(
        self,
        *,
        group: str,
        name: str | None,
        site: str | None,
        contact: str | None,
        eligibility: dict[str, bool],
        baseline: dict[str, Any],
        compensation: str | None,
        consent_decisions: dict[str, bool],
    ) -> str:
        """Enrol and record consent. Eligibility and every answer are checked before anything
        is stored, so a refusal leaves no half-enrolled person behind."""
        study = self.study()
        participants.check_eligibility(study, eligibility)
        for field_id, raw in baseline.items():
            study.parse_answer(field_id, raw)
        missing = [c.id for c in study.consent if c.id not in consent_decisions]
        if missing:
            raise InvalidInput(f"Consent item {missing[0]!r} was not read out; answer every item.")
        pid = participants.enrol(
            self.vault,
            study,
            group=group,
            name=name,
            site=site,
            contact=contact,
            eligibility=eligibility,
            baseline=baseline,
            compensation=compensation,
        )
        consent.record_consent(self.vault, study, pid, consent_decisions)
        return pid

    def create_session(self, pids: list[str], wave: int = 1) -> str:
        return sessions.create_session(self.vault, pids, wave=wave)

    def session(self, sid: str) -> sessions.Session:
        return sessions.get_session(self.vault, sid)

    def questions(self, sid: str) -> list[tuple[Domain, Question]]:
        s = sessions.get_session(self.vault, sid)
        groups = {p.id: p.group for p in participants.list_participants(self.vault)}
        return self.session_study(sid).questions(groups.get(s.participants[0]))

    # -- recording ------------------------------------------------------------------------------
    def start_recording(
        self, sid: str, *, on_level: Callable | None = None, live: bool = False, on_segment: Callable | None = None
    ):
        """Start (or continue) a session's recording; returns a core RecordingRun."""
        from .core.recording import begin_recording

        config = self._recorder_config() if self._recorder_config else None
        source = self._source_factory() if self._source_factory else None
        return begin_recording(
            self.vault,
            sid,
            config,
            source=source,
            on_level=on_level,
            live=live,
            live_model=self.live_model,
            on_segment=on_segment,
        )

    # -- transcripts ----------------------------------------------------------------------------
    def transcribe(self, sid: str, *, on_progress: Callable | None = None, cancel: threading.Event | None = None):
        from .core.batch_transcription import transcribe_session

        return transcribe_session(self.vault, sid, on_progress=on_progress, cancel=cancel)

    def segments(self, sid: str) -> list:
        from .core.transcripts import current_transcript, load_segments

        t = current_transcript(self.vault, sid)
        if t is None:
            raise InvalidInput(f"Session {sid} has no finished transcript yet; transcribe it first.")
        return load_segments(self.vault, t)

    def edit_segment(self, sid: str, idx: int, *, text: str | None = None, speaker: str | None = None):
        from .core.editing import edit_segment

        return edit_segment(self.vault, sid, idx, text=text, speaker=speaker)

    def suggestions(self, sid: str) -> list:
        from .core.deid.review import suggestions

        return suggestions(self.vault, sid)

    def suggestion_groups(self, sid: str) -> list:
        """One entry per distinct string with all its occurrences (computing them loads the
        offline name finders: call from a worker)."""
        from .core.deid.review import groups, suggestions

        return groups(suggestions(self.vault, sid))

    def deid_layers(self) -> list[str]:
        """A sentence for each name finder that could not be loaded (empty when all work)."""
        from .core.deid import ner

        return ner.missing_layers()

    def decide(self, sid: str, **kwargs: Any) -> list:
        from .core.deid.review import decide

        return decide(self.vault, sid, **kwargs)

    def redact_phrase(self, sid: str, entry: str) -> list:
        from .core.deid.review import redact_phrase

        return redact_phrase(self.vault, sid, entry)

    def is_reviewed(self, sid: str) -> bool:
        from .core.deid.review import is_reviewed

        return is_reviewed(self.vault, sid)

    def mark_reviewed(self, sid: str) -> None:
        from .core.deid.review import mark_reviewed

        mark_reviewed(self.vault, sid)

    def play(self, sid: str, start: float, end: float | None, cancel: threading.Event | None = None) -> float:
        from .core.audio.playback import play

        return play(self.vault, sid, start, end, cancel=cancel)

    # -- export -------------------------------------------------------------------------------
    @property
    def outbox(self) -> Path:
        """Where the app writes bundles: inside the vault folder (they are ciphertext the laptop
        cannot read), so sync always finds them."""
        return self.vault_path / "outbox"

    def export(self, sids: list[str]) -> Path:
        from .core.export.exporter import export_sessions

        return export_sessions(self.vault, sids, self.outbox, self.export_recipients)

    # -- sync -----------------------------------------------------------------------------------
    def sync(self, *, on_progress: Callable | None = None, cancel: threading.Event | None = None):
        """Upload exported bundles and collect receipts (see core.sync.push)."""
        from .core.sync.push import sync
        from .core.sync.settings import resolve
        from .core.sync.store import connect

        url, creds = resolve(self.vault)
        store = connect(url, creds, timeout=5.0)
        try:
            return sync(self.vault, store, on_progress=on_progress, cancel=cancel)
        finally:
            store.close()
