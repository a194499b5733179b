"""The interview: the guide in large text, the recording state, the microphone level, and
single keys for everything the interviewer does while listening.

Every key that changes the timeline stamps the recorder's audio position at the moment it
was pressed. Recording, level metering and live transcription run on their own threads
and only post messages here; stopping (which may finish a live transcript) runs in a worker
so the screen never freezes.
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Header, Label, RichLog, Static

from ...services import FieldscribeError, Interview
from ...services.views import GuideQuestion, Mark, SessionView
from ..messages import LevelChanged, LiveSegment, Marked, RecorderWarning, RecordingStarted, RecordingStopped
from ..strings import error_text, tr
from ..widgets import FieldFooter, LevelMeter, StateBadge, laptop_warnings
from .base import BaseScreen
from .dialogs import ChooseOne, Confirm, NoteDialog

LAPTOP_EVERY_S = 30.0


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class InterviewScreen(BaseScreen):
    # ready | starting | recording | paused | finishing | stopped: the badge and the footer follow it
    state: reactive[str] = reactive("ready", bindings=True)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "record", "Record", id="interview.record", tooltip="Start (or continue) recording"),
        Binding("right,n", "next_question", "Next Q", id="interview.next", tooltip="Next question; stamps the time"),
        Binding(
            "left,p",
            "previous_question",
            "Prev Q",
            id="interview.previous",
            tooltip="Previous question; stamps the time",
        ),
        Binding("m", "note", "Note", id="interview.note", tooltip="Add a timestamped field note"),
        Binding("f", "flag", "Flag", id="interview.flag", tooltip="Flag a sensitive moment for the reviewer"),
        Binding("space", "pause", "Pause/resume", id="interview.pause", tooltip="Pause or resume the recording"),
        Binding("k", "speaker", "Speaker", id="interview.speaker", tooltip="Note who is speaking (focus groups)"),
        Binding("s", "stop", "Stop", id="interview.stop", tooltip="Stop recording (asks first)"),
        Binding(
            "l",
            "toggle_live",
            "Live on/off",
            id="interview.live",
            show=False,
            tooltip="Transcribe while recording (before you start)",
        ),
        Binding("escape", "leave", "Back", id="interview.back", tooltip="Back to the study (not while recording)"),
        *[Binding(str(i), f"probe({i})", f"Probe {i}", id=f"interview.probe{i}", show=False) for i in range(1, 10)],
    ]

    def __init__(self, sid: str, *, live: bool | None = None) -> None:
        super().__init__()
        self.sid = sid
        self.run: Interview | None = None  # once recording started
        self.session: SessionView | None = None
        self.questions: list[GuideQuestion] = []
        self.index = 0
        self.stamped = False  # the current question has been stamped on the timeline
        self.probes_used: dict[int, set[int]] = {}
        self.live = live
        self.opened = time.monotonic()
        self.speaker: str | None = None
        self.live_segments = 0  # live-transcribed segments shown so far
        self.laptop_said: set[str] = set()  # disk/battery warnings already shown

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="status-line"):
            yield StateBadge(id="state")
            yield Static(id="clock")
        yield LevelMeter(id="level")
        with Horizontal(id="interview-body"):
            with VerticalScroll(id="guide-pane"):
                yield Label(id="domain", classes="domain")
                yield Static(id="timing")
                yield Static(id="question", classes="big-text")
                yield Static(id="probes")
                yield Static(id="next-question", classes="next")
            with Vertical(id="side-pane"):
                with Vertical(id="live-box", classes="side-box"):
                    yield Label(tr("interview.live"), classes="pane-title", id="live-title")
                    yield RichLog(id="live", max_lines=200, wrap=True, markup=False)
                with Vertical(id="notes-box", classes="side-box"):
                    yield Label(tr("interview.notes"), classes="pane-title")
                    yield RichLog(id="notes", max_lines=200, wrap=True, markup=False)
        yield FieldFooter()

    def on_mount(self) -> None:
        s = self.attempt(self.services.session, self.sid)
        if s is None:
            self.app.pop_screen()
            return
        self.session = s
        self.questions = self.services.questions(self.sid)
        if self.live is None:
            self.live = self.app.settings.live_transcription  # type: ignore[attr-defined]
        self.sub_title = f"{s.id} · {' '.join(s.participants)} · {tr('interview.wave', wave=s.wave)}"
        self.speaker = s.participants[0] if len(s.participants) == 1 else None
        self.query_one(StateBadge).state = self.state
        self._show_question()
        self._tick()
        self.set_interval(0.25, self._tick)
        self.set_interval(LAPTOP_EVERY_S, self.check_laptop)
        self.check_laptop()
        self.set_interval(0.5, self._poll)
        self.on_resize()

    def watch_state(self, state: str) -> None:
        if self.is_mounted:
            self.query_one(StateBadge).state = state

    def on_resize(self, _event=None) -> None:
        # on a small screen the guide gets all the width; the side panel moves below
        self.set_class(self.app.size.width < 100, "-narrow")

    def _show_question(self) -> None:
        total = len(self.questions)
        q = self.questions[self.index]
        self.query_one("#domain", Label).update(
            Text(f"{q.domain_title}   ·   {tr('interview.question_of', n=self.index + 1, total=total)}")
        )
        self.query_one("#question", Static).update(Text(q.text))
        used = self.probes_used.get(self.index, set())
        self.query_one("#probes", Static).update(
            Text("\n".join(f"{'✔' if i + 1 in used else ' '} {i + 1}. {p}" for i, p in enumerate(q.probes)))
        )
        if self.index + 1 < total:
            nq = self.questions[self.index + 1]
            self.query_one("#next-question", Static).update(Text(f"{tr('interview.next')}: {nq.text}"))
        else:
            self.query_one("#next-question", Static).update(tr("interview.last"))

    def check_laptop(self) -> None:
        """Say once when the disk or the battery starts to need attention (again if it worsens)."""
        for level, sentence in laptop_warnings(self.services.laptop_status()):
            if sentence.split(" ", 1)[0] + level not in self.laptop_said:
                self.laptop_said.add(sentence.split(" ", 1)[0] + level)
                self.notify(sentence, severity="error" if level == "critical" else "warning", timeout=15)

    def _show_timing(self) -> None:
        """Time on this question and its domain, and a gentle cue when the domain runs long."""
        timing = self.run.timing() if self.run is not None else None
        label = self.query_one("#timing", Static)
        if timing is None or timing.question_id != self.questions[self.index].id:
            label.update("")
            return
        text = tr("interview.on_question", time=clock(timing.question_s))
        if timing.domain_budget_s:
            text += " · " + tr("interview.on_domain", time=clock(timing.domain_s), budget=clock(timing.domain_budget_s))
        if timing.over_budget:
            text += " · " + tr("interview.over_budget")
        label.update(text)
        label.set_class(timing.over_budget, "-over")

    def _tick(self) -> None:
        self._show_timing()
        recorded = self.run.position if self.run is not None else 0.0
        group = self.session is not None and len(self.session.participants) > 1
        speaking = tr("interview.speaking", who=self.speaker) if self.speaker and group else ""
        live = tr("interview.live_on") if self.live else ""
        self.query_one("#clock", Static).update(
            f"{tr('interview.elapsed')} {clock(time.monotonic() - self.opened)} · "
            f"{tr('interview.recorded')} {clock(recorded)}{speaking}{live}"
        )

    def _poll(self) -> None:
        if self.run is None:
            return
        for warning in self.run.warnings():
            self.emit(RecorderWarning(warning))
            self.notify(warning, severity="warning", timeout=10)
        if not self.run.running and self.state in ("recording", "paused"):
            # the recorder stopped by itself (disk full, device lost): save what we have
            self._stop_now()

    # -- recording ----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return self.run is not None and self.state in ("recording", "paused")

    @property
    def busy(self) -> bool:
        """Audio is (or is about to be) recorded: leaving, locking or quitting must wait."""
        return self.state in ("starting", "recording", "paused", "finishing")

    def action_record(self) -> None:
        if self.run is not None or self.state != "ready":
            return
        self.state = "starting"
        self.app.pause_background()  # type: ignore[attr-defined]  # the final pass never competes with a recording
        self.query_one("#clock", Static).update(tr("interview.starting"))
        self.start_recording(bool(self.live))

    @work(thread=True, exclusive=True, exit_on_error=False, group="recorder")
    def start_recording(self, live: bool) -> None:
        def level(db: float) -> None:
            self.post_message(LevelChanged(db))

        def live_text(start: float, text: str) -> None:
            self.post_message(LiveSegment(start, text))

        try:
            run = self.services.start_interview(self.sid, live=live, on_level=level, on_live_text=live_text)
        except FieldscribeError as exc:
            self.app.call_from_thread(self._start_failed, error_text(exc))
            return
        self.app.call_from_thread(self._started, run, live)

    def _start_failed(self, error: str) -> None:
        self.notify(error, severity="error", timeout=10)
        if self.is_attached:
            self.state = "ready"
            self._tick()

    def _started(self, run: Interview, live: bool) -> None:
        if not self.is_attached:  # the screen went away meanwhile: never leave a microphone running
            self.attempt(run.stop)
            return
        self.run = run
        self.state = "recording"
        self.emit(RecordingStarted(self.sid, live))
        self.query_one("#live-title", Label).update(tr("interview.live") + ("" if live else tr("interview.live_off")))
        self._stamp_question()

    def on_level_changed(self, message: LevelChanged) -> None:
        self.query_one(LevelMeter).db = message.db

    def on_live_segment(self, message: LiveSegment) -> None:
        self.live_segments += 1
        self.query_one("#live", RichLog).write(Text(f"[{clock(message.start)}] {message.text.strip()}"))

    def _stamped(self, mark: Mark | None, data: dict[str, object]) -> bool:
        """Tell the App a mark was stamped; False when it could not be (the sentence was shown)."""
        if mark is None:
            return False
        self.emit(Marked(mark.kind, mark.t, data))
        return True

    def _live_run(self) -> Interview | None:
        if self.run is None or not self.recording:
            self.notify(tr("interview.record_first"), severity="warning")
            return None
        return self.run

    def _stamp_question(self) -> None:
        run = self._live_run()
        if run is not None:
            q = self.questions[self.index]
            self.stamped = self._stamped(self.attempt(run.ask, q), {"question": q.id, "domain": q.domain_id})

    def action_next_question(self) -> None:
        self._move(+1)

    def action_previous_question(self) -> None:
        self._move(-1)

    def _move(self, step: int) -> None:
        target = self.index + step
        if not 0 <= target < len(self.questions):
            self.notify(tr("interview.last") if step > 0 else tr("interview.first"))
            return
        self.index = target
        self._show_question()
        if self.recording:
            self._stamp_question()

    def action_probe(self, n: int) -> None:
        q = self.questions[self.index]
        if n > len(q.probes):
            return
        run = self._live_run()
        if run is not None and self._stamped(self.attempt(run.probe, q, n), {"question": q.id, "probe": n}):
            self.probes_used.setdefault(self.index, set()).add(n)
            self._show_question()

    def action_note(self) -> None:
        run = self._live_run()
        if run is None:
            return
        at = run.position  # the moment of the key, not of finishing typing

        def done(note: dict[str, str | None] | None) -> None:
            if note is None:
                return
            text = note["text"] or ""
            if self._stamped(self.attempt(run.note, text, at=at, preset=note.get("preset")), dict(note)):
                self.query_one("#notes", RichLog).write(Text(f"[{clock(at)}] {text}"))

        self.app.push_screen(NoteDialog(), done)

    def action_flag(self) -> None:
        run = self._live_run()
        if run is not None and self._stamped(self.attempt(run.flag), {"text": ""}):
            self.query_one("#notes", RichLog).write(Text(f"[{clock(run.position)}] {tr('interview.flagged_line')}"))
            self.notify(tr("interview.flagged"))

    def action_speaker(self) -> None:
        run = self._live_run()
        if run is None or self.session is None:
            return
        options = [(pid, pid) for pid in self.session.participants] + [(tr("interview.interviewer"), "interviewer")]
        at = run.position

        def done(who: str | None) -> None:
            if who is not None and self._stamped(self.attempt(run.speaker, who, at=at), {"participant": who}):
                self.speaker = who

        self.app.push_screen(ChooseOne(tr("interview.who"), options), done)

    def action_pause(self) -> None:
        if self.run is None or not self.recording:
            self.notify(tr("interview.not_recording"), severity="warning")
            return
        if self.state == "recording":
            mark = self.attempt(self.run.pause)
            if self._stamped(mark, {}):
                self.state = "paused"
        else:
            mark = self.attempt(self.run.resume)
            if self._stamped(mark, {}):
                self.state = "recording"

    def action_toggle_live(self) -> None:
        if self.run is not None:
            self.notify(tr("interview.live_before"), severity="warning")
            return
        self.live = not self.live
        self._tick()

    def action_stop(self) -> None:
        if not self.recording:
            self.notify(tr("interview.not_recording"), severity="warning")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self._stop_now()

        self.app.push_screen(Confirm(tr("interview.ask_stop")), done)

    def _stop_now(self) -> None:
        self.state = "finishing" if self.live else "stopped"
        self.stop_recording()

    @work(thread=True, exclusive=True, exit_on_error=False, group="recorder")
    def stop_recording(self) -> None:
        run = self.run
        if run is None:
            return
        result = run.stop()
        if result.error:
            self.app.call_from_thread(self.notify, result.error, severity="error", timeout=15)
        self.post_message(RecordingStopped(self.sid, result.seconds, result.transcript_ready, result.finish_seconds))

    def on_recording_stopped(self, message: RecordingStopped) -> None:
        self.state = "stopped"
        self.query_one(LevelMeter).db = -math.inf
        if message.transcript_ready:
            self.notify(tr("interview.saved_ready", length=clock(message.seconds), seconds=message.finish_seconds))
        else:
            self.notify(tr("interview.saved", length=clock(message.seconds)))

    def action_leave(self) -> None:
        if self.state == "starting":
            self.notify(tr("interview.wait_starting"), severity="warning")
            return
        if self.recording:
            self.notify(tr("interview.stop_first"), severity="warning")
            return
        if self.state == "finishing":
            self.notify(tr("interview.wait_finishing"), severity="warning")
            return
        self.app.pop_screen()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # the footer shows only what makes sense now
        state = self.state
        if action == "record":
            return state == "ready"
        if action == "toggle_live":
            return state == "ready"
        if action in ("pause", "stop", "note", "flag"):
            return state in ("recording", "paused")
        if action == "speaker":
            session = getattr(self, "session", None)
            return state in ("recording", "paused") and session is not None and len(session.participants) > 1
        return True

    def on_unmount(self) -> None:
        # leaving by any path (lock, quit) must never lose what is being recorded
        if self.recording and self.run is not None:
            self.attempt(self.run.stop)
