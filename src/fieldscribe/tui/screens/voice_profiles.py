"""Interviewers' voice profiles (V in the study settings): listed, recorded, deleted.

A profile lets the app tell the interviewer's voice from the participant's without a key
press. Recording one is a guided reading of about 30 s in the study's language: the audio is
held in memory only (a thread worker records it), and what is kept is sealed on this laptop
and never exported. Deleting one asks first."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Label, ProgressBar, Static

from ...services import FieldscribeError
from ...services.voices import PROFILE_SECONDS
from ..messages import AppEvent, LevelChanged, WorkFailed, app_message
from ..strings import error_text, tr
from ..widgets import FieldFooter, LevelMeter
from .base import BaseModal, BaseScreen
from .dialogs import AskText, Confirm

if TYPE_CHECKING:
    from ...services.voices import VoiceProfileView

# how long the guided reading records; read when a recording starts (tests make it shorter)
RECORD_SECONDS = PROFILE_SECONDS
READING_ROWS_LEFT = 14  # the dialog's rows besides the text to read (borders, title, meter, bar, keys)


# -- what the recording worker tells the dialog ----------------------------------------------------
@app_message
class ProfileHeard(AppEvent, bubble=False):
    """Seconds recorded so far (several a second; a newer one replaces one not yet shown)."""

    seconds: float

    def can_replace(self, message) -> bool:
        return isinstance(message, ProfileHeard)


@app_message
class ProfileRecorded(AppEvent):
    """The profile was made (VIEW), or the reading was cancelled (None): nothing kept then."""

    view: VoiceProfileView | None


def profile_date(created_at: str) -> str:
    """The day a profile was made (its timestamp is ISO 8601)."""
    return created_at[:10] or "–"


# -- the list ----------------------------------------------------------------------------------------
class VoiceProfilesScreen(BaseScreen):
    HELP_KEY = "voices.help"
    BINDINGS = [
        Binding("r", "record", "Record", id="voices.record", tooltip="Record a voice profile (about 30 s of reading)"),
        Binding("d,delete", "delete", "Delete", id="voices.delete", tooltip="Delete the selected profile (asks first)"),
        Binding("escape", "leave", "Back", id="voices.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.profiles: list[VoiceProfileView] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="voices-body"):
            yield Static(tr("voices.intro"), id="voices-intro", classes="study-value")
            yield Static(Text(tr("voices.sealed"), "bold"), id="voices-sealed", classes="study-value")
            yield Label(tr("voices.list_title"), classes="pane-title")
            yield DataTable(id="profiles", cursor_type="row", zebra_stripes=True)
            yield Static(id="voices-empty", classes="study-value")
            yield Static(Text(tr("voices.keys")), classes="study-keys")
        yield FieldFooter()

    def on_mount(self) -> None:
        self.sub_title = tr("voices.title")
        table = self.query_one("#profiles", DataTable)
        table.add_column(tr("voices.col_name"), key="name")
        table.add_column(tr("voices.col_speech"), key="speech")
        table.add_column(tr("voices.col_date"), key="date")
        self.refresh_list()
        table.focus()

    def refresh_list(self, select: str | None = None) -> None:
        found = self.attempt(self.services.voice_profiles)
        if found is None:
            return
        self.profiles = found
        table = self.query_one("#profiles", DataTable)
        table.clear()
        for p in self.profiles:
            table.add_row(
                Text(p.name), tr("voices.seconds", seconds=f"{p.speech_s:.0f}"), profile_date(p.created_at), key=p.name
            )
        table.display = bool(self.profiles)
        empty = self.query_one("#voices-empty", Static)
        empty.update(tr("voices.none"))
        empty.display = not self.profiles
        if select is not None:
            at = next((i for i, p in enumerate(self.profiles) if p.name == select), None)
            if at is not None:
                table.move_cursor(row=at)

    def selected(self) -> VoiceProfileView | None:
        table = self.query_one("#profiles", DataTable)
        if not self.profiles:
            return None
        return self.profiles[min(table.cursor_row, len(self.profiles) - 1)]

    def action_record(self) -> None:
        def named(name: str | None) -> None:
            name = " ".join((name or "").split())
            if name:
                self.app.push_screen(RecordProfileDialog(name), recorded)

        def recorded(result: VoiceProfileView | str | None) -> None:
            if isinstance(result, str):  # refused: the one sentence, nothing kept
                self.notify(result, severity="error", timeout=10)
            elif result is None:
                self.notify(tr("voices.cancelled"))
            else:
                self.refresh_list(select=result.name)
                self.notify(tr("voices.recorded", name=escape(result.name), seconds=f"{result.speech_s:.0f}"))

        self.app.push_screen(AskText(tr("voices.ask_name"), placeholder=tr("voices.name_placeholder")), named)

    def action_delete(self) -> None:
        profile = self.selected()
        if profile is None:
            self.notify(tr("voices.nothing_to_delete"))
            return

        def answer(yes: bool | None) -> None:
            if yes and self.attempt(self.services.delete_voice_profile, profile.name) is not None:
                self.refresh_list()
                self.notify(tr("voices.deleted", name=escape(profile.name)))

        # names are shown as typed: markup-like brackets in one stay text
        self.app.push_screen(Confirm(tr("voices.ask_delete", name=escape(profile.name))), answer)

    def action_leave(self) -> None:
        self.app.pop_screen()


# -- the guided reading -----------------------------------------------------------------------------
class RecordProfileDialog(BaseModal):
    """The text to read aloud, the microphone's level and how much is left. It records as soon
    as it opens; Escape cancels (nothing is kept). Dismissed with the new profile, None when
    cancelled, or the sentence that refused it (too little speech)."""

    HELP_KEY = "voices.record_help"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="voices.cancel")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.profile_name = name
        self.seconds = RECORD_SECONDS
        self.cancel = threading.Event()
        self.heard = 0.0
        self.finished = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="record-profile"):
            yield Label(tr("voices.record_title", name=escape(self.profile_name)), classes="dialog-text")
            yield Static(tr("voices.read_aloud"))
            with VerticalScroll(id="reading-box"):
                yield Static(self.services.profile_reading(), id="reading")
            yield LevelMeter(id="profile-level")
            yield ProgressBar(id="profile-progress", total=self.seconds, show_eta=False)
            yield Static(self._left(0.0), id="profile-left")
            yield Label(tr("voices.record_keys"), classes="dialog-keys")

    def on_mount(self) -> None:
        self.on_resize()
        self.record(self.profile_name, self.seconds, self.cancel)

    def on_resize(self, _event: object = None) -> None:
        # the meter, the bar, the time left and the keys always show; the text gets the rest
        self.query_one("#reading-box").styles.max_height = max(3, self.app.size.height - READING_ROWS_LEFT)

    def _left(self, heard: float) -> str:
        return tr("voices.left", seconds=f"{max(0.0, self.seconds - heard):.0f}")

    @work(thread=True, exclusive=True, exit_on_error=False, group="voice-profile")
    def record(self, name: str, seconds: float, cancel: threading.Event) -> None:
        """The microphone is open for SECONDS; making the profile then takes a moment more."""

        def level(db: float) -> None:
            self.post_message(LevelChanged(db))

        def progress(heard: float) -> None:
            self.post_message(ProfileHeard(heard))

        try:
            view = self.services.record_voice_profile(
                name, seconds=seconds, on_level=level, on_progress=progress, cancel=cancel
            )
        except FieldscribeError as exc:
            self.post_message(WorkFailed("voice-profile", error_text(exc)))
            return
        self.post_message(ProfileRecorded(view))

    def on_level_changed(self, message: LevelChanged) -> None:
        self.query_one(LevelMeter).db = message.db

    def on_profile_heard(self, message: ProfileHeard) -> None:
        self.heard = message.seconds
        self.query_one("#profile-progress", ProgressBar).update(progress=min(message.seconds, self.seconds))
        # on a small screen the text scrolls along as the reading goes on
        box = self.query_one("#reading-box", VerticalScroll)
        box.scroll_to(y=box.max_scroll_y * min(1.0, message.seconds / self.seconds), animate=False)
        left = self._left(message.seconds)
        if message.seconds >= self.seconds:
            left = tr("voices.making")
            self.query_one(LevelMeter).db = -math.inf
        self.query_one("#profile-left", Static).update(left)

    def on_profile_recorded(self, message: ProfileRecorded) -> None:
        self.finish(message.view)

    def on_work_failed(self, message: WorkFailed) -> None:
        if message.task == "voice-profile":
            message.stop()
            self.finish(message.error)

    def finish(self, result: VoiceProfileView | str | None) -> None:
        if not self.finished:
            self.finished = True
            self.dismiss(result)

    def action_cancel(self) -> None:
        if self.heard >= self.seconds:
            return  # the reading is over and the profile is being made: a moment more
        self.cancel.set()  # the worker answers None at once; nothing is kept
        self.query_one("#profile-left", Static).update(tr("voices.cancelling"))

    def on_unmount(self) -> None:
        self.cancel.set()  # never leave the microphone open behind a closed dialog (a lock, quitting)
