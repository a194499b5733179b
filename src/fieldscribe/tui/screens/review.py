"""Transcript review: read against the audio, correct words and speakers, and decide every
suggested redaction before the transcript may leave the laptop."""

from __future__ import annotations

import queue
import re
import threading
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Header, Label, Static

from ...services import FieldscribeError
from ...services.views import SegmentView, SuggestionView
from ..messages import (
    DecisionSaved,
    PlaybackAt,
    RedactionsChanged,
    SegmentEdited,
    SuggestionsReady,
    TranscriptReviewed,
    WorkFailed,
)
from ..strings import error_text, tr, tr_or
from ..widgets import FieldFooter
from .base import BaseScreen
from .dialogs import AskText, ChooseOne, Confirm
from .interview import clock
from .review_marks import kind_text, place_note, place_question, show_marks
from .review_speakers import WHO_WIDTH, speaker_text, speakers_line, who_cell


def padded(text: str, cells: int) -> str:
    """TEXT padded to CELLS screen columns (a Chinese character takes two)."""
    from rich.cells import cell_len

    return text + " " * max(0, cells - cell_len(text))


@dataclass(frozen=True)
class Decision:
    """One reviewer's decision, waiting to be saved: groups to accept or reject, every
    undecided one, or the reviewer's own words to redact."""

    accept: tuple[int, ...] = ()
    reject: tuple[int, ...] = ()
    accept_all: bool = False
    phrase: str | None = None


class ReviewScreen(BaseScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play", "Play", id="review.play", tooltip="Play the selected segment (again to stop)"),
        Binding("e", "edit", "Edit", id="review.edit", tooltip="Correct the words of the selected segment"),
        Binding("k", "speaker", "Speaker", id="review.speaker", tooltip="Change who speaks in this turn"),
        Binding(
            "K",
            "name_voice",
            "Name voice",
            id="review.voice",
            tooltip="Name this voice in every turn it speaks",
        ),
        Binding("a", "accept", "Accept", id="review.accept", tooltip="Accept this segment's suggested redactions"),
        Binding("r", "reject", "Reject", id="review.reject", tooltip="Reject this segment's suggested redactions"),
        Binding("x", "redact", "Redact words", id="review.redact", tooltip="Mark words for redaction everywhere"),
        Binding(
            "A",
            "accept_all",
            "Accept all",
            id="review.accept_all",
            show=False,
            tooltip="Accept every suggestion still undecided",
        ),
        # marks after the fact (screens/review_marks.py): a recording made without the guide open
        Binding("q", "question", "Question", id="review.question", tooltip="Say which question starts here"),
        # in F1 help, not the footer: at 80×24 every footer row is a transcript row less
        Binding("m", "note", "Note", id="review.note", show=False, tooltip="Add a field note at the selected segment"),
        Binding(
            "f", "flag", "Flag", id="review.flag", show=False, tooltip="Flag a sensitive moment at the selected segment"
        ),
        Binding("M", "marks", "Marks", id="review.marks", show=False, tooltip="The session's marks; take one back"),
        Binding("d", "done", "Reviewed", id="review.done", tooltip="Mark the transcript reviewed"),
        Binding("escape", "leave", "Back", id="review.back"),
    ]

    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid
        self.segments: list[SegmentView] = []
        self.participants: tuple[str, ...] = ()
        self.reviewed = False
        self.suggested: list[SuggestionView] = []
        self.finding = True  # the name finders are still going through the transcript
        self.missing_layers: list[str] = []
        self._playing: threading.Event | None = None
        self.playing_at: float | None = None  # where playback is, while it plays
        # decisions wait here for the one worker that saves them, in the order they were made
        self._decisions: queue.SimpleQueue[Decision] = queue.SimpleQueue()
        self._saving = False
        self._pending = 0  # decisions queued or being saved

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="review-speakers")
        with Vertical(id="review-body"):
            yield DataTable(id="segments", cursor_type="row", zebra_stripes=True)
            yield Label(tr("review.suggestions"), classes="pane-title")
            yield Static(id="detail")
        yield Static(id="playback")
        yield Static(id="review-status")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.sub_title = f"{tr('review.title')} · {self.sid}"
        table = self.query_one("#segments", DataTable)
        table.add_column(tr("review.col_time"), key="time", width=8)
        table.add_column(tr("review.col_who"), key="who", width=WHO_WIDTH)
        table.add_column(tr("review.col_question"), key="question", width=14)
        table.add_column(tr("review.col_text"), key="text", width=self._text_width())
        if not self.load():
            self.app.pop_screen()
            return
        table.focus()
        self.query_one("#playback", Static).display = False
        self.show_speakers()
        self.find_suggestions(self.sid)

    @work(thread=True, exclusive=True, exit_on_error=False, group="suggestions")
    def find_suggestions(self, sid: str) -> None:
        """Loading the models and going through an hour of talk takes seconds: off the UI thread."""
        try:
            found = self.services.suggestions(sid)
        except FieldscribeError as exc:
            self.post_message(WorkFailed("suggestions", error_text(exc)))
            return
        self.post_message(SuggestionsReady(sid, found, self.services.deid_layers()))

    def on_suggestions_ready(self, message: SuggestionsReady) -> None:
        if message.sid != self.sid:
            return
        self.finding = False
        before, self.suggested = self.suggested, message.suggestions
        self._refresh_texts(before)
        self.missing_layers = message.missing_layers
        self._show_detail()

    def load(self) -> bool:
        """Read the transcript (once, as the screen opens; later changes update it in place)."""
        transcript = self.attempt(self.services.transcript, self.sid)
        if transcript is None:
            return False
        self.segments = list(transcript.segments)
        self.participants = transcript.participants
        self.reviewed = transcript.reviewed
        table = self.query_one("#segments", DataTable)
        table.clear()
        for seg in self.segments:
            table.add_row(*self._cells(seg), key=str(seg.idx), height=None)
        self._show_detail()
        return True

    def reload(self) -> None:
        """Read the transcript again (after a voice was named or a mark placed), keeping the
        cursor on the same moment of the interview."""
        seg = self.current_segment()
        at = seg.start if seg is not None else 0.0
        if self.load():
            self.go_to(at)

    def go_to(self, at: float) -> None:
        """Put the cursor on the segment spoken AT seconds in (or the nearest one)."""
        table = self.query_one("#segments", DataTable)
        if self.segments:
            here = next((i for i, s in enumerate(self.segments) if s.start <= at < s.end), None)
            if here is None:
                here = min(range(len(self.segments)), key=lambda i: abs(self.segments[i].start - at))
            table.move_cursor(row=here)
        self._show_detail()

    # -- who speaks ---------------------------------------------------------------------------
    def show_speakers(self) -> None:
        """The line above the table. The app finds a recording's speakers in the background,
        never beneath an open review (its segments would be split): a review opened before
        they were found says so, and shows them the next time it opens."""
        view = self.attempt(self.services.speakers, self.sid)
        waiting = self.sid in (self.attempt(self.services.speakers_waiting) or [])
        line = speakers_line(view, waiting)
        widget = self.query_one("#review-speakers", Static)
        widget.update(line or "")
        widget.display = line is not None

    def _text_width(self) -> int:
        """The text column takes what the other three leave, so whole segments wrap within it."""
        return max(20, self.app.size.width - 8 - WHO_WIDTH - 14 - 12)

    def _cells(
        self, seg: SegmentView, by_segment: dict[int, list[SuggestionView]] | None = None
    ) -> tuple[str, str, str, Text]:
        """A row: the words as they will leave the laptop — accepted redactions show their
        descriptor, not the words they hide; undecided ones are highlighted. BY_SEGMENT: the
        suggestions grouped by segment, when many rows are drawn at once."""
        flag = "⚑" if seg.flagged else " "
        found = by_segment.get(seg.idx, []) if by_segment is not None else self._of_segment(seg.idx)
        mine = sorted((s for s in found if s.status != "rejected"), key=lambda s: s.start)
        text, pos = Text(), 0
        for s in mine:
            if s.start < pos:
                continue  # overlapping finds: the first one shown
            text.append(seg.text[pos : s.start])
            if s.status == "accepted":
                text.append(s.descriptor, "bold green")
            else:
                text.append(seg.text[s.start : s.end], "black on yellow")
            pos = s.end
        text.append(seg.text[pos:])
        return (f"{flag}{clock(seg.start)}", who_cell(seg), seg.question or "–", text)

    def _refresh_texts(self, before: list[SuggestionView]) -> None:
        """Re-draw the text cells of the segments whose suggestions changed."""

        # only what a row shows counts: a saved decision renumbers the groups, which no row shows
        def shown(found: list[SuggestionView]) -> set[tuple[int, int, int, str, str]]:
            return {(s.segment, s.start, s.end, s.status, s.descriptor) for s in found if s.status != "rejected"}

        changed = {t[0] for t in shown(before) ^ shown(self.suggested)}
        if not changed:
            return
        by_segment: dict[int, list[SuggestionView]] = {}
        for s in self.suggested:
            by_segment.setdefault(s.segment, []).append(s)
        table = self.query_one("#segments", DataTable)
        for seg in self.segments:
            if seg.idx in changed:
                table.update_cell(str(seg.idx), "text", self._cells(seg, by_segment)[3], update_width=False)

    def _of_segment(self, idx: int) -> list[SuggestionView]:
        return [s for s in self.suggested if s.segment == idx]

    def on_resize(self, _event: object = None) -> None:
        table = self.query_one("#segments", DataTable)
        column = table.columns.get("text")  # type: ignore[call-overload]
        if column is not None and column.width != self._text_width():
            column.width = self._text_width()
            table.refresh()

    def _replace(self, seg: SegmentView) -> None:
        """One corrected segment, updated in its row (the rest of the table stays as it is)."""
        at = next(i for i, old in enumerate(self.segments) if old.idx == seg.idx)
        self.segments[at] = seg
        table = self.query_one("#segments", DataTable)
        for column, value in zip(("time", "who", "question", "text"), self._cells(seg), strict=True):
            table.update_cell(str(seg.idx), column, value)
        self.reviewed = False  # any edit re-opens the review
        self._show_detail()

    def current_segment(self) -> SegmentView | None:
        table = self.query_one("#segments", DataTable)
        if not self.segments:
            return None
        return self.segments[min(table.cursor_row, len(self.segments) - 1)]

    @on(DataTable.RowHighlighted)
    def _moved(self, _event) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        seg = self.current_segment()
        pending = len({s.n for s in self.suggested if s.status == "suggested"})
        finding = tr("review.finding") if self.finding else tr("review.undecided", count=pending)
        missing = (" · " + " ".join(self.missing_layers)) if self.missing_layers else ""
        self.query_one("#review-status", Static).update(
            f"{tr('review.segments', count=len(self.segments))} · {finding} · "
            + (tr("review.is_reviewed") if self.reviewed else tr("review.not_reviewed"))
            + missing
        )
        if seg is None:
            self.query_one("#detail", Static).update("")
            return
        mine = sorted((s for s in self.suggested if s.segment == seg.idx), key=lambda s: s.start)
        # built as Text, not markup: transcripts and descriptors are full of [brackets]
        out, pos = Text(), 0
        for s in mine:
            out.append(seg.text[pos : s.start])
            style = {"suggested": "black on yellow", "accepted": "strike green", "rejected": "dim"}[s.status]
            out.append(seg.text[s.start : s.end], style)
            if s.status == "accepted":
                out.append(f" {s.descriptor}", "bold green")
            pos = s.end
        out.append(seg.text[pos:])
        counts: dict[int, int] = {}
        for s in self.suggested:
            counts[s.n] = counts.get(s.n, 0) + 1
        for s in mine:
            where = tr("review.repeats", count=counts[s.n]) if counts.get(s.n, 0) > 1 else ""
            out.append(
                f"\n  #{s.n}{'?' if s.weak else ' '}{padded(tr('review.status_' + s.status), 9)} {s.original} → "
                f"{s.descriptor} ({tr_or('deid.kind.' + s.kind, s.kind)}, "
                f"{tr_or('deid.layer.' + s.layer, s.layer)}{where})"
            )
        if seg.overlap:
            out.append("\n  " + tr("review.overlap_note"), "italic")
        for note in seg.notes:
            out.append(f"\n  {kind_text(note.kind)}: {note.text}")
        if seg.original_text:
            out.append("\n  " + tr("review.whisper_heard", text=seg.original_text), "dim")
        self.query_one("#detail", Static).update(out)

    # -- editing ------------------------------------------------------------------------------
    def action_edit(self) -> None:
        seg = self.current_segment()
        if seg is None:
            return

        def done(text: str | None) -> None:
            if text is None:
                return
            edited = self.attempt(self.services.edit_segment, self.sid, seg.idx, text=text)
            if edited is not None:
                self._replace(edited)
                self.emit(SegmentEdited(self.sid, seg.idx, "text"))
                self.finding = True  # the words changed: look again (in a worker)
                self.find_suggestions(self.sid)

        self.app.push_screen(AskText(tr("review.edit_title", time=clock(seg.start)), seg.text), done)

    def action_speaker(self) -> None:
        seg = self.current_segment()
        if seg is None:
            return
        options = self._speaker_options()

        def done(who: str | None) -> None:
            if not who:
                return
            edited = self.attempt(self.services.edit_segment, self.sid, seg.idx, speaker=who)
            if edited is not None:
                self._replace(edited)
                self.emit(SegmentEdited(self.sid, seg.idx, "speaker"))

        self.app.push_screen(ChooseOne(tr("review.who"), options), done)

    def _speaker_options(self) -> list[tuple[str, str]]:
        return [(p, p) for p in self.participants] + [(tr("review.interviewer"), "interviewer")]

    def action_name_voice(self) -> None:
        """Name the selected turn's voice once, for every turn it speaks."""
        seg = self.current_segment()
        if seg is None:
            return
        if seg.voice is None:
            self.notify(tr("review.no_voice"), severity="warning")
            return
        voice = seg.voice
        view = self.attempt(self.services.speakers, self.sid)
        known = {v.voice: v for v in view.voices} if view is not None else {}
        before = speaker_text(known[voice].speaker, voice) if voice in known else speaker_text(None, voice)

        def done(who: str | None) -> None:
            if not who:
                return
            changed = self.attempt(self.services.name_voice, self.sid, voice, who)
            if changed is None:
                return
            self.reload()
            self.show_speakers()
            self.emit(SegmentEdited(self.sid, seg.idx, "voice"))
            self.notify(tr("review.voice_named", who=speaker_text(who, voice), count=changed))

        self.app.push_screen(ChooseOne(tr("review.who_voice", now=before), self._speaker_options()), done)

    # -- marks after the fact ------------------------------------------------------------------
    def action_question(self) -> None:
        place_question(self)

    def action_note(self) -> None:
        place_note(self, "note")

    def action_flag(self) -> None:
        place_note(self, "flag")

    def action_marks(self) -> None:
        show_marks(self)

    # -- redaction ----------------------------------------------------------------------------
    def _decide(self, decision: Decision) -> None:
        """Queue a decision for the saving worker. The key returns at once and the detail shows
        the decision straight away (a group is decided as one, so its outcome is known); the
        worker's result, the transcript's suggestions as saved, replaces it a moment later."""
        accept, reject = set(decision.accept), set(decision.reject)
        if decision.accept_all:
            accept = {s.n for s in self.suggested if s.status == "suggested"}
        if accept or reject:
            before = self.suggested
            self.suggested = [
                replace(s, status="accepted" if s.n in accept else "rejected") if s.n in accept | reject else s
                for s in self.suggested
            ]
            self.call_after_refresh(self._refresh_texts, before)  # the detail first, the table next frame
            self._show_detail()
        self._decisions.put(decision)
        self._pending += 1
        if not self._saving:
            self._saving = True
            self.save_decisions()

    @work(thread=True, exit_on_error=False, group="decide")
    def save_decisions(self) -> None:
        """Save queued decisions one after the other (deciding re-reads and re-checks the whole
        transcript: seconds on an hour of talk, too slow for the UI thread). Each one answers
        with the transcript's suggestions as saved; one that is refused answers with its
        sentence and the suggestions as they stand, so the screen never shows a decision that
        did not happen."""
        while True:
            try:
                decision = self._decisions.get_nowait()
            except queue.Empty:
                break
            try:
                if decision.phrase:
                    found = self.services.redact_phrase(self.sid, decision.phrase)
                else:
                    found = self.services.decide(
                        self.sid,
                        accept=list(decision.accept),
                        reject=list(decision.reject),
                        accept_all=decision.accept_all,
                    )
            except FieldscribeError as exc:
                try:
                    now = self.services.suggestions(self.sid)
                except FieldscribeError:
                    now = None  # locked meanwhile: the screen is going away
                self.post_message(DecisionSaved(self.sid, now, error_text(exc)))
                continue
            self.post_message(DecisionSaved(self.sid, found))
        self.app.call_from_thread(self._saved)

    def _saved(self) -> None:
        self._saving = False
        if not self._decisions.empty():  # queued after the worker looked for the last time
            self._saving = True
            self.save_decisions()

    def on_decision_saved(self, message: DecisionSaved) -> None:
        if message.sid != self.sid:
            return
        self._pending -= 1
        if message.error:
            self.notify(message.error, severity="error", timeout=8)
        if self._pending == 0 and message.suggestions is not None:  # later ones would overtake it
            before, self.suggested = self.suggested, message.suggestions
            self.call_after_refresh(self._refresh_texts, before)  # the detail first, the table next frame
            self._show_detail()
        if message.error is None:
            self.reviewed = False  # deciding re-opens the review
            self.emit(RedactionsChanged(self.sid, sum(1 for s in self.suggested if s.status == "suggested")))

    def _mine(self) -> list[int]:
        seg = self.current_segment()
        if self.finding:
            self.notify(tr("review.still_finding"))
            return []
        return sorted({s.n for s in self.suggested if seg is not None and s.segment == seg.idx})

    def action_accept(self) -> None:
        if mine := self._mine():
            self._decide(Decision(accept=tuple(mine)))

    def action_reject(self) -> None:
        if mine := self._mine():
            self._decide(Decision(reject=tuple(mine)))

    def action_accept_all(self) -> None:
        if not self.finding:
            self._decide(Decision(accept_all=True))

    def action_redact(self) -> None:
        def done(entry: str | None) -> None:
            # several at once: "Eric, Merrick=[friend]" (commas or Chinese 、，between them)
            for phrase in re.split(r"[,，、;；]", entry or ""):
                if phrase.strip():
                    self._decide(Decision(phrase=phrase.strip()))

        self.app.push_screen(
            AskText(tr("review.redact_title"), placeholder=tr("review.redact_placeholder")),
            done,
        )

    def action_done(self) -> None:
        if self._pending:
            self.notify(tr("review.saving"), severity="warning")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._mark_reviewed()

        self.app.push_screen(
            Confirm(tr("review.ask_done", sid=self.sid)),
            answer,
        )

    def _mark_reviewed(self) -> None:
        try:
            self.services.mark_reviewed(self.sid)
        except FieldscribeError as exc:
            self.notify(error_text(exc), severity="error", timeout=8)
            return
        self.reviewed = True
        self.emit(TranscriptReviewed(self.sid))
        self.notify(tr("review.done", sid=self.sid))
        self._show_detail()

    # -- listening ----------------------------------------------------------------------------
    def action_play(self) -> None:
        if self._playing is not None:
            self._playing.set()
            return
        seg = self.current_segment()
        if seg is None:
            return
        self._playing = threading.Event()
        self.play(seg.start, seg.end, self._playing)

    @work(thread=True, exclusive=True, exit_on_error=False, group="playback")
    def play(self, start: float, end: float, cancel: threading.Event) -> None:
        def position(heard: float) -> None:
            self.post_message(PlaybackAt(start + heard, end))

        try:
            self.services.play(self.sid, start, end, cancel=cancel, on_position=position)
        except FieldscribeError as exc:
            self.post_message(WorkFailed("play", error_text(exc)))
        finally:
            self.app.call_from_thread(self._played)

    def on_playback_at(self, message: PlaybackAt) -> None:
        if self._playing is not None:
            self.playing_at = message.at
            self.query_one("#playback", Static).update(
                tr("review.playing", position=clock(message.at), end=clock(message.end))
            )
            self.query_one("#playback", Static).display = True

    def _played(self) -> None:
        self._playing = None
        self.playing_at = None
        if self.is_attached:
            self.query_one("#playback", Static).display = False

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.error, severity="error", timeout=8)

    def action_leave(self) -> None:
        if self._playing is not None:
            self._playing.set()
        self.app.pop_screen()
