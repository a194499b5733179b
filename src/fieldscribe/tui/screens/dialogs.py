"""Small modal questions: confirm, a field note, who is speaking, one line of text."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...services import NOTE_PRESETS
from ..strings import tr
from .base import BaseModal


def preset_text(n: int) -> str:
    """Preset note N in the UI language (the study's, so it reads right in the transcript)."""
    return tr(f"note.preset_{n + 1}")


class Confirm(BaseModal):
    """Y / N; Escape means no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-text")
            yield Label(tr("dialog.yes_no"), classes="dialog-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class NoteDialog(BaseModal):
    """A timestamped field note: a preset (keys 1–5) or free text."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="note.cancel"),
        *[
            Binding(str(i + 1), f"preset({i})", p, id=f"note.preset{i + 1}", show=False)
            for i, p in enumerate(NOTE_PRESETS)
        ],
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(tr("note.title"), classes="dialog-text")
            yield OptionList(
                *[Option(f"{i + 1}  {preset_text(i)}", id=str(i)) for i in range(len(NOTE_PRESETS))], id="presets"
            )
            yield Input(placeholder=tr("note.placeholder"), id="note-text")

    def on_mount(self) -> None:
        # the list has focus so that 1–5 pick a preset at once; Tab goes to the text box
        self.query_one("#presets", OptionList).focus()

    def action_preset(self, n: int) -> None:
        # the words in the interview's language; the preset's own name says which one it was
        self.dismiss({"text": preset_text(n), "preset": NOTE_PRESETS[n]})

    @on(OptionList.OptionSelected, "#presets")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.action_preset(int(event.option.id or 0))

    @on(Input.Submitted, "#note-text")
    def _typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self.dismiss({"text": text, "preset": text if text in NOTE_PRESETS else None})

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChooseOne(BaseModal):
    """Pick one of a few options (who is speaking)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choose.cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text, self.options = title, options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-text")
            yield OptionList(*[Option(label, id=value) for label, value in self.options], id="choices")

    def on_mount(self) -> None:
        self.query_one("#choices", OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AskText(BaseModal):
    """One line of text, pre-filled (edit a segment, words to redact)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="ask.cancel")]

    def __init__(self, title: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.value, self.placeholder = title, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.title_text, classes="dialog-text")
            yield Input(self.value, placeholder=self.placeholder, id="answer")
            yield Label(tr("dialog.save_cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    @on(Input.Submitted, "#answer")
    def _done(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
