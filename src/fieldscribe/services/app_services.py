"""The services one unlocked vault offers the interactive app (see the package docstring).

Each method is a field-day operation: it checks what the core checks, does the work in the
core, and hands back views. Heavy ones (transcription, suggestions, export, sync) are meant
for a worker thread; none of them touches Textual.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..core import consent, participants, sessions
from ..core.errors import InvalidInput
from ..core.guides import current_guide, load_guide
from ..core.study import ChoiceField, NumberField, Study
from ..core.vault import Vault
from .admin import StudyAdmin
from .calls import counted
from .field import FieldDay
from .interview import Interview, LevelCallback, LiveTextCallback, level_listener, segment_listener
from .marks import Marks
from .views import (
    AttentionItem,
    Choice,
    ConsentItemView,
    Criterion,
    Dashboard,
    EnrolmentForm,
    FieldNote,
    FinalPassResult,
    FinalPassView,
    FormField,
    GuideQuestion,
    ParticipantRow,
    Progress,
    SegmentView,
    SessionRow,
    SessionView,
    SuggestionView,
    SyncResult,
    Transcript,
    TranscriptionResult,
)
from .voices import Voices

if TYPE_CHECKING:  # these modules are loaded when first used, not when the app starts
    from ..core.audio.recorder import RecorderConfig, Source
    from ..core.deid.review import Suggestion
    from ..core.transcripts import StoredSegment

TAMPERED = "tampered"  # a row whose history was edited on disk (its sentence is under "needs attention")
ProgressCallback = Callable[[Progress], None]
CLOSE_WAIT_S = 30.0


@functools.cache  # once per process
def _models_out_of_collection() -> None:
    """Once the name finders are loaded, take every object alive out of the cyclic garbage
    collector's reach (gc.freeze). The models are hundreds of thousands of objects that live as
    long as the app; a full collection walked them all while holding the interpreter — every
    thread, the UI's included, stood still for ~100 ms (scripts/bench_tui_latency.py, review
    phase). Frozen objects are still freed as soon as nothing refers to them (decrypted text
    included); only garbage in reference cycles among them would wait for the process to end."""
    import gc

    gc.freeze()


def _segment_view(seg: StoredSegment) -> SegmentView:
    notes = tuple(FieldNote(str(n.get("kind") or "note"), str(n.get("text") or "")) for n in seg.notes)
    return SegmentView(
        seg.idx,
        seg.start,
        seg.end,
        seg.text,
        seg.speaker,
        seg.question,
        notes,
        seg.original_text or None,
        seg.voice,
        seg.overlap,
        seg.label,
    )


def _suggestion_views(found: list[Suggestion]) -> list[SuggestionView]:
    return [
        SuggestionView(s.n, s.segment, s.start, s.end, s.original, s.kind, s.descriptor, s.status, s.layer, s.weak)
        for s in found
    ]


def _form_field(f: Any) -> FormField:
    label = f.label
    if isinstance(f, NumberField) and f.min is not None and f.max is not None:
        label += f" ({f.min:g}–{f.max:g}{' ' + f.unit if f.unit else ''})"
    if isinstance(f, ChoiceField):
        choices = tuple(Choice(code, text) for code, text in f.choices.items())
        return FormField(f.id, label, f.required, "choice", choices)
    kind: Literal["integer", "number", "text"] = (
        ("integer" if f.integer else "number") if isinstance(f, NumberField) else "text"
    )
    if isinstance(f, NumberField):
        return FormField(f.id, label, f.required, kind, (), f.min, f.max)
    return FormField(f.id, label, f.required, kind)


class Services(StudyAdmin, FieldDay, Voices, Marks):
    """Open a vault folder; unlock it; then every field-day operation the app offers."""

    def __init__(
        self,
        vault_path: str | Path,
        *,
        source_factory: Callable[[], Source] | None = None,
        recorder_config: Callable[[], RecorderConfig] | None = None,
        live_model: str | None = None,
        export_recipients: list[str] | None = None,
    ) -> None:
        self.vault_path = Path(vault_path)
        self._source_factory = source_factory  # tests: a fake microphone
        self._recorder_config = recorder_config
        self.live_model = live_model
        self.export_recipients = export_recipients  # else the study file's
        super().__init__()

    def _microphone(self) -> Source:
        from ..core.audio.recorder import RecorderConfig, SoundDeviceSource

        if self._source_factory is not None:
            return self._source_factory()
        config = self._recorder_config() if self._recorder_config else RecorderConfig()
        return SoundDeviceSource(RecorderConfig(rate=16000, channels=1, device=config.device))

    # -- the vault ------------------------------------------------------------------------------
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
        from ..core.recovery import recover_each

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
        from ..core.deid import ner

        ner.forget()  # cached name-finder results quote transcript text
        if self._vault is not None and self._vault.unlocked:
            self._vault.lock()

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Forget the keys and release the vault, once no worker is still inside it (waits up to
        WAIT_S; a worker that outlasts that finds the vault locked, and the process's exit
        releases it)."""
        from ..core.deid import ner

        with self.idle:
            self.idle.wait_for(lambda: self.inflight == 0, timeout=wait_s)
            busy = self.inflight > 0
        ner.forget()
        if self._vault is not None:
            if busy:
                self._vault.lock()
                return
            self._vault.close()
            self._vault = None

    # -- the study ------------------------------------------------------------------------------
    def _study(self) -> Study:
        """The current study file's protocol (a core record: stays inside the services)."""
        return current_guide(self.vault).study

    def study_language(self) -> str:
        """The study's interview language (en | zh): the interface follows it unless set."""
        return self._study().study.language

    def _session_study(self, sid: str) -> Study:
        return load_guide(self.vault, sessions.get_session(self.vault, sid).guide_sha256).study

    def dashboard(self) -> Dashboard:
        """The overview (decided in core.overview, worded here for the app). A participant or
        session whose history was edited on disk is shown as "tampered" with its sentence under
        "needs attention"; the others stay reachable."""
        from ..core.overview import TAMPERED as TAMPERED_KIND
        from ..core.overview import overview

        study = self._study()
        view = overview(self.vault, study)
        rows: list[SessionRow] = []
        by_person: dict[str, list[SessionRow]] = {}
        for s in view.sessions:
            row = SessionRow(s.id, s.kind, s.wave, tuple(s.participants), s.status, s.transcribed_share)
            rows.append(row)
            for pid in s.participants:
                by_person.setdefault(pid, []).append(row)
        people = []
        labels = {g.id: g.label for g in study.groups}  # the study's own words for its groups
        for p in view.people:
            mine = by_person.get(p.id, [])
            people.append(
                ParticipantRow(
                    p.id,
                    labels.get(p.group, p.group),
                    max((r.wave for r in mine), default=None),
                    p.consent,
                    tuple((r.id, r.status) for r in mine),
                )
            )
        from ..core import final_pass

        attention = [
            AttentionItem(TAMPERED if a.kind == TAMPERED_KIND else a.kind, a.subject, a.detail) for a in view.attention
        ] + [AttentionItem("models", "", line) for line in final_pass.missing_models(self.vault)]
        return Dashboard(study.study.title, [s.name for s in study.study.sites], people, rows, attention)

    # -- enrolment ------------------------------------------------------------------------------
    def enrolment_form(self) -> EnrolmentForm:
        """What the three enrolment steps ask, from the current study file."""
        study = self._study()
        return EnrolmentForm(
            groups=tuple(Choice(g.id, g.label) for g in study.groups),
            sites=tuple(site.name for site in study.study.sites),
            inclusion=tuple(Criterion(c.id, c.text) for c in study.eligibility.inclusion),
            exclusion=tuple(Criterion(c.id, c.text) for c in study.eligibility.exclusion),
            # the audio item last and on its own, so it is never agreed to in passing
            consent=tuple(
                ConsentItemView(c.id, c.text, c.required, c.audio_recording)
                for c in [*(c for c in study.consent if not c.audio_recording), study.audio_consent_item]
            ),
            fields=tuple(_form_field(f) for f in study.questionnaire),
        )

    def check_eligibility(self, answers: dict[str, bool]) -> None:
        """Raises NotEligible (with every reason) when the answers exclude the person."""
        participants.check_eligibility(self._study(), answers)

    def parse_answer(self, field_id: str, raw: Any) -> Any:
        """One questionnaire answer as typed, checked against its field (InvalidAnswer says why)."""
        return self._study().parse_answer(field_id, raw)

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
        study = self._study()
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

    # -- sessions and the interview -------------------------------------------------------------
    def create_session(self, pids: list[str], wave: int = 1) -> str:
        return sessions.create_session(self.vault, pids, wave=wave)

    def cancel_session(self, sid: str) -> SessionView:
        """Cancel a planned session with no audio (refused, in one sentence, otherwise)."""
        s = sessions.cancel_session(self.vault, sid)
        return SessionView(s.id, s.kind, s.wave, s.status, tuple(s.participants))

    def session(self, sid: str) -> SessionView:
        s = sessions.get_session(self.vault, sid)
        return SessionView(s.id, s.kind, s.wave, s.status, tuple(s.participants))

    def questions(self, sid: str) -> list[GuideQuestion]:
        """The guide of the study version the session was planned with, as its (first)
        participant's group is asked it: the questions for that group, in its wording."""
        s = sessions.get_session(self.vault, sid)
        groups = {p.id: p.group for p in participants.list_participants(self.vault)}
        group = groups.get(s.participants[0])
        return [
            GuideQuestion(d.id, d.title, q.id, q.text_for(group), tuple(q.probes))
            for d, q in self._session_study(sid).questions(group)
        ]

    @counted
    def start_interview(
        self,
        sid: str,
        *,
        live: bool = False,
        on_level: LevelCallback | None = None,
        on_live_text: LiveTextCallback | None = None,
    ) -> Interview:
        """Start (or continue) a session's recording. The consent gate is checked first;
        the callbacks run on the recorder's and the live transcriber's threads."""
        from ..core.recording import begin_recording

        config = self._recorder_config() if self._recorder_config else None
        source = self._source_factory() if self._source_factory else None
        run = begin_recording(
            self.vault,
            sid,
            config,
            source=source,
            on_level=level_listener(on_level),
            live=live,
            live_model=self.live_model,
            on_segment=segment_listener(on_live_text),
        )
        return Interview(run.session_id, run)

    # -- transcripts ----------------------------------------------------------------------------
    @counted
    def transcribe(
        self, sid: str, *, on_progress: ProgressCallback | None = None, cancel: threading.Event | None = None
    ) -> TranscriptionResult:
        """Transcribe (or resume) a session's recording; a cancel pauses it where it is."""
        from ..core.batch_transcription import transcribe_session

        def progress(p: Any) -> None:
            if on_progress is not None:
                on_progress(Progress(p.done_s, p.total_s, p.eta_s))

        t = transcribe_session(self.vault, sid, on_progress=progress, cancel=cancel)
        return TranscriptionResult(t.state == "complete", t.done_s, t.total_s)

    @counted
    def final_passes(self) -> list[FinalPassView]:
        """Sessions whose final transcript (the study's final_model) is still to be made."""
        from ..core import final_pass

        return [FinalPassView(f.session_id, f.model, f.done_s, f.total_s) for f in final_pass.waiting(self.vault)]

    @counted
    def run_final_pass(
        self, sid: str, *, on_progress: ProgressCallback | None = None, cancel: threading.Event | None = None
    ) -> FinalPassResult:
        """Run or resume one session's final pass (call from a worker); a cancel pauses it."""
        from ..core import final_pass

        def progress(p: Any) -> None:
            if on_progress is not None:
                on_progress(Progress(p.done_s, p.total_s, p.eta_s))

        t = final_pass.run(self.vault, sid, on_progress=progress, cancel=cancel)
        outcome: Literal["replaced", "alternative", "paused"] = (
            "paused" if t.state == "running" else "alternative" if t.state == "alternative" else "replaced"
        )
        return FinalPassResult(t.session_id, t.model, outcome, t.done_s, t.total_s)

    @counted
    def transcript(self, sid: str) -> Transcript:
        """The current transcript and whether its review is done (decrypts it: call from a worker
        for long ones)."""
        from ..core.deid.review import is_reviewed
        from ..core.transcripts import current_transcript, load_segments

        t = current_transcript(self.vault, sid)
        if t is None:
            raise InvalidInput(f"Session {sid} has no finished transcript yet; transcribe it first.")
        segments = tuple(_segment_view(seg) for seg in load_segments(self.vault, t))
        return Transcript(segments, is_reviewed(self.vault, sid), self.session(sid).participants)

    @counted
    def edit_segment(self, sid: str, idx: int, *, text: str | None = None, speaker: str | None = None) -> SegmentView:
        """Correct one segment's words or speaker; any edit re-opens the review."""
        from ..core.editing import edit_segment

        return _segment_view(edit_segment(self.vault, sid, idx, text=text, speaker=speaker))

    @counted
    def suggestions(self, sid: str) -> list[SuggestionView]:
        """Every suggested redaction in the current transcript (runs the offline name finders:
        call from a worker)."""
        from ..core.deid import ner
        from ..core.deid.review import suggestions

        ner.warm_up((self.study_language(),))
        _models_out_of_collection()
        return _suggestion_views(suggestions(self.vault, sid))

    def deid_layers(self) -> list[str]:
        """A sentence for each name finder that could not be loaded (empty when all work)."""
        from ..core.deid import ner

        return ner.missing_layers()

    @counted
    def decide(
        self,
        sid: str,
        *,
        accept: list[int] | None = None,
        reject: list[int] | None = None,
        accept_all: bool = False,
    ) -> list[SuggestionView]:
        """Decide suggestion groups for the whole study; returns the transcript's suggestions
        as they now stand (the review is open again)."""
        from ..core.deid.review import decide

        return _suggestion_views(decide(self.vault, sid, accept=accept, reject=reject, accept_all=accept_all))

    @counted
    def redact_phrase(self, sid: str, entry: str) -> list[SuggestionView]:
        """Words the reviewer marks ('words' or 'words=descriptor'), replaced everywhere."""
        from ..core.deid.review import redact_phrase

        return _suggestion_views(redact_phrase(self.vault, sid, entry))

    def is_reviewed(self, sid: str) -> bool:
        from ..core.deid.review import is_reviewed

        return is_reviewed(self.vault, sid)

    @counted
    def mark_reviewed(self, sid: str) -> None:
        """Refused (one sentence) while any suggestion is undecided."""
        from ..core.deid.review import mark_reviewed

        mark_reviewed(self.vault, sid)

    @counted
    def play(
        self,
        sid: str,
        start: float,
        end: float | None,
        cancel: threading.Event | None = None,
        on_position: Callable[[float], None] | None = None,
    ) -> float:
        """Play the session's audio from START to END; ON_POSITION gets the seconds heard so far
        a few times a second; CANCEL stops it within ~50 ms. Returns the seconds played."""
        from ..core.audio.playback import play

        return play(self.vault, sid, start, end, cancel=cancel, on_position=on_position)

    # -- export -------------------------------------------------------------------------------
    @property
    def outbox(self) -> Path:
        """Where the app writes bundles: inside the vault folder (they are ciphertext the laptop
        cannot read), so sync always finds them."""
        return self.vault_path / "outbox"

    @counted
    def export(self, sids: list[str]) -> Path:
        from ..core.export.exporter import export_sessions

        return export_sessions(self.vault, sids, self.outbox, self.export_recipients)

    # -- sync -----------------------------------------------------------------------------------
    @counted
    def sync(self, *, on_progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> SyncResult:
        """Upload exported bundles and collect receipts (see core.sync.push)."""
        from ..core.handover import exchange
        from ..core.sync.push import sync
        from ..core.sync.settings import resolve
        from ..core.sync.store import connect

        def progress(p: Any) -> None:
            if on_progress is not None:
                on_progress(Progress(p.done, p.total, p.eta_s))

        url, creds = resolve(self.vault)
        store = connect(url, creds, timeout=5.0)
        try:
            r = sync(self.vault, store, on_progress=progress, cancel=cancel)
            # participants handed over between laptops: a withdrawal on one reaches the other
            peers = exchange(self.vault, store) if not r.cancelled else None
        finally:
            store.close()
        return SyncResult(
            uploaded=len(r.uploaded),
            already_there=len(r.already_there),
            received=len(r.received),
            notices_sent=len(r.notices_sent),
            rejected=len(r.rejected),
            no_receipt_key=r.no_receipt_key,
            cancelled=r.cancelled,
            withdrawn_elsewhere=tuple(peers.withdrawn) if peers else (),
            handed_over_in=tuple(g.participant for g in peers.received) if peers else (),
            hand_overs_refused=tuple(f"{name}: {why}" for name, why in peers.refused) if peers else (),
        )
