"""One participant's page: their consent item by item, the identifiers to look for in their
transcripts, quick notes, their consent summary to print, planning their next interview, and
withdrawal — each a key, each irreversible step behind a confirmation that says what happens.

Everything here is what the command line's `consent`, `participant identifiers`, `participant
note`, `consent summary` and `withdraw` do, so the interviewer never has to leave the app."""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Header, Label, Static

from ...services import FieldscribeError
from ...services.admin import ConsentItemState
from ..strings import error_text, tr
from ..widgets import FieldFooter
from .base import BaseModal, BaseScreen
from .dialogs import AskText

SPLIT = re.compile(r"[,，、;；]")  # several entries at once, as the review's X dialog takes them


def _decision(given: bool | None) -> str:
    return tr("person.not_asked") if given is None else tr("enrol.agrees") if given else tr("enrol.refuses")


class ParticipantScreen(BaseScreen):
    BINDINGS = [
        Binding("c", "consent", "Consent", id="person.consent", tooltip="Take consent again, item by item"),
        Binding("i", "identifiers", "Identifiers", id="person.identifiers", tooltip="Add names to look for"),
        Binding("m", "note", "Note", id="person.note", tooltip="Add a note on this participant (sealed)"),
        Binding("n", "plan", "New interview", id="person.plan", tooltip="Plan an interview with them"),
        Binding("s", "summary", "Consent summary", id="person.summary", tooltip="Write their consent summary"),
        Binding("w", "withdraw", "Withdraw", id="person.withdraw", tooltip="Withdraw them (asks; irreversible)"),
        Binding("escape", "leave", "Back", id="person.back"),
    ]

    def __init__(self, pid: str) -> None:
        super().__init__()
        self.pid = pid

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(classes="form", id="person-body"):
            yield Label(tr("person.consent"), classes="pane-title")
            yield Static(id="person-consent")
            yield Label(tr("person.identifiers"), classes="pane-title")
            yield Static(id="person-identifiers")
            yield Label(tr("person.notes"), classes="pane-title")
            yield Static(id="person-notes")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.sub_title = tr("person.title", pid=self.pid)
        if not self.refresh_data():
            self.app.pop_screen()

    def refresh_data(self) -> bool:
        status = self.attempt(self.services.consent_status, self.pid)
        if status is None:
            return False
        lines = Text(tr("person.state", state=tr(f"consent.{status.state}")) + "\n")
        for item in status.items:
            lines.append(f"{_decision(item.given)}  ", "bold" if item.given is None else "")
            lines.append(item.text.strip().split("\n")[0][:200])
            if item.at:
                lines.append(f"  ({item.at[:10]}{', ' + item.taken_by if item.taken_by else ''})", "dim")
            lines.append("\n")
        self.query_one("#person-consent", Static).update(lines)
        ids = self.attempt(self.services.participant_identifiers, self.pid) or []
        self.query_one("#person-identifiers", Static).update(
            Text("\n".join(f"{i.text} → {i.descriptor}" for i in ids) or tr("person.none"))
        )
        notes = self.attempt(self.services.participant_notes, self.pid) or ()
        self.query_one("#person-notes", Static).update(
            Text("\n".join(f"{n.at[:16].replace('T', ' ')}  {n.text}" for n in notes) or tr("person.none"))
        )
        return True

    # -- consent ------------------------------------------------------------------------------
    def action_consent(self) -> None:
        status = self.attempt(self.services.consent_status, self.pid)
        if status is None:
            return

        def done(decisions: dict[str, bool] | None) -> None:
            if not decisions:
                return
            saved = self.attempt(self.services.record_consent, self.pid, decisions)
            if saved is not None:
                self.notify(tr("person.consent_saved", pid=self.pid, state=tr(f"consent.{saved.state}")))
                self.refresh_data()

        self.app.push_screen(RetakeConsent(self.pid, list(status.items)), done)

    # -- identifiers and notes ----------------------------------------------------------------
    def action_identifiers(self) -> None:
        def done(entry: str | None) -> None:
            entries = [e.strip() for e in SPLIT.split(entry or "") if e.strip()]
            if entries and self.attempt(self.services.add_participant_identifiers, self.pid, entries) is not None:
                self.notify(tr("person.identifiers_added", count=len(entries)))
                self.refresh_data()

        self.app.push_screen(
            AskText(tr("person.identifiers_title", pid=self.pid), placeholder=tr("person.identifiers_example")),
            done,
        )

    def action_note(self) -> None:
        def done(text: str | None) -> None:
            if text and text.strip() and self.attempt(self.services.add_participant_note, self.pid, text.strip()):
                self.notify(tr("person.note_added"))
                self.refresh_data()

        self.app.push_screen(AskText(tr("person.note_title", pid=self.pid)), done)

    # -- planning and the consent summary -----------------------------------------------------
    def action_plan(self) -> None:
        from .home import HomeScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.plan_with(self.pid)

    def action_summary(self) -> None:
        default = str(Path.home() / f"consent-{self.pid}.pdf")

        def done(path: str | None) -> None:
            if not path or not path.strip():
                return
            target = Path(path.strip()).expanduser()
            try:
                written = self.services.write_consent_summary(self.pid, target)
            except FieldscribeError as exc:
                if target.suffix.lower() != ".pdf":
                    self.notify(error_text(exc), severity="error", timeout=10)
                    return
                # no font on this laptop holds the characters a PDF needs: a web page prints as well
                written_html = self.attempt(self.services.write_consent_summary, self.pid, target.with_suffix(".html"))
                if written_html is not None:
                    self.notify(tr("person.summary_html", path=written_html), severity="warning", timeout=10)
                return
            self.notify(tr("person.summary_written", path=written), timeout=8)

        self.app.push_screen(AskText(tr("person.summary_title"), default), done)

    # -- withdrawal ---------------------------------------------------------------------------
    def action_withdraw(self) -> None:
        preview = self.attempt(self.services.withdrawal_preview, self.pid)
        if preview is None:
            return
        said = [tr("person.withdraw_key", pid=self.pid)]
        if preview.sessions_destroyed:
            said.append(tr("person.withdraw_sessions", ids=", ".join(preview.sessions_destroyed)))
        if preview.group_sessions_kept:
            said.append(tr("person.withdraw_groups", ids=", ".join(preview.group_sessions_kept)))
        if preview.bundles_held_back:
            said.append(tr("person.withdraw_held", count=len(preview.bundles_held_back)))
        if preview.bundles_sent:
            said.append(tr("person.withdraw_sent", count=len(preview.bundles_sent)))
        if preview.table_entries_removed:
            said.append(tr("person.withdraw_table", count=preview.table_entries_removed))
        question = "\n".join(f"• {s}" for s in said) + "\n\n" + tr("person.withdraw_type", phrase=preview.confirmation)

        def done(typed: str | None) -> None:
            if typed is None:
                return
            if typed.strip() != preview.confirmation:
                self.notify(tr("person.withdraw_not_confirmed"), severity="warning")
                return
            result = self.attempt(self.services.withdraw, self.pid, typed.strip())
            if result is not None:
                self.notify(tr("person.withdrawn", pid=self.pid), timeout=10)
                self.app.pop_screen()

        self.app.push_screen(AskText(question), done)

    def action_leave(self) -> None:
        self.app.pop_screen()

    def on_screen_resume(self) -> None:
        if self.services.unlocked:
            self.refresh_data()


class RetakeConsent(BaseModal):
    """Consent read out again, one item at a time: Y agrees, N does not, → keeps the earlier
    answer. Nothing is saved until the last item; Escape saves nothing."""

    BINDINGS = [
        Binding("y", "answer(True)", "Agrees", id="retake.yes"),
        Binding("n", "answer(False)", "Does not agree", id="retake.no"),
        Binding("right", "answer(None)", "Keep", id="retake.keep", tooltip="Keep the earlier answer"),
        Binding("escape", "cancel", "Cancel", id="retake.cancel"),
    ]

    def __init__(self, pid: str, items: list[ConsentItemState]) -> None:
        super().__init__()
        self.pid, self.items, self.position = pid, items, 0
        self.decisions: dict[str, bool] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(tr("person.retake_title", pid=self.pid), classes="dialog-text")
            yield Static(id="retake-counter")
            yield Static(id="retake-item", classes="big-text")
            yield Label(tr("person.retake_keys"), classes="dialog-keys")

    def on_mount(self) -> None:
        self._show()

    def _show(self) -> None:
        item = self.items[self.position]
        heading = tr("enrol.audio") + "\n\n" if item.audio_recording else ""
        self.query_one("#retake-item", Static).update(Text(heading + item.text))
        self.query_one("#retake-counter", Static).update(
            tr("enrol.item_of", n=self.position + 1, total=len(self.items))
            + "  ·  "
            + tr("person.earlier", answer=_decision(item.given))
        )

    def action_answer(self, given: bool | None) -> None:
        if given is not None:
            self.decisions[self.items[self.position].id] = given
        self.position += 1
        if self.position >= len(self.items):
            self.dismiss(self.decisions)
        else:
            self._show()

    def action_cancel(self) -> None:
        self.dismiss(None)
