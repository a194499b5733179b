"""Transcript review: read against the audio, correct words and speakers, and decide every
suggested redaction before the transcript may leave the laptop."""

from __future__ import annotations

import threading

from rich.markup import escape as rich_escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Label, Static

from ...core.errors import FieldscribeError
from ..messages import RedactionsChanged, SegmentEdited, SuggestionsReady, TranscriptReviewed, WorkFailed
from ..strings import tr
from .base import BaseScreen
from .dialogs import AskText, ChooseOne
from .interview import clock


class ReviewScreen(BaseScreen):
    HELP = (
        "Each row is a stretch of speech with its time, speaker and guide question; ⚑ marks a moment flagged "
        "during the interview. Space plays the selected segment; E edits its words; K changes its speaker. "
        "Suggested redactions are shown in yellow under the table, each with the layer that found it: "
        "list (typed in or decided before), rule, or model (offline name finder; '?' means look twice). "
        "A accepts and R rejects those of the selected segment — for every occurrence in the study at once; "
        "X marks other words for redaction everywhere, Shift+A accepts every suggestion. "
        "D marks the transcript reviewed once nothing is left undecided."
    )
    BINDINGS = [
        Binding("space", "play", "Play", id="review.play", tooltip="Play the selected segment (again to stop)"),
        Binding("e", "edit", "Edit", id="review.edit", tooltip="Correct the words of the selected segment"),
        Binding("k", "speaker", "Speaker", id="review.speaker", tooltip="Change who speaks in this segment"),
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
        Binding("d", "done", "Reviewed", id="review.done", tooltip="Mark the transcript reviewed"),
        Binding("escape", "leave", "Back", id="review.back"),
    ]

    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid
        self.segments: list = []
        self.reviewed = False
        self.suggested: list = []
        self.finding = True  # the name finders are still going through the transcript
        self.missing_layers: list[str] = []
        self._playing: threading.Event | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="review-body"):
            yield DataTable(id="segments", cursor_type="row", zebra_stripes=True)
            yield Label(tr("review.suggestions"), classes="pane-title")
            yield Static(id="detail")
        yield Static(id="review-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{tr('review.title')} · {self.sid}"
        table = self.query_one("#segments", DataTable)
        table.add_column("time", key="time", width=8)
        table.add_column("who", key="who", width=11)
        table.add_column("question", key="question", width=14)
        table.add_column("text", key="text")
        if not self.load(find=False):
            self.app.pop_screen()
            return
        table.focus()
        self.find_suggestions(self.sid)

    @work(thread=True, exclusive=True, exit_on_error=False, group="suggestions")
    def find_suggestions(self, sid: str) -> None:
        """Loading the models and going through an hour of talk takes seconds: off the UI thread."""
        try:
            found = self.services.suggestions(sid)
        except FieldscribeError as exc:
            self.post_message(WorkFailed("suggestions", str(exc)))
            return
        self.post_message(SuggestionsReady(sid, found, self.services.deid_layers()))

    def on_suggestions_ready(self, message: SuggestionsReady) -> None:
        if message.sid != self.sid:
            return
        self.finding = False
        self.suggested = message.suggestions
        self.missing_layers = message.missing_layers
        self._show_detail()

    def load(self, find: bool = True) -> bool:
        segments = self.attempt(self.services.segments, self.sid)
        if segments is None:
            return False
        self.segments = segments
        if find:
            self.suggested = self.attempt(self.services.suggestions, self.sid) or []
            self.finding = False
        self.reviewed = self.services.is_reviewed(self.sid)
        table = self.query_one("#segments", DataTable)
        row = table.cursor_row
        table.clear()
        for seg in segments:
            flag = "⚑" if any(n.get("kind") == "flag" for n in seg.notes) else " "
            table.add_row(
                f"{flag}{clock(seg.start)}",
                seg.speaker or "–",
                seg.question or "–",
                rich_escape(seg.text),
                key=str(seg.idx),
            )
        if segments:
            table.move_cursor(row=min(row, len(segments) - 1))
        self._show_detail()
        return True

    def _current(self):
        table = self.query_one("#segments", DataTable)
        if not self.segments:
            return None
        return self.segments[min(table.cursor_row, len(self.segments) - 1)]

    @on(DataTable.RowHighlighted)
    def _moved(self, _event) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        seg = self._current()
        pending = len({s.n for s in self.suggested if s.status == "suggested"})
        finding = "looking for names, places and numbers…" if self.finding else f"{pending} suggestion(s) undecided"
        missing = (" · " + " ".join(self.missing_layers)) if self.missing_layers else ""
        self.query_one("#review-status", Static).update(
            f"{len(self.segments)} segments · {finding} · "
            + ("reviewed" if self.reviewed else "not reviewed")
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
            where = f", ×{counts[s.n]} in this transcript" if counts.get(s.n, 0) > 1 else ""
            out.append(
                f"\n  #{s.n}{'?' if s.weak else ' '}{s.status:<9} {s.original} → {s.descriptor} "
                f"({s.kind}, {s.layer}{where})"
            )
        for note in seg.notes:
            out.append(f"\n  {note.get('kind', 'note')}: {note.get('text') or ''}")
        if seg.original_text:
            out.append(f"\n  Whisper heard: {seg.original_text}", "dim")
        self.query_one("#detail", Static).update(out)

    def _after_change(self, idx: int, what: str) -> None:
        self.load()
        self.emit(SegmentEdited(self.sid, idx, what))

    # -- editing ------------------------------------------------------------------------------
    def action_edit(self) -> None:
        seg = self._current()
        if seg is None:
            return

        def done(text: str | None) -> None:
            if text is not None and self.attempt(self.services.edit_segment, self.sid, seg.idx, text=text):
                self._after_change(seg.idx, "text")

        self.app.push_screen(AskText(f"Words of the segment at {clock(seg.start)}", seg.text), done)

    def action_speaker(self) -> None:
        seg = self._current()
        if seg is None:
            return
        people = self.services.session(self.sid).participants
        options = [(p, p) for p in people] + [("interviewer", "interviewer")]

        def done(who: str | None) -> None:
            if who and self.attempt(self.services.edit_segment, self.sid, seg.idx, speaker=who):
                self._after_change(seg.idx, "speaker")

        self.app.push_screen(ChooseOne("Who speaks in this segment?", options), done)

    # -- redaction ----------------------------------------------------------------------------
    def _decide(self, **kwargs) -> None:
        result = self.attempt(self.services.decide, self.sid, **kwargs)
        if result is not None:
            self.load()
            self.emit(RedactionsChanged(self.sid, sum(1 for s in self.suggested if s.status == "suggested")))

    def _mine(self) -> list[int]:
        seg = self._current()
        if self.finding:
            self.notify("Still looking for names, places and numbers in this transcript; a moment.")
            return []
        return sorted({s.n for s in self.suggested if seg is not None and s.segment == seg.idx})

    def action_accept(self) -> None:
        if self._mine():
            self._decide(accept=self._mine())

    def action_reject(self) -> None:
        if self._mine():
            self._decide(reject=self._mine())

    def action_accept_all(self) -> None:
        if not self.finding:
            self._decide(accept_all=True)

    def action_redact(self) -> None:
        def done(entry: str | None) -> None:
            if entry and self.attempt(self.services.redact_phrase, self.sid, entry) is not None:
                self.load()
                self.emit(RedactionsChanged(self.sid, sum(1 for s in self.suggested if s.status == "suggested")))

        self.app.push_screen(
            AskText(
                "Words to redact everywhere, optionally =descriptor (e.g. Mary=[sister])",
                placeholder="words=[descriptor]",
            ),
            done,
        )

    def action_done(self) -> None:
        try:
            self.services.mark_reviewed(self.sid)
        except FieldscribeError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        self.reviewed = True
        self.emit(TranscriptReviewed(self.sid))
        self.notify(f"{self.sid} is reviewed and may be exported.")
        self._show_detail()

    # -- listening ----------------------------------------------------------------------------
    def action_play(self) -> None:
        if self._playing is not None:
            self._playing.set()
            return
        seg = self._current()
        if seg is None:
            return
        self._playing = threading.Event()
        self.play(seg.start, seg.end, self._playing)

    @work(thread=True, exclusive=True, exit_on_error=False, group="playback")
    def play(self, start: float, end: float, cancel: threading.Event) -> None:
        try:
            self.services.play(self.sid, start, end, cancel=cancel)
        except FieldscribeError as exc:
            self.post_message(WorkFailed("play", str(exc)))
        finally:
            self.app.call_from_thread(setattr, self, "_playing", None)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(message.error, severity="error", timeout=8)

    def action_leave(self) -> None:
        if self._playing is not None:
            self._playing.set()
        self.app.pop_screen()
