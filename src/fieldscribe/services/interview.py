"""One interview's recording, as a front end drives it: the interviewer's keys become
timeline marks, the recorder's health becomes sentences, stop becomes a result.

It wraps the core's recording run so the app never holds a core object: every method takes
and returns plain values or views, and the timeline's kinds are decided here rather than
spelled by the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..core import timeline
from ..core.errors import FieldscribeError
from .field import QuestionTiming
from .views import GuideQuestion, Mark, RecordingResult

if TYPE_CHECKING:  # the recorder and Whisper load when the first interview starts, not with the app
    from ..core.audio.health import Level
    from ..core.recording import RecordingRun
    from ..core.transcription.guard import Segment

LevelCallback = Callable[[float], None]  # the loudest channel's level in dB, about ten times a second
LiveTextCallback = Callable[[float, str], None]  # (start in seconds, words) of each live-transcribed segment


def level_listener(on_level: LevelCallback | None) -> Callable[[Level], None] | None:
    """The recorder's level reports, reduced to the one number a meter shows."""
    if on_level is None:
        return None
    return lambda level: on_level(max(level.rms_db))


def segment_listener(on_text: LiveTextCallback | None) -> Callable[[Segment], None] | None:
    if on_text is None:
        return None
    return lambda seg: on_text(seg.start, seg.text)


Clock = Callable[[], float]  # seconds, monotonic


class Interview:
    """A session being recorded. Methods run on the caller's thread (the recorder has its own).

    It also keeps time per question and per domain: from one :meth:`ask` to the next, on the
    recording's clock (so a pause does not count), added up when the interviewer goes back to a
    question or domain. :meth:`timing` reports it with the domain's budget from the study file.
    """

    def __init__(
        self,
        session_id: str,
        run: RecordingRun,
        *,
        clock: Clock | None = None,
        budgets: Mapping[str, float | None] | None = None,
    ) -> None:
        """CLOCK: seconds for the timers (default: the recording's position, which stands still
        while paused). BUDGETS: minutes per domain id (default: the session's study file)."""
        self.session_id = session_id
        self._run = run
        self._clock: Clock = clock or (lambda: self._run.position)
        self._budgets: dict[str, float | None] | None = dict(budgets) if budgets is not None else None
        self._current: GuideQuestion | None = None
        self._since = 0.0
        self._question_s: dict[str, float] = {}
        self._domain_s: dict[str, float] = {}

    @property
    def position(self) -> float:
        """Seconds of audio recorded so far (this run and earlier ones)."""
        return self._run.position

    @property
    def running(self) -> bool:
        """False once the recorder stopped, including by itself (disk full, device lost)."""
        return self._run.running

    def _mark(self, kind: str, at: float | None = None, **data: Any) -> Mark:
        event = self._run.mark(kind, at=at, **data)
        return Mark(kind, event.t)

    def ask(self, question: GuideQuestion) -> Mark:
        """The interviewer moved to this question: its start is stamped (the codings in exports),
        and its timer (and its domain's) runs from now."""
        mark = self._mark(timeline.QUESTION, question=question.id, domain=question.domain_id)
        now = self._clock()
        self._close_stint(now)
        self._current, self._since = question, now
        return mark

    def _close_stint(self, now: float) -> None:
        q = self._current
        if q is None:
            return
        spent = max(0.0, now - self._since)
        self._question_s[q.id] = self._question_s.get(q.id, 0.0) + spent
        self._domain_s[q.domain_id] = self._domain_s.get(q.domain_id, 0.0) + spent

    def domain_budgets(self) -> dict[str, float | None]:
        """Minutes per domain id from the session's study file (None: no budget)."""
        if self._budgets is None:
            from ..core.guides import load_guide
            from ..core.sessions import get_session

            vault = self._run.vault
            study = load_guide(vault, get_session(vault, self.session_id).guide_sha256).study
            self._budgets = {d.id: d.budget_minutes for d in study.guide.domains}
        return dict(self._budgets)

    def timing(self) -> QuestionTiming | None:
        """Time on the current question and its domain so far, and the domain's budget (None
        before the first question is asked). Cheap: call it with every clock tick."""
        q = self._current
        if q is None:
            return None
        running = max(0.0, self._clock() - self._since)
        minutes = self.domain_budgets().get(q.domain_id)
        return QuestionTiming(
            question_id=q.id,
            domain_id=q.domain_id,
            question_s=self._question_s.get(q.id, 0.0) + running,
            domain_s=self._domain_s.get(q.domain_id, 0.0) + running,
            domain_budget_s=None if minutes is None else minutes * 60.0,
        )

    def probe(self, question: GuideQuestion, number: int) -> Mark:
        return self._mark(timeline.PROBE, question=question.id, probe=number)

    def note(self, text: str, *, at: float, preset: str | None = None) -> Mark:
        """A field note, stamped at `at`: the moment the key was pressed, not when typing ended."""
        return self._mark(timeline.NOTE, at=at, text=text, preset=preset)

    def flag(self, text: str = "") -> Mark:
        """A sensitive moment, for the reviewer."""
        return self._mark(timeline.FLAG, text=text)

    def speaker(self, who: str, *, at: float) -> Mark:
        """Who speaks from `at` on (focus groups): a pseudonym or "interviewer"."""
        return self._mark(timeline.SPEAKER, at=at, participant=who)

    def pause(self) -> Mark:
        self._run.pause()
        return Mark(timeline.PAUSE, self._run.position)

    def resume(self) -> Mark:
        self._run.resume()
        return Mark(timeline.RESUME, self._run.position)

    def warnings(self) -> list[str]:
        """New recorder warnings (silence, clipping, disk), saved to the timeline; their sentences."""
        return [w.message for w in self._run.poll()]

    def stop(self) -> RecordingResult:
        """Stop and save; a recording that had already failed says why in `error` — what was
        written before is kept either way."""
        try:
            info = self._run.stop()
        except FieldscribeError as exc:
            return RecordingResult(self._run.position, False, None, str(exc))
        finished = self._run.finish_seconds
        return RecordingResult(info.seconds, finished is not None, finished)


NOTE_PRESETS = timeline.NOTE_PRESETS  # the quick notes offered by number (laughs, tearful, …)
