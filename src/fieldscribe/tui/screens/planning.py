"""Planning an interview: with whom, on which date, at which site, in which wave.

The wave is suggested (one past the person's last), the date is today and the site is where
they were enrolled; the interviewer only changes what differs. Nothing is stored until Enter."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Select, Static

from ...services.field import PlanningForm
from ..strings import tr
from .base import BaseModal


class PlanDialog(BaseModal):
    """Returns {"date", "site", "wave"} on Enter or Ctrl+S; None on Escape."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Plan", id="plan.save", tooltip="Plan the interview"),
        Binding("escape", "cancel", "Cancel", id="plan.cancel"),
    ]

    def __init__(self, form: PlanningForm) -> None:
        super().__init__()
        self.form = form

    def compose(self) -> ComposeResult:
        f = self.form
        with Vertical(classes="dialog"):
            yield Label(tr("plan.title", who=tr("home.and").join(f.participants)), classes="dialog-text")
            yield Label(tr("plan.date"), classes="field-label")
            yield Input(f.date, id="plan-date", placeholder=tr("plan.date_format"), compact=True)
            yield Label(tr("plan.site"), classes="field-label")
            yield Select(
                [(s.name, s.id) for s in f.sites],
                id="plan-site",
                prompt=tr("plan.no_site"),
                value=f.site if f.site is not None else Select.NULL,
                compact=True,
            )
            yield Label(tr("plan.wave"), classes="field-label")
            yield Input(str(f.wave), id="plan-wave", type="integer", compact=True)
            yield Static("", id="plan-problem", classes="problem")
            yield Label(tr("plan.keys"), classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#plan-date", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, _event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        wave_text = self.query_one("#plan-wave", Input).value.strip()
        if not wave_text.isdigit() or int(wave_text) < 1:
            self.query_one("#plan-problem", Static).update(tr("plan.bad_wave"))
            return
        site = self.query_one("#plan-site", Select).value
        self.dismiss(
            {
                "date": self.query_one("#plan-date", Input).value.strip() or None,
                "site": None if site is Select.NULL else str(site),
                "wave": int(wave_text),
            }
        )

    def action_cancel(self) -> None:
        self.dismiss(None)
