"""Marks after the fact, from the review screen: for a recording made without the guide open
(a handheld recorder's file brought in with `audio import`) the reviewer listens (Space), then
says where each guide question began (Q), adds a field note (M) or flags a sensitive moment (F)
at the selected segment, and sees and takes back the session's marks (Shift+M). The core
re-attributes the transcript from the marks, so the review reads it again afterwards: its
question column, and every export's codes and headings, follow the marks.

The review screen keeps only its key bindings and one-line actions; the wording and the two
dialogs live here, the way review_speakers holds how the screen words who speaks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...services.marks import MarkView
from ...services.views import GuideQuestion, SegmentView
from ..messages import AppEvent, app_message
from ..strings import tr, tr_or
from .base import BaseModal
from .dialogs import AskText, Confirm
from .interview import clock

if TYPE_CHECKING:
    from .review import ReviewScreen


@app_message
class MarksChanged(AppEvent):
    """A mark was placed (REMOVED false) or taken back on SID's recording; the review has read
    the re-attributed transcript again."""

    sid: str
    mark: MarkView
    removed: bool = False


def kind_text(kind: str) -> str:
    """A mark's or a segment note's kind in the UI language (question, note, flag …)."""
    return tr_or(f"marks.kind.{kind}", kind)


def mark_what(mark: MarkView, questions: dict[str, GuideQuestion]) -> Text:
    """What a mark says, as the list shows it: the question it starts with its words, a probe
    and its question, a note's or flag's words (typed by a person: never read as markup)."""
    if mark.kind == "question" and mark.question:
        q = questions.get(mark.question)
        return Text(f"{mark.question}  {q.text}" if q else mark.question)
    if mark.kind == "probe":
        return Text(tr("marks.probe", n=mark.text, question=mark.question or "–"))
    return Text(mark.text or "–")


# -- placing marks, from the review screen ------------------------------------------------------
def place_question(screen: ReviewScreen) -> None:
    """Q: pick the guide question that starts at the selected segment."""
    seg = screen.current_segment()
    if seg is None:
        return
    questions = screen.attempt(screen.services.questions, screen.sid)
    if not questions:
        return

    def chosen(qid: str | None) -> None:
        if qid:
            placed = _place(screen, seg, "question", question=qid)
            if placed is not None:
                screen.notify(tr("marks.question_placed", question=qid, time=clock(seg.start)))

    screen.app.push_screen(QuestionPicker(clock(seg.start), questions, seg.question), chosen)


def place_note(screen: ReviewScreen, kind: str) -> None:
    """M (a note, its words required) or F (a flag, its words optional) at the selected segment."""
    seg = screen.current_segment()
    if seg is None:
        return

    def typed(text: str | None) -> None:
        if text is None:
            return  # Escape: nothing added
        words = " ".join(text.split())
        if kind == "note" and not words:
            screen.notify(tr("marks.note_empty"), severity="warning")
            return
        placed = _place(screen, seg, kind, text=words)
        if placed is not None:
            screen.notify(tr(f"marks.{kind}_placed", time=clock(placed.t)))

    at = clock(seg.start)
    screen.app.push_screen(
        AskText(tr(f"marks.{kind}_title", time=at), placeholder=tr(f"marks.{kind}_placeholder")), typed
    )


def _place(screen: ReviewScreen, seg: SegmentView, kind: str, **given: str) -> MarkView | None:
    """Stamp the mark (a refusal is one sentence, nothing changes), then read the re-attributed
    transcript again, the cursor staying where it was. A question begins at the segment's
    start; a note or flag is stamped in its middle, since a note belongs to the segment being
    spoken when it is stamped, and where two voices overlap the segment before may still be
    going on at this one's start."""
    at = seg.start if kind == "question" else (seg.start + seg.end) / 2
    mark = screen.attempt(screen.services.add_mark, screen.sid, kind, at, **given)
    if mark is not None:
        screen.reload()
        screen.emit(MarksChanged(screen.sid, mark))
    return mark


def show_marks(screen: ReviewScreen) -> None:
    """Shift+M: the session's marks; the review reads the transcript again if one was taken
    back, and goes to the moment of the mark chosen with Enter."""

    def closed(result: tuple[bool, float | None] | None) -> None:
        changed, go_to = result or (False, None)
        if changed:
            screen.reload()
        if go_to is not None:
            screen.go_to(go_to)

    questions = screen.attempt(screen.services.questions, screen.sid) or []
    screen.app.push_screen(MarksDialog(screen.sid, questions), closed)


# -- the dialogs -----------------------------------------------------------------------------------
class QuestionPicker(BaseModal):
    """The session's guide questions in guide order under their domains; the question the
    selected segment is under now is highlighted. Dismissed with the question id, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="marks.cancel")]

    def __init__(self, at: str, questions: list[GuideQuestion], current: str | None) -> None:
        super().__init__()
        self.at, self.questions, self.current = at, questions, current

    def compose(self) -> ComposeResult:
        options: list[Option] = []
        domain = None
        for q in self.questions:
            if q.domain_id != domain:
                domain = q.domain_id
                header = Text(q.domain_title, style="bold")
                options.append(Option(header, id=f"domain:{q.domain_id}", disabled=True))
            line = Text.assemble("  ", (q.id, "bold"), "  ", q.text)
            if q.id == self.current:
                line.append("  " + tr("marks.current"), style="italic")
            options.append(Option(line, id=q.id))
        with Vertical(classes="dialog wide", id="question-picker"):
            yield Label(tr("marks.question_title", time=self.at), classes="dialog-text")
            yield OptionList(*options, id="questions")
            yield Label(tr("marks.question_keys"), classes="dialog-keys")

    def on_mount(self) -> None:
        picker = self.query_one("#questions", OptionList)
        ids = [o.id for o in picker.options]
        first = next((i for i, o in enumerate(picker.options) if not o.disabled), 0)
        picker.highlighted = ids.index(self.current) if self.current in ids else first
        picker.focus()

    @on(OptionList.OptionSelected, "#questions")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MarksDialog(BaseModal):
    """The session's marks in time order, each with its time, kind and what it says; D takes
    the selected one back (after asking), Enter goes to its moment in the review. Dismissed
    with (whether a mark was taken back, the time to go to)."""

    BINDINGS = [
        Binding("d,delete", "remove", "Take back", id="marks.remove", tooltip="Take back the selected mark"),
        Binding("escape", "close", "Close", id="marks.close"),
    ]

    def __init__(self, sid: str, questions: list[GuideQuestion]) -> None:
        super().__init__()
        self.sid = sid
        self.questions = {q.id: q for q in questions}
        self.marks: list[MarkView] = []
        self.changed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="marks-dialog"):
            yield Label(tr("marks.list_title", sid=self.sid), classes="dialog-text")
            yield DataTable(id="marks", cursor_type="row", zebra_stripes=True)
            yield Static(id="marks-empty")
            yield Label(tr("marks.list_keys"), classes="dialog-keys")

    def on_mount(self) -> None:
        table = self.query_one("#marks", DataTable)
        table.add_column(tr("marks.col_time"), key="time", width=8)
        table.add_column(tr("marks.col_kind"), key="kind", width=10)
        table.add_column(tr("marks.col_what"), key="what")
        self.refresh_list()
        table.focus()

    def refresh_list(self) -> None:
        found = self.attempt(self.services.marks, self.sid)
        self.marks = found if found is not None else []
        table = self.query_one("#marks", DataTable)
        row = table.cursor_row
        table.clear()
        for mark in self.marks:
            table.add_row(clock(mark.t), kind_text(mark.kind), mark_what(mark, self.questions), key=str(mark.seq))
        if self.marks:
            table.move_cursor(row=min(row, len(self.marks) - 1))
        table.display = bool(self.marks)
        empty = self.query_one("#marks-empty", Static)
        empty.update(tr("marks.none"))
        empty.display = not self.marks

    def selected(self) -> MarkView | None:
        if not self.marks:
            return None
        return self.marks[min(self.query_one("#marks", DataTable).cursor_row, len(self.marks) - 1)]

    def action_remove(self) -> None:
        mark = self.selected()
        if mark is None:
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            before = self.marks
            gone = self.attempt(self.services.remove_mark, self.sid, mark.seq)
            if gone is not None:
                self.notify(tr("marks.removed", kind=kind_text(gone.kind), time=clock(gone.t)))
                self.emit(MarksChanged(self.sid, gone, removed=True))
            # a refusal too: the list shows the marks as they stand (one may have been taken
            # back elsewhere, with the CLI), and the review reads the transcript again if so
            self.refresh_list()
            self.changed = self.changed or self.marks != before

        self.app.push_screen(Confirm(tr("marks.ask_remove", kind=kind_text(mark.kind), time=clock(mark.t))), answer)

    @on(DataTable.RowSelected, "#marks")
    def _go(self, _event: DataTable.RowSelected) -> None:
        mark = self.selected()
        self.dismiss((self.changed, mark.t if mark is not None else None))

    def action_close(self) -> None:
        self.dismiss((self.changed, None))
