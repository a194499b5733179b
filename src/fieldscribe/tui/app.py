"""The App: owns the services, the screen stack, locking, help and the command palette.

It does no field work itself — screens and their workers do. It keeps no copy of the
messages they post (they can carry decrypted text); tests watch them with
``run_test(message_hook=...)``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual import events
from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from ..services import FieldscribeError
from .keys import APP_BINDINGS
from .messages import LockedNow, ParticipantEnrolled, Unlocked
from .settings import Settings
from .strings import key_label, key_tip, set_language, tr

if TYPE_CHECKING:
    from ..services import Services

IDLE_WARNING_S = 30.0  # say so this long before the idle lock


class FieldscribeApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "fieldscribe"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = APP_BINDINGS

    def __init__(self, services: Services | Callable[[], Services], settings: Settings | None = None) -> None:
        super().__init__()
        # the services, or a function that makes them on first use: the core (SQLite, numpy,
        # pydantic, cryptography) loads while the passphrase is typed, not before the first frame
        self._services = services
        self._services_lock = threading.Lock()
        self.settings = settings or Settings()
        if self.settings.language:
            set_language(self.settings.language)
        self.last_activity = time.monotonic()
        self._idle_warned = False

    def get_default_screen(self) -> Screen:
        # the bottom of the stack: locking pops everything above it
        from .screens.unlock import UnlockScreen

        return UnlockScreen()

    @property
    def services(self) -> Services:
        with self._services_lock:
            if callable(self._services):
                self._services = self._services()
            return self._services

    @property
    def services_made(self) -> bool:
        return not callable(self._services)

    def on_mount(self) -> None:
        self.call_after_refresh(lambda: self.run_worker(lambda: self.services, thread=True, group="load"))
        if self.settings.keymap:  # the user's keymap file: binding id -> keys
            self.set_keymap(self.settings.keymap)
        self._localise()
        self.set_interval(1.0, self._check_idle)

    def on_unmount(self) -> None:
        # screens have stopped their recordings by now; release the vault for other processes
        if self.services_made:
            self.services.close()

    # -- activity -----------------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self.last_activity = time.monotonic()
            self._idle_warned = False
        await super().on_event(event)

    # -- unlock and lock ----------------------------------------------------------------------
    def on_unlocked(self, message: Unlocked) -> None:
        from .screens.home import HomeScreen

        if not self.settings.language:
            try:
                set_language(self.services.study_language())
            except FieldscribeError:
                set_language("en")  # the home screen says what is wrong with the study files
        self._localise()
        self.push_screen(HomeScreen())
        for line in message.recovered:
            self.notify(line, severity="warning", timeout=10)

    def _localise(self) -> None:
        """The App's own key labels (F1, Ctrl+L, Ctrl+Q, the palette) in the UI language."""
        from .screens.base import localise_bindings

        localise_bindings(self)
        self.refresh_bindings()

    def recording_running(self) -> bool:
        from .screens.interview import InterviewScreen

        return any(isinstance(s, InterviewScreen) and s.busy for s in self.screen_stack)

    def on_participant_enrolled(self, message: ParticipantEnrolled) -> None:
        """The next N plans an interview with the person just enrolled, not whoever was selected."""
        from .screens.home import HomeScreen

        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.select_participant(message.pid)

    def pause_background(self) -> None:
        """Pause the app's own background work (the final pass) — a recording is starting."""
        from .screens.home import HomeScreen

        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                screen.pause_background()

    def work_running(self) -> bool:
        """Transcription, export or sync is using the vault's keys in a worker."""
        from .screens.home import HomeScreen

        return any(isinstance(s, HomeScreen) and s.working for s in self.screen_stack)

    def _check_idle(self) -> None:
        limit = self.settings.idle_lock_s
        if not limit or not self.services.unlocked or self.recording_running() or self.work_running():
            self._idle_warned = False
            return
        idle = time.monotonic() - self.last_activity
        warn_at = limit - min(IDLE_WARNING_S, limit / 2)
        if idle > limit:
            self._idle_warned = False
            self.run_worker(self.lock(tr("app.lock_reason_idle")), exclusive=True, group="lock")
        elif idle > warn_at and not self._idle_warned:
            self._idle_warned = True  # once per idle stretch; any key starts a new one
            self.notify(
                tr("app.idle_warning", seconds=f"{limit - idle:.0f}"),
                severity="warning",
                timeout=max(1.0, limit - idle),
            )

    async def action_quit(self) -> None:
        """Quit; while a recording runs, ask first (Y stops it, saves it and quits)."""
        if not self.recording_running():
            self.exit()
            return
        from .screens.dialogs import Confirm

        def answer(stop: bool | None) -> None:
            if stop:
                self.exit()  # the interview screen stops and saves the recording as it unmounts

        self.push_screen(Confirm(tr("app.quit_recording")), answer)

    async def action_lock(self) -> None:
        if self.recording_running():
            self.notify(tr("app.lock_recording"), severity="warning")
            return
        await self.lock(tr("app.lock_reason_request"))

    async def lock(self, reason: str) -> None:
        """Forget the keys and take every screen that showed decrypted data off the stack."""
        if not self.services.unlocked:
            return
        from .screens.home import HomeScreen

        for screen in self.screen_stack:  # ask running work to stop where it can resume
            if isinstance(screen, HomeScreen):
                screen.action_cancel()
        self.services.lock()
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        self.screen.reset()  # type: ignore[attr-defined]
        self.post_message(LockedNow(reason))
        self.notify(tr("app.locked", reason=reason))

    # -- help and the palette -----------------------------------------------------------------
    def action_help(self) -> None:
        from .screens.help import HelpScreen

        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        focused = self.focused
        text = _help_text(focused) or _help_text(screen) or tr("app.no_help")
        # the screen's own keys first (ours carry an id), then the App's, then Textual's and those
        # of the widget with focus (Tab, cursor keys)
        active = [b for b in screen.active_bindings.values() if b.binding.description]
        active.sort(key=lambda b: 0 if b.node is screen and b.binding.id else 1 if b.node is self else 2)
        keys = [
            (b.binding.key, key_label(b.binding.id, b.binding.description), key_tip(b.binding.id, b.binding.tooltip))
            for b in active
        ]
        name = type(screen).__name__.replace("Screen", "")
        self.push_screen(HelpScreen(tr(f"title.{name}"), text, keys))

    def action_command_palette(self) -> None:
        """The palette, with its prompt in the UI language."""
        from textual.command import CommandPalette

        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(placeholder=tr("palette.search"), id="--command-palette"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # the app's own actions only: Textual's developer items (theme, maximise, screenshot)
        # are no help in the field
        yield SystemCommand(tr("palette.quit"), tr("palette.quit_help"), self.action_quit)
        if not self.services.unlocked:
            return
        from .screens.home import HomeScreen

        yield SystemCommand(tr("palette.lock"), tr("palette.lock_help"), self.action_lock)
        yield SystemCommand(tr("palette.enrol"), tr("palette.enrol_help"), self._enrol)
        if isinstance(screen, HomeScreen):
            for name, action in screen.palette_actions():
                yield SystemCommand(tr(f"palette.{name}"), tr(f"palette.{name}_help"), action)
        yield SystemCommand(tr("palette.help"), tr("palette.help_help"), self.action_help)

    def _enrol(self) -> None:
        from .screens.enrol import start_enrolment

        start_enrolment(self)

    # -- the unexpected -----------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            self.notify(
                tr("app.unexpected", kind=type(err).__name__, error=err),
                severity="error",
                timeout=15,
            )


def _help_text(node: object) -> str:
    """F1's text for a screen or widget: its catalogue entry (``help.<name>``), else its HELP."""
    if node is None:
        return ""
    from .strings import has

    key = getattr(node, "HELP_KEY", "") or f"help.{type(node).__name__.replace('Screen', '')}"
    return tr(key) if has(key) else getattr(node, "HELP", "")
