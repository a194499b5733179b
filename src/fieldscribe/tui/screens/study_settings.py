"""Study settings: the analysis team's key, the names to look for in every transcript, the
study store and its connection test, and purging what the team has confirmed receiving.

Each section says what is set now, and one key changes it. What cannot be undone (forgetting
the team's key, purging) first shows what will happen; purging also wants its phrase typed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Header, Input, Label, Static

from ...services import FieldscribeError
from ..messages import AppEvent, WorkFailed, app_message
from ..strings import error_text, language, tr
from ..widgets import FieldFooter
from .base import BaseModal, BaseScreen
from .dialogs import AskText, Confirm

if TYPE_CHECKING:
    from ...services.admin import (
        IdentifierView,
        PurgePreview,
        PurgeResult,
        RecipientsView,
        StoreSettingsView,
        StoreTestView,
    )
    from ...services.voices import VoiceProfileView

STORE_TEST_TIMEOUT_S = 10.0
# several entries at once: "Riverside Day Centre=[day centre], Lotus Café" (Chinese commas too)
ENTRY_SEPARATORS = re.compile(r"[,，、;；]")


# -- what the workers tell the screen -------------------------------------------------------------
@app_message
class StoreTested(AppEvent):
    result: StoreTestView


@app_message
class PurgePreviewed(AppEvent):
    preview: PurgePreview


@app_message
class Purged(AppEvent):
    result: PurgeResult


# -- wording ---------------------------------------------------------------------------------------
def recipients_text(view: RecipientsView) -> Text:
    """Where exports take their keys from, then every key known and where it comes from."""
    if view.source is not None:
        summary = tr(f"study.recipients_{view.source}")
    elif view.keys:  # only older study files name a key
        summary = tr("study.recipients_older")
    else:
        summary = tr("study.recipients_none")
    out = Text(summary)
    for k in view.keys:
        source = tr(f"study.source_{k.source}")
        line = tr("study.key_in_use" if k.in_use else "study.key_not_used", source=source)
        out.append("\n  • ")
        out.append(k.recipient, "bold" if k.in_use else "dim")
        out.append(f"  {line}")
    return out


def identifiers_text(items: list[IdentifierView]) -> Text:
    """The names and places looked for in every transcript: added here first, then the study
    file's. Built as Text: descriptors are full of [brackets]."""
    if not items:
        return Text(tr("study.identifiers_none"))
    out = Text()
    for source in ("added", "study_file"):
        mine = [i for i in items if i.source == source]
        if not mine:
            continue
        if out:
            out.append("\n")
        out.append(tr(f"study.identifiers_{source}", count=len(mine)), "italic")
        if source == "added":  # the ones typed here, one a line
            for i in mine:
                out.append(f"\n  • {i.text} → ")
                out.append(i.descriptor, "bold")
        else:  # the study file's (often many), as one wrapped paragraph
            out.append("\n  ")
            for n, i in enumerate(mine):
                out.append(f"{' · ' if n else ''}{i.text} → ")
                out.append(i.descriptor, "bold")
    return out


def store_text(view: StoreSettingsView) -> Text:
    if view.url is None:
        return Text(tr("study.store_none"))
    lines = [
        tr("study.store_address", address=view.address or view.url, source=tr(f"study.store_from_{view.source}")),
        tr("study.store_key", path=view.identity_file or tr("study.store_key_default")),
        tr("study.store_known_hosts", path=view.known_hosts or tr("study.store_known_hosts_default")),
        tr("study.store_password_kept") if view.password_set else tr("study.store_password_none"),
    ]
    if view.environment:
        lines.append(tr("study.store_environment", names=", ".join(view.environment)))
    return Text("\n".join(lines))


def store_test_text(result: StoreTestView) -> Text:
    """The outcome in the UI language; what to do about a failure in the store's own words."""
    headline = tr(f"study.test_{result.outcome}", address=result.address or "–")
    out = Text(headline, "bold green" if result.ok else "bold red")
    if not result.ok and result.outcome != "not_set":
        # the store's own sentence names what to check (a key file, the drive): in English only,
        # so a Chinese screen gets the advice of its outcome instead
        out.append("\n" + (result.sentence if language() == "en" else tr(f"study.advice_{result.outcome}")))
    return out


def voices_text(profiles: list[VoiceProfileView]) -> Text:
    """How many interviewers' voices the app knows here, and whose."""
    if not profiles:
        return Text(tr("study.voices_none"))
    out = Text(tr("study.voices_count", count=len(profiles)))
    out.append(" " + ", ".join(p.name for p in profiles), "bold")
    out.append("\n" + tr("study.voices_sealed"))
    return out


def purge_phrase(preview: PurgePreview) -> str:
    """What the interviewer types to confirm a purge, in the UI's language (the app then
    hands the core its own phrase, which the command line asks for)."""
    return tr("study.purge_phrase", count=len(preview.sessions))


def purge_lines(preview: PurgePreview) -> list[str]:
    listed = ", ".join(preview.sessions)
    return [
        tr("study.purge_deletes_audio", sessions=listed, mb=preview.audio_bytes / 1e6),
        tr("study.purge_deletes_keys"),
        tr("study.purge_keeps_bundles"),
        tr("study.purge_keeps_records"),
    ]


# -- the screen ------------------------------------------------------------------------------------
class StudySettingsScreen(BaseScreen):
    HELP_KEY = "study.help"
    BINDINGS = [
        Binding("k", "set_key", "Team key", id="study.key", tooltip="Set the analysis team's key"),
        Binding(
            "c",
            "clear_key",
            "Forget key",
            id="study.clear_key",
            show=False,
            tooltip="Forget the team's key set here (asks first)",
        ),
        Binding("i", "add_identifiers", "Identifiers", id="study.identifiers", tooltip="Add study identifiers"),
        Binding("s", "edit_store", "Store", id="study.store", tooltip="Edit the study store"),
        Binding("t", "test_store", "Test store", id="study.test", tooltip="Test the connection to the store"),
        Binding("p", "purge", "Purge", id="study.purge", tooltip="Purge received sessions (asks first)"),
        Binding("v", "voice_profiles", "Voice profiles", id="study.voices", tooltip="The interviewers' voice profiles"),
        Binding("escape", "leave", "Back", id="study.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.testing = False
        self.purging = False  # a preview or a purge is running

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="study-body"):
            yield Label(tr("study.recipients_title"), classes="pane-title")
            yield Static(id="study-recipients", classes="study-value")
            yield Static(Text(tr("study.recipients_keys")), classes="study-keys")
            yield Label(tr("study.store_title"), classes="pane-title")
            yield Static(id="study-store", classes="study-value")
            yield Static(id="study-store-test", classes="study-value")
            yield Static(Text(tr("study.store_keys")), classes="study-keys")
            yield Label(tr("study.purge_title"), classes="pane-title")
            yield Static(tr("study.purge_hint"), id="study-purge", classes="study-value")
            yield Label(tr("study.voices_title"), classes="pane-title")
            yield Static(id="study-voices", classes="study-value")
            yield Static(Text(tr("study.voices_keys")), classes="study-keys")
            # last: the study file may list many names
            yield Label(tr("study.identifiers_title"), classes="pane-title")
            yield Static(Text(tr("study.identifiers_keys")), classes="study-keys")
            yield Static(id="study-identifiers", classes="study-value")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.sub_title = tr("study.title")
        self.query_one("#study-store-test").display = False
        self.refresh_data()
        self.query_one("#study-body").focus()

    def refresh_data(self) -> None:
        """Read every section again (cheap: a few sealed records)."""
        recipients = self.attempt(self.services.recipients)
        if recipients is not None:
            self.query_one("#study-recipients", Static).update(recipients_text(recipients))
        identifiers = self.attempt(self.services.study_identifiers)
        if identifiers is not None:
            self.query_one("#study-identifiers", Static).update(identifiers_text(identifiers))
        store = self.attempt(self.services.store_settings)
        if store is not None:
            self.query_one("#study-store", Static).update(store_text(store))
        profiles = self.attempt(self.services.voice_profiles)
        if profiles is not None:
            self.query_one("#study-voices", Static).update(voices_text(profiles))

    def on_screen_resume(self) -> None:
        if self.is_mounted:  # back from the voice profiles
            self.refresh_data()

    def show_store_test(self, text: Text | str) -> None:
        line = self.query_one("#study-store-test", Static)
        line.update(text)
        line.display = True
        line.scroll_visible()

    def say_purge(self, text: str) -> None:
        line = self.query_one("#study-purge", Static)
        line.update(text)
        line.scroll_visible()

    # -- the analysis team's key ----------------------------------------------------------------
    def action_set_key(self) -> None:
        def done(text: str | None) -> None:
            if not text or not text.strip():
                return
            view = self.attempt(self.services.set_recipient, text.strip())
            if view is not None:
                self.refresh_data()
                self.notify(tr("study.key_set"))

        self.app.push_screen(AskText(tr("study.key_ask"), placeholder=tr("study.key_placeholder")), done)

    def action_clear_key(self) -> None:
        view = self.attempt(self.services.recipients)
        if view is None:
            return
        if not any(k.source == "vault" for k in view.keys):
            self.notify(tr("study.clear_nothing"))
            return
        if any(k.source == "study_file" for k in view.keys):
            after = tr("study.clear_then_study_file")
        else:
            after = tr("study.clear_then_none")

        def answer(yes: bool | None) -> None:
            if yes and self.attempt(self.services.clear_recipient) is not None:
                self.refresh_data()
                self.notify(tr("study.key_cleared"))

        self.app.push_screen(Confirm(tr("study.ask_clear", after=after)), answer)

    # -- study identifiers ----------------------------------------------------------------------
    def action_add_identifiers(self) -> None:
        def done(entry: str | None) -> None:
            entries = [e.strip() for e in ENTRY_SEPARATORS.split(entry or "") if e.strip()]
            if not entries:
                return
            if self.attempt(self.services.add_study_identifiers, entries) is not None:
                self.refresh_data()
                self.notify(tr("study.identifiers_added_now", count=len(entries)))

        self.app.push_screen(
            AskText(tr("study.identifiers_ask"), placeholder=tr("study.identifiers_placeholder")), done
        )

    # -- the study store ------------------------------------------------------------------------
    def action_edit_store(self) -> None:
        settings = self.attempt(self.services.store_settings)
        if settings is None:
            return

        def done(saved: StoreSettingsView | None) -> None:
            if saved is not None:
                self.refresh_data()
                self.show_store_test(tr("study.store_saved"))
                self.notify(tr("study.store_saved"))

        self.app.push_screen(StoreDialog(settings), done)

    def action_test_store(self) -> None:
        if self.testing:
            self.notify(tr("study.test_running"), severity="warning")
            return
        self.testing = True
        self.show_store_test(tr("study.test_started"))
        self.test_store()

    @work(thread=True, exit_on_error=False, group="store-test")
    def test_store(self) -> None:
        """Connecting can take seconds (an SSH login, a network that does not answer)."""
        try:
            result = self.services.test_store(STORE_TEST_TIMEOUT_S)
        except FieldscribeError as exc:
            self.post_message(WorkFailed("store-test", error_text(exc)))
            return
        self.post_message(StoreTested(result))

    def on_store_tested(self, message: StoreTested) -> None:
        self.testing = False
        self.show_store_test(store_test_text(message.result))

    # -- purge ------------------------------------------------------------------------------------
    def action_purge(self) -> None:
        if self.purging:
            self.notify(tr("study.purge_running"), severity="warning")
            return
        self.purging = True
        self.say_purge(tr("study.purge_checking"))
        self.preview_purge()

    @work(thread=True, exit_on_error=False, group="purge")
    def preview_purge(self) -> None:
        """Verifying every receipt decrypts many records: off the UI thread."""
        try:
            preview = self.services.purge_preview()
        except FieldscribeError as exc:
            self.post_message(WorkFailed("purge", error_text(exc)))
            return
        self.post_message(PurgePreviewed(preview))

    def on_purge_previewed(self, message: PurgePreviewed) -> None:
        preview = message.preview
        if not preview.sessions:
            self.purging = False
            self.say_purge(tr("study.purge_nothing"))
            self.notify(tr("study.purge_nothing"))
            return
        self.say_purge(tr("study.purge_waiting", sessions=", ".join(preview.sessions)))

        def typed(phrase: str | None) -> None:
            if phrase is None:
                self.purging = False
                self.say_purge(tr("study.purge_kept"))
                return
            if phrase.strip() != purge_phrase(preview):
                self.purging = False
                self.say_purge(tr("study.purge_mismatch", phrase=purge_phrase(preview)))
                self.notify(tr("study.purge_mismatch", phrase=purge_phrase(preview)), severity="error", timeout=8)
                return
            self.say_purge(tr("study.purge_working"))
            self.run_purge(preview.confirmation)  # typed in the app's words; the core's phrase confirms

        self.app.push_screen(PurgeDialog(preview), typed)

    @work(thread=True, exit_on_error=False, group="purge")
    def run_purge(self, confirmation: str) -> None:
        try:
            result = self.services.purge(confirmation)
        except FieldscribeError as exc:  # e.g. another receipt arrived since the preview
            self.post_message(WorkFailed("purge", error_text(exc)))
            return
        self.post_message(Purged(result))

    def on_purged(self, message: Purged) -> None:
        self.purging = False
        done = tr("study.purged", sessions=", ".join(message.result.sessions))
        self.say_purge(done)
        self.notify(done)

    # -- voice profiles -----------------------------------------------------------------------------
    def action_voice_profiles(self) -> None:
        from .voice_profiles import VoiceProfilesScreen

        self.app.push_screen(VoiceProfilesScreen())

    # -- failures, leaving ------------------------------------------------------------------------
    def on_work_failed(self, message: WorkFailed) -> None:
        if message.task == "store-test":
            self.testing = False
            self.show_store_test(Text(message.error, "red"))
        elif message.task == "purge":
            self.purging = False
            self.say_purge(tr("study.purge_hint"))
        else:
            return
        self.notify(message.error, severity="error", timeout=8)

    def action_leave(self) -> None:
        self.app.pop_screen()


# -- the dialogs -----------------------------------------------------------------------------------
class StoreDialog(BaseModal):
    """The study store's address and login files; Enter saves (checked: the dialog stays open,
    with the reason, when the address or a file is wrong)."""

    HELP_KEY = "study.store_help"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="store.cancel")]

    def __init__(self, settings: StoreSettingsView) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        s = self.settings
        with VerticalScroll(classes="dialog wide", id="store-form"):
            yield Label(tr("study.store_form_title"), classes="dialog-text")
            yield Label(tr("study.store_url"), classes="field-label")
            yield Input(s.url or "", placeholder=tr("study.store_url_placeholder"), id="store-url")
            yield Label(tr("study.store_identity"), classes="field-label")
            yield Input(s.identity_file or "", placeholder=tr("study.store_identity_placeholder"), id="store-identity")
            yield Label(tr("study.store_known"), classes="field-label")
            yield Input(s.known_hosts or "", placeholder=tr("study.store_known_placeholder"), id="store-known")
            yield Label(tr("study.store_password"), classes="field-label")
            placeholder = tr("study.store_password_keep") if s.password_set else tr("study.store_password_empty")
            yield Input(password=True, placeholder=placeholder, id="store-password")
            yield Label(tr("dialog.save_cancel"), classes="dialog-keys")

    def on_mount(self) -> None:
        self.query_one("#store-url", Input).focus()

    def values(self) -> dict[str, Any]:
        def value(wid: str) -> str:
            return self.query_one(wid, Input).value.strip()

        return {
            "url": value("#store-url"),
            "identity_file": value("#store-identity") or None,
            "known_hosts": value("#store-known") or None,
            # blank keeps the saved password (for the same server)
            "password": self.query_one("#store-password", Input).value or None,
        }

    @on(Input.Submitted)
    def _save(self, _event: Input.Submitted) -> None:
        v = self.values()
        if not v["url"]:
            self.notify(tr("study.store_url_missing"), severity="error")
            self.query_one("#store-url", Input).focus()
            return
        saved = self.attempt(
            self.services.save_store,
            v["url"],
            identity_file=v["identity_file"],
            known_hosts=v["known_hosts"],
            password=v["password"],
        )
        if saved is not None:
            self.dismiss(saved)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PurgeDialog(BaseModal):
    """What a purge destroys and keeps, and the phrase to type; Enter purges, Escape keeps all."""

    HELP_KEY = "study.purge_help"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="purge.cancel")]

    def __init__(self, preview: PurgePreview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="purge-form"):
            yield Label(tr("study.purge_ask", count=len(self.preview.sessions)), classes="dialog-text")
            yield Static(Text("\n".join(f"• {line}" for line in purge_lines(self.preview))), id="purge-what")
            yield Static(Text(tr("study.purge_type", phrase=purge_phrase(self.preview))), id="purge-type")
            yield Input(id="answer")

    def on_mount(self) -> None:
        self.query_one("#answer", Input).focus()

    @on(Input.Submitted, "#answer")
    def _done(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
