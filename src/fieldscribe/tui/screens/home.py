"""Home: the study at a glance — who is enrolled, where each session stands, what needs doing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Header, Label, ProgressBar, Static
from textual.widgets.data_table import RowDoesNotExist
from textual.worker import Worker, WorkerState

from ...services import FieldscribeError, StoreUnreachable
from ...services.views import AttentionItem, Progress, SessionRow
from ..background import FinalPassLine
from ..messages import FinalPassDone, ProgressInfo, SpeakersDone, WorkDone, WorkFailed, WorkProgress
from ..strings import error_text, tr
from ..widgets import FieldFooter, laptop_warnings
from .base import BaseScreen

SYNC_RETRY_S = 300.0
NARROW_BELOW = 100  # columns
LAPTOP_EVERY_S = 60.0


def status_word(status: str) -> str:
    return tr(f"status.{status}")


def session_status(row: SessionRow) -> str:
    """A session's status in words; one whose transcription stopped part-way says how far."""
    if row.transcribed_share is not None:
        return tr("status.transcribing", share=int(100 * row.transcribed_share))
    return status_word(row.status)


def attention_line(item: AttentionItem) -> str:
    """One "needs attention" line; tampered and model lines arrive as the core's sentence."""
    if item.kind in ("tampered", "models"):
        return item.detail
    detail = tr(f"consent.{item.detail}") if item.kind == "consent" else item.detail
    return tr(f"attention.{item.kind}", id=item.subject, detail=detail)


class HomeScreen(BaseScreen):
    BINDINGS = [
        Binding("e", "enrol", "Enrol", id="home.enrol", tooltip="Enrol a new participant"),
        Binding(
            "n",
            "new_session",
            "New interview",
            id="home.new_session",
            tooltip="Plan an interview with the selected participant",
        ),
        Binding("enter", "interview", "Interview", id="home.interview", tooltip="Open the selected session"),
        Binding(
            "t",
            "transcribe",
            "Transcribe",
            id="home.transcribe",
            tooltip="Transcribe the selected session on this laptop",
        ),
        Binding("v", "review", "Review", id="home.review", tooltip="Review the selected session's transcript"),
        Binding(
            "delete",
            "cancel_session",
            "Cancel interview",
            id="home.cancel_session",
            show=False,
            tooltip="Cancel the selected planned interview (only one with no audio; asks first)",
        ),
        Binding(
            "p",
            "participant",
            "Participant",
            id="home.participant",
            tooltip="The selected participant's page: consent, identifiers, notes, consent summary, withdrawal",
        ),
        Binding(
            "g",
            "study_settings",
            "Study settings",
            id="home.study",
            tooltip="The study's settings: the analysis team's key, study identifiers, the study store, purge",
        ),
        Binding(
            "x",
            "export",
            "Export",
            id="home.export",
            tooltip="Export the selected reviewed session, de-identified and encrypted for the analysis team",
        ),
        Binding(
            "u",
            "sync",
            "Sync",
            id="home.sync",
            tooltip="Upload exported bundles to the study store and collect receipts",
        ),
        Binding(
            "c",
            "cancel",
            "Cancel work",
            id="home.cancel",
            show=False,
            tooltip="Pause the running transcription (it resumes where it stopped)",
        ),
        Binding("f5", "refresh", "Refresh", id="home.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._cancel: threading.Event | None = None
        self._narrow = False
        self._attention: list[str] = []
        self._laptop: list[str] = []
        self._review_after_speakers: str | None = None  # review opens once its speakers are found

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="home-body"):
            with Vertical(id="people-pane"):
                yield Static(id="sites")
                yield Label(tr("home.participants"), classes="pane-title")
                yield DataTable(id="people", cursor_type="row", zebra_stripes=True)
            with Vertical(id="sessions-pane"):
                yield Label(tr("home.sessions"), classes="pane-title")
                yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
                yield Label(tr("home.attention"), classes="pane-title")
                yield Static(id="attention")
        yield Static(id="selection")
        yield FinalPassLine(id="final-line")
        with Horizontal(id="work-line"):
            yield Label("", id="work-label")
            yield ProgressBar(id="work-progress", show_eta=True)
        yield FieldFooter()

    def on_mount(self) -> None:
        self._columns()
        sessions = self.query_one("#sessions", DataTable)
        self.query_one("#work-line").display = False
        self.refresh_data()
        sessions.focus()
        self.set_interval(LAPTOP_EVERY_S, self.check_laptop)
        self.check_laptop()

    @property
    def narrow(self) -> bool:
        """At 80 columns the tables keep the columns that matter most (the rest is one key away)."""
        return self.app.size.width < NARROW_BELOW

    def _columns(self) -> None:
        self._narrow = self.narrow
        people = self.query_one("#people", DataTable)
        people.clear(columns=True)
        mine: tuple[str, ...] = (
            ("id", "group", "consent") if self._narrow else ("id", "group", "wave", "consent", "sessions")
        )
        people.add_columns(*(tr(f"home.col_{c}") for c in mine))
        sessions = self.query_one("#sessions", DataTable)
        sessions.clear(columns=True)
        wanted = (
            ("session", "wave", "with", "status") if self._narrow else ("session", "kind", "wave", "with", "status")
        )
        sessions.add_columns(*(tr(f"home.col_{c}") for c in wanted))

    def on_resize(self) -> None:
        if self.is_mounted and self.narrow != self._narrow:
            self._columns()
            self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.services.unlocked:  # not while the app is locking
            self.refresh_data()
            for line in self.query(FinalPassLine):  # none yet on the first resume, before compose
                line.reviews_closed()
                line.check()

    def on_final_pass_done(self, _message: FinalPassDone) -> None:
        if self.services.unlocked:
            self.refresh_data()

    def on_speakers_done(self, message: SpeakersDone) -> None:
        if self.services.unlocked:
            self.refresh_data()
            if message.sid == self._review_after_speakers and self.app.screen is self:
                self._open_review(message.sid)

    def pause_background(self) -> None:
        """A recording or the interviewer's own work is starting: the final pass waits."""
        for line in self.query(FinalPassLine):
            line.pause()

    def refresh_data(self) -> None:
        board = self.attempt(self.services.dashboard)
        if board is None:
            return
        self.sub_title = board.study_title
        self.query_one("#sites", Static).update(Text(f"{tr('home.sites')}: {' · '.join(board.sites) or '–'}"))
        people = self.query_one("#people", DataTable)
        people.clear()
        for p in board.participants:
            consent = tr(f"consent.{p.consent}")
            if self._narrow:
                people.add_row(p.id, p.group, consent, key=p.id)
                continue
            mine = ", ".join(f"{sid} {status_word(status)}" for sid, status in p.sessions)
            people.add_row(p.id, p.group, str(p.wave or "–"), consent, mine or tr("home.no_session_short"), key=p.id)
        table = self.query_one("#sessions", DataTable)
        keep = table.cursor_row
        table.clear()
        for s in board.sessions:
            cells = [s.id, tr(f"kind.{s.kind}"), str(s.wave), " ".join(s.participants), session_status(s)]
            if self._narrow:
                del cells[1]  # the kind: a focus group shows several people
            table.add_row(*cells, key=s.id)
        if board.sessions:
            table.move_cursor(row=min(keep, len(board.sessions) - 1))
        self._attention = [attention_line(a) for a in board.attention]
        self._show_attention()
        self._show_selection()

    def check_laptop(self) -> None:
        """Disk and battery, at the top of "needs attention" while they need it."""
        status = self.services.laptop_status()
        self._laptop = [sentence for _, sentence in laptop_warnings(status)]
        self._show_attention()

    def _show_attention(self) -> None:
        lines = self._laptop + self._attention
        self.query_one("#attention", Static).update(Text("\n".join(f"• {a}" for a in lines) or tr("home.nothing")))

    def select_participant(self, pid: str) -> None:
        """Put the cursor on PID (just enrolled): N then plans an interview with them."""
        self.refresh_data()
        people = self.query_one("#people", DataTable)
        try:
            people.move_cursor(row=people.get_row_index(pid))
        except RowDoesNotExist:
            return
        people.focus()

    def action_refresh(self) -> None:
        self.refresh_data()

    def palette_actions(self) -> list[tuple[str, Callable[[], object]]]:
        """The dashboard's actions for the command palette (catalogue key ``palette.<name>``)."""
        return [
            ("plan", self.action_new_session),
            ("open", self.action_interview),
            ("transcribe", self.action_transcribe),
            ("review", self.action_review),
            ("export", self.action_export),
            ("sync", self.action_sync),
            ("cancel_session", self.action_cancel_session),
            ("participant", self.action_participant),
            ("study", self.action_study_settings),
            ("voices", self.action_voice_profiles),
        ]

    # -- what is selected ---------------------------------------------------------------------
    def _selected(self, table_id: str) -> str | None:
        table = self.query_one(table_id, DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def selected_session(self) -> str | None:
        sid = self._selected("#sessions")
        if sid is None:
            self.notify(tr("home.no_session"), severity="warning")
        return sid

    # -- actions ------------------------------------------------------------------------------
    def action_enrol(self) -> None:
        from .enrol import start_enrolment

        start_enrolment(self.app)

    def action_new_session(self) -> None:
        pid = self._selected("#people")
        if pid is None:
            self.notify(tr("home.enrol_first"), severity="warning")
            return
        self.plan_with(pid)

    def plan_with(self, pid: str) -> None:
        """Ask for the date, site and wave (suggested), then plan the interview with PID."""
        form = self.attempt(self.services.planning_form, [pid])
        if form is None:
            return
        from .planning import PlanDialog

        def done(plan: dict[str, object] | None) -> None:
            if plan is None:
                return
            planned = self.attempt(
                self.services.plan_session,
                [pid],
                wave=plan["wave"],
                date=plan["date"],
                site=plan["site"],
            )
            if planned is None:
                return
            from ..messages import SessionCreated

            self.emit(SessionCreated(planned.id))
            self.notify(tr("home.planned", sid=planned.id, pid=pid))
            self.refresh_data()
            table = self.query_one("#sessions", DataTable)
            table.move_cursor(row=table.get_row_index(planned.id))

        self.app.push_screen(PlanDialog(form), done)

    @on(DataTable.RowSelected, "#sessions")
    def _open_row(self, _event: DataTable.RowSelected) -> None:
        self.action_interview()

    @on(DataTable.RowSelected, "#people")
    def _person_row(self, event: DataTable.RowSelected) -> None:
        """Enter on a participant: their latest session is selected, ready for Enter, T or V."""
        pid = str(event.row_key.value)
        table = self.query_one("#sessions", DataTable)
        with_column = 2 if self._narrow else 3
        theirs = [i for i in range(table.row_count) if pid in str(table.get_row_at(i)[with_column]).split()]
        if not theirs:
            self.notify(tr("home.nothing_planned", pid=pid))
            return
        table.move_cursor(row=theirs[-1])
        table.focus()

    @on(DataTable.RowHighlighted)
    def _selection_changed(self, _event: DataTable.RowHighlighted) -> None:
        self._show_selection()

    def _show_selection(self) -> None:
        """The line under the tables says what N, Enter, T, V and X will act on."""
        pid, sid = self._selected("#people"), self._selected("#sessions")
        parts = [tr("home.selected_person", pid=pid) if pid else tr("home.no_person")]
        parts.append(tr("home.selected_session", sid=sid) if sid else tr("home.no_session_short"))
        self.query_one("#selection", Static).update(tr("home.selected", parts=" · ".join(parts)))

    def action_participant(self) -> None:
        pid = self._selected("#people")
        if pid is None:
            self.notify(tr("home.enrol_first"), severity="warning")
            return
        from .participant import ParticipantScreen

        self.app.push_screen(ParticipantScreen(pid))

    def action_study_settings(self) -> None:
        from .study_settings import StudySettingsScreen

        self.app.push_screen(StudySettingsScreen())

    def action_voice_profiles(self) -> None:
        from .voice_profiles import VoiceProfilesScreen

        self.app.push_screen(VoiceProfilesScreen())

    def action_interview(self) -> None:
        sid = self.selected_session()
        if sid:
            from .interview import InterviewScreen

            self.app.push_screen(InterviewScreen(sid))

    def action_cancel_session(self) -> None:
        sid = self.selected_session()
        if not sid:
            return
        session = self.attempt(self.services.session, sid)
        if session is None:
            return
        if session.status != "planned":
            self.notify(tr("home.not_cancellable", sid=sid, status=status_word(session.status)))
            return
        from .dialogs import Confirm

        def answer(yes: bool | None) -> None:
            if yes and self.attempt(self.services.cancel_session, sid):
                self.notify(tr("home.cancelled", sid=sid))
                self.refresh_data()

        who = tr("home.and").join(session.participants)
        self.app.push_screen(Confirm(tr("home.ask_cancel", sid=sid, who=who)), answer)

    def action_review(self) -> None:
        sid = self.selected_session()
        if sid:
            self._open_review(sid)

    def _open_review(self, sid: str) -> None:
        """Review SID, unless its speakers are being found this moment: then it opens as soon
        as they are (the transcript's segments are being split at speaker changes)."""
        from .review import ReviewScreen

        if all(line.claim_for_review(sid) for line in self.query(FinalPassLine)):
            self._review_after_speakers = None
            self.app.push_screen(ReviewScreen(sid))
        else:
            self._review_after_speakers = sid
            self.notify(tr("final.review_waits", sid=sid))

    def _begin_work(self, label: str) -> bool:
        """One long job at a time: show the work line; False (and why) if another job runs."""
        if self._cancel is not None:
            self.notify(tr("home.busy"), severity="warning")
            return False
        self._cancel = threading.Event()
        self.pause_background()  # two Whisper runs at once would halve both
        self.query_one("#work-line").display = True
        self.query_one("#work-label", Label).update(f"{label}  ")
        self.query_one("#work-progress", ProgressBar).update(total=None, progress=0)
        return True

    def action_transcribe(self) -> None:
        sid = self.selected_session()
        if not sid:
            return
        if not self._begin_work(tr("home.transcribing", sid=sid)):
            return
        self.transcribe(sid, self._cancel)

    def action_export(self) -> None:
        sid = self.selected_session()
        if not sid:
            return
        if self._begin_work(tr("home.exporting", sid=sid)):
            self.export(sid)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export(self, sid: str) -> None:
        try:
            bundle = self.services.export([sid])
        except FieldscribeError as exc:
            self.post_message(WorkFailed("export", error_text(exc)))
            return
        self.post_message(WorkDone("export", tr("home.exported", sid=sid, bundle=bundle.name)))

    def action_sync(self) -> None:
        if self._begin_work(tr("home.syncing")):
            self.sync(self._cancel)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync")
    def sync(self, cancel: threading.Event) -> None:
        def progress(p: Progress) -> None:
            self.post_message(WorkProgress("sync", ProgressInfo(p.done, p.total, p.eta_s, "bytes")))

        try:
            report = self.services.sync(on_progress=progress, cancel=cancel)
        except StoreUnreachable as exc:  # offline: fieldwork goes on, sync tries again by itself
            self.post_message(WorkFailed("sync", error_text(exc), retry_in=SYNC_RETRY_S))
            return
        except FieldscribeError as exc:
            self.post_message(WorkFailed("sync", error_text(exc)))
            return
        summary = tr(
            "home.sync_summary", uploaded=report.uploaded, already=report.already_there, received=report.received
        )
        if report.notices_sent:
            summary += tr("home.sync_notices", count=report.notices_sent)
        if report.rejected:
            summary += tr("home.sync_rejected", count=report.rejected)
        if report.no_receipt_key:
            summary += tr("home.sync_no_receipt_key")
        if report.cancelled:
            summary = tr("home.sync_paused")
        self.post_message(WorkDone("sync", summary))

    @property
    def working(self) -> bool:
        return self._cancel is not None

    def action_cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
        self.pause_background()

    def on_unmount(self) -> None:
        self.action_cancel()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # an unexpected error (the App reports it) must not leave the work line stuck
        if (
            event.state in (WorkerState.ERROR, WorkerState.CANCELLED)
            and event.worker.group in ("transcribe", "export", "sync")
            and self.is_attached
        ):
            self._finish_work()

    @work(thread=True, exclusive=True, exit_on_error=False, group="transcribe")
    def transcribe(self, sid: str, cancel: threading.Event) -> None:
        def progress(p: Progress) -> None:
            self.post_message(WorkProgress("transcribe", ProgressInfo(p.done, p.total, p.eta_s, sid)))

        started = time.monotonic()
        try:
            t = self.services.transcribe(sid, on_progress=progress, cancel=cancel)
        except FieldscribeError as exc:
            self.post_message(WorkFailed("transcribe", error_text(exc)))
            return
        if t.complete:
            self.post_message(
                WorkDone("transcribe", tr("home.transcribed", sid=sid, seconds=time.monotonic() - started))
            )
        else:
            self.post_message(
                WorkDone("transcribe", tr("home.transcribe_paused", sid=sid, done=t.done_s, total=t.total_s))
            )

    def on_work_progress(self, message: WorkProgress) -> None:
        bar = self.query_one("#work-progress", ProgressBar)
        bar.update(total=max(message.info.total, 0.001), progress=message.info.done)
        if message.task == "sync":
            self.query_one("#work-label", Label).update(
                tr("home.syncing_bytes", done=message.info.done / 2**20, total=message.info.total / 2**20) + "  "
            )

    def on_work_done(self, message: WorkDone) -> None:
        self._finish_work()
        self.notify(message.summary)

    def on_work_failed(self, message: WorkFailed) -> None:
        self._finish_work()
        if message.retry_in:
            self.set_timer(message.retry_in, self._retry_sync)
            self.notify(
                tr("home.retry", error=message.error, minutes=message.retry_in / 60), severity="warning", timeout=8
            )
            return
        self.notify(message.error, severity="error", timeout=8)

    def _retry_sync(self) -> None:
        if self.services.unlocked and self._cancel is None:
            self.action_sync()

    def _finish_work(self) -> None:
        self._cancel = None
        self.query_one("#work-line").display = False
        self.refresh_data()
