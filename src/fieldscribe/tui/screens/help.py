"""F1: help for what has focus, and the keys that work here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from ..strings import tr
from .base import BaseModal


class HelpScreen(BaseModal):
    BINDINGS = [Binding("escape,f1,q", "close", "Close", id="help.close")]

    def __init__(self, title: str, text: str, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.title_text, self.text, self.keys = title, text, keys

    def compose(self) -> ComposeResult:
        table = "\n".join(f"| `{k}` | {d} | {t} |" for k, d, t in self.keys)
        head = f"| {tr('help.keys')} | {tr('help.does')} | {tr('help.more')} |"
        body = f"# {self.title_text}\n\n{self.text}\n\n{head}\n|---|---|---|\n{table}\n"
        with VerticalScroll(classes="dialog wide help"):
            yield Markdown(body)

    def action_close(self) -> None:
        self.dismiss(None)
