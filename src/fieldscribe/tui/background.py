"""Work the app does by itself between interviews: finding who speaks in a stopped recording,
then the final pass with the study's better model.

A line on the dashboard owns it. Speakers come first (about 1.5 s per minute of audio, so the
transcript shows turns soon after an interview); a session open in the review screen is left
alone, since its segments are split at speaker changes. Whenever the dashboard comes back (and once a minute) it
looks — in a thread worker, since that reads the vault and the model folders — for a session
waiting for its final transcript and runs one at a time there, never while a recording is open or the interviewer's own work (transcribe, export,
sync) runs: starting either pauses it, and it resumes where it stopped once they are done.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import Static

from ..services import FieldscribeError
from ..services.views import Progress
from .messages import FinalPassDone, FinalPassProgress, SpeakersDone, SpeakersStarted
from .strings import error_text, tr

if TYPE_CHECKING:
    from ..services import Services

CHECK_EVERY_S = 60.0


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return tr("final.left", minutes=max(1, round(seconds / 60)))


class FinalPassLine(Static):
    """'Final transcript of S3 (small): 40 % · about 6 min left' while a final pass runs."""

    HELP_KEY = "help.final"

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._cancel: threading.Event | None = None
        self._failed: set[str] = set()  # sessions whose pass failed: not retried until restart
        self._speakers_failed: set[str] = set()  # the same for finding speakers
        self._under_review: set[str] = set()  # sessions open in review: their segments stay as they are
        self._choosing = threading.Lock()
        self.speakers_of: str | None = None  # the session whose speakers are being found now
        self._model = ""

    @property
    def services(self) -> Services:
        return self.app.services  # type: ignore[attr-defined]

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def on_mount(self) -> None:
        self.display = False
        self.set_interval(CHECK_EVERY_S, self.check)
        self.call_after_refresh(self.check)  # right after unlock

    def _may_run(self) -> bool:
        app = self.app
        return (
            self.services.unlocked
            and not app.recording_running()  # type: ignore[attr-defined]
            and not app.work_running()  # type: ignore[attr-defined]
        )

    def check(self) -> None:
        """Look for the next waiting final pass (in the worker) if nothing stands in its way."""
        if self.running or not self._may_run():
            return
        self._cancel = threading.Event()
        self.final_pass(self._cancel)

    def pause(self) -> None:
        """Stop at the next segment; the run resumes from there later."""
        if self._cancel is not None:
            self._cancel.set()

    def _show(self, sid: str, model: str, done: float, total: float, eta: float | None) -> None:
        share = int(100 * done / total) if total > 0 else 0
        self.update(tr("final.progress", sid=sid, model=model, share=share) + _minutes(eta))
        self.display = True

    def _speakers_next(self) -> str | None:
        """The next session whose speakers are to be found, none under review or failed."""
        try:
            waiting = self.services.speakers_waiting()
        except FieldscribeError:
            return None  # the dashboard says what is wrong with the vault
        with self._choosing:  # against claim_for_review on the UI thread
            sid = next((s for s in waiting if s not in self._speakers_failed | self._under_review), None)
            self.speakers_of = sid
        return sid

    def claim_for_review(self, sid: str) -> bool:
        """The reviewer is opening SID: leave its segments alone until the dashboard is back.
        False while its speakers are being found right now (then review waits for them)."""
        with self._choosing:
            if self.speakers_of == sid:
                return False
            self._under_review.add(sid)
            return True

    def reviews_closed(self) -> None:
        """The dashboard is on top again: no review screen is open."""
        with self._choosing:
            self._under_review.clear()

    @work(thread=True, exclusive=True, exit_on_error=False, group="final-pass")
    def final_pass(self, cancel: threading.Event) -> None:
        sid = self._speakers_next()
        if sid is not None and not cancel.is_set():
            self.post_message(SpeakersStarted(sid))
            outcome, error = "found", None
            try:
                self.services.find_speakers(sid, cancel=cancel)
            except FieldscribeError as exc:
                outcome, error = "failed", error_text(exc)
            finally:
                with self._choosing:
                    self.speakers_of = None
            if outcome == "found" and cancel.is_set():
                outcome = "cancelled"
            self.post_message(SpeakersDone(sid, outcome, error))
            return
        try:
            waiting = [f for f in self.services.final_passes() if f.session_id not in self._failed]
        except FieldscribeError:
            waiting = []  # the dashboard says what is wrong with the vault
        if not waiting or cancel.is_set():
            self.app.call_from_thread(self._idle)
            return
        nxt = waiting[0]
        self._model = nxt.model
        self.post_message(FinalPassProgress(nxt.session_id, nxt.done_s, nxt.total_s, None))

        def progress(p: Progress) -> None:
            self.post_message(FinalPassProgress(nxt.session_id, p.done, p.total, p.eta_s))

        try:
            result = self.services.run_final_pass(nxt.session_id, on_progress=progress, cancel=cancel)
        except FieldscribeError as exc:
            self.post_message(FinalPassDone(nxt.session_id, "failed", error_text(exc)))
            return
        self.post_message(FinalPassDone(nxt.session_id, result.outcome))

    def _idle(self) -> None:
        """Nothing was waiting."""
        self._cancel = None

    def on_speakers_started(self, message: SpeakersStarted) -> None:
        if self._cancel is not None and not self._cancel.is_set():
            self.update(tr("final.speakers", sid=message.sid))
            self.display = True

    def on_speakers_done(self, message: SpeakersDone) -> None:
        self._cancel = None
        self.display = False
        if message.outcome == "failed" and self.services.unlocked:
            self._speakers_failed.add(message.sid)
            self.notify(tr("final.speakers_failed", sid=message.sid, error=message.error), severity="error", timeout=10)
        if message.outcome != "cancelled":
            self.check()  # the next one, or the final passes

    def on_final_pass_progress(self, message: FinalPassProgress) -> None:
        if self._cancel is not None and not self._cancel.is_set():
            self._show(message.sid, self._model, message.done, message.total, message.eta_s)

    def on_final_pass_done(self, message: FinalPassDone) -> None:
        self._cancel = None
        self.display = False
        if message.outcome == "failed" and not self.services.unlocked:
            return  # stopped by the lock: it resumes after the next unlock
        if message.outcome == "failed":
            self._failed.add(message.sid)
            self.notify(tr("final.failed", sid=message.sid, error=message.error), severity="error", timeout=10)
        elif message.outcome == "replaced":
            self.notify(tr("final.replaced", sid=message.sid))
        elif message.outcome == "alternative":
            self.notify(tr("final.alternative", sid=message.sid), timeout=10)
        if message.outcome != "paused":
            self.check()  # the next one, if any
