"""Snapshots of every screen and dialog, at the smallest supported terminal (80×24) and a roomy
one (160×45), in both UI languages (issue 15). Update them deliberately with
`pytest tests/test_tui_snapshots.py --snapshot-update` after a visual change.

Everything that moves with the clock or the machine is pinned, so that a picture is the same on
every run, day and laptop: the vault's timestamps and interviewer (the consent lines), today's
date in the plan dialog, the laptop's disk and battery, the interview's clocks and the
microphone level (a steady tone).

Also here: every full screen keeps F1 (help) on screen at 80×24 — the two-row footer's promise."""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from textual.widgets import DataTable, Input, ProgressBar, Select

from fieldscribe.core import consent, guides, participants, sessions
from fieldscribe.core.audio.recorder import Recorder
from fieldscribe.core.vault import Vault
from fieldscribe.services.field import LaptopStatus
from fieldscribe.services.voices import SpeakersView, VoiceProfileView, VoiceView
from fieldscribe.tui.screens import interview as interview_module
from fieldscribe.tui.screens.dialogs import AskText, Confirm, NoteDialog
from fieldscribe.tui.screens.enrol import ConsentScreen, EligibilityScreen, QuestionnaireScreen
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.home import HomeScreen
from fieldscribe.tui.screens.interview import InterviewScreen
from fieldscribe.tui.screens.participant import ParticipantScreen, RetakeConsent
from fieldscribe.tui.screens.planning import PlanDialog
from fieldscribe.tui.screens.review import ReviewScreen
from fieldscribe.tui.screens.study_settings import StudySettingsScreen
from fieldscribe.tui.screens.unlock import UnlockScreen
from fieldscribe.tui.screens.voice_profiles import RecordProfileDialog, VoiceProfilesScreen
from fieldscribe.tui.strings import language, set_language, tr

from .audio_fakes import ArraySource
from .conftest import FAST_KDF, PASSPHRASE
from .screen_text import screen_text
from .test_deidentify import transcript_session
from .tui_helpers import app_for, unlock

SIZES = ((80, 24), (160, 45))
LANGUAGES = ("en", "zh")
NOW = "2025-03-14T09:30:00.000Z"  # every timestamp the vault keeps
TODAY = "2025-03-14"  # the plan dialog's suggested date
# P1: interviewed and transcribed (S1, for review); P2: consented, with a planned interview (S2)
INTERVIEWER = {"en": "Jo Field", "zh": "李访员"}  # who took consent, on the participant page
PEOPLE = {"en": ("Ann Lee", "Mary Chan"), "zh": ("王小明", "陈美玲")}
TRANSCRIPT = {
    "en": [
        "My name is Ann Lee and I go to Riverside.",
        "The group helps me a lot.",
        "My sister Mary visits on Sundays.",
    ],
    "zh": ["我叫王小明，住在沙田。", "小组对我帮助很大。", "我姐姐每个星期天来看我。"],
}
LAPTOP_OK = LaptopStatus("ok", "", "", (), 10**11, 100 * 3600.0, 80.0, True)


class HeldTone(ArraySource):
    """A microphone that delivers one second of the steady tone, then nothing more until it is
    stopped: the voice profile's reading stands still at 1 s, its meter at one level."""

    def __init__(self) -> None:
        super().__init__(_steady_tone(1.0))

    def start(self, callback) -> None:
        for pos in range(0, len(self.data), self.block):
            callback(self.data[pos : pos + self.block].copy(), False)


def _steady_tone(seconds: float = 600.0, rate: int = 16000) -> np.ndarray:
    """200 Hz, a whole number of cycles per 0.1 s block: the level meter reads the same dB always."""
    t = np.arange(int(seconds * rate)) / rate
    return (8000 * np.sin(2 * np.pi * 200 * t)).astype(np.int16).reshape(-1, 1)


# -- one vault per language, built once and copied for each test --------------------------------
@pytest.fixture(scope="module")
def templates(tmp_path_factory, study_en, study_zh) -> dict[str, Path]:
    studies = {"en": study_en, "zh": study_zh}
    root = tmp_path_factory.mktemp("snapshot-vaults")
    built = {}
    with pytest.MonkeyPatch.context() as mp:
        for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
            mp.setenv(var, str(root / var.lower()))
        for module in list(sys.modules.values()):  # the consent dates and notes read the same every day
            if module.__name__.startswith("fieldscribe.") and callable(getattr(module, "now_iso", None)):
                mp.setattr(module, "now_iso", lambda: NOW)
        for language, study in studies.items():
            path = root / language
            mp.setenv("FIELDSCRIBE_INTERVIEWER", INTERVIEWER[language])  # not whoever runs the tests
            v, _ = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
            with v:
                guides.import_guide(v, study)
                first, second = PEOPLE[language]
                transcript_session(
                    v,
                    study.study,
                    first,
                    TRANSCRIPT[language],
                    language=language,
                    events=[("flag", 6.0, {"text": ""})],
                )
                pid = participants.enrol(
                    v,
                    study.study,
                    group="service_user",
                    name=second,
                    eligibility=participants.all_eligible(study.study),
                    baseline={"age": 41},
                )
                consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
                sessions.create_session(v, [pid])
            built[language] = path
    return built


@pytest.fixture(autouse=True)
def _english_after():
    yield
    set_language("en")


@pytest.fixture
def make_app(tmp_path, templates, monkeypatch):
    """The real app on a copy of LANGUAGE's vault, with the clocks and the laptop pinned."""
    # the interview's elapsed clock stands at 0:00:00, and so does the recorded audio
    monkeypatch.setattr(interview_module, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    monkeypatch.setattr(Recorder, "position", property(lambda self: 0.0))

    def make(language: str):
        path = tmp_path / "vault"
        shutil.copytree(templates[language], path)
        app = app_for(path, language=language)
        services = app.services
        services.laptop_status = lambda: LAPTOP_OK
        planning_form = services.planning_form
        services.planning_form = lambda pids: replace(planning_form(pids), date=TODAY)
        services._source_factory = lambda: ArraySource(_steady_tone(), realtime=True)
        # one interviewer's voice profile (made elsewhere: recording one takes real speech)
        services.voice_profiles = lambda: [VoiceProfileView(INTERVIEWER[language], 31.0, NOW)]
        return app

    return make


# -- getting to each screen -------------------------------------------------------------------
async def wait_for(pilot, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}; screen is {pilot.app.screen!r}")


async def on_screen(pilot, cls) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, cls), cls.__name__)
    await pilot.pause(0.1)


async def to_unlock(pilot) -> None:
    await on_screen(pilot, UnlockScreen)


async def to_home(pilot) -> None:
    await unlock(pilot)
    await on_screen(pilot, HomeScreen)


async def select_session(pilot, row: int) -> None:
    table = pilot.app.screen.query_one("#sessions", DataTable)
    table.move_cursor(row=row)
    table.focus()
    await pilot.pause()


async def to_help(pilot) -> None:
    await to_home(pilot)
    await pilot.press("f1")
    await on_screen(pilot, HelpScreen)


async def to_palette(pilot) -> None:
    from textual.command import CommandPalette

    await to_home(pilot)
    await pilot.press("ctrl+p")
    await on_screen(pilot, CommandPalette)
    await pilot.pause(0.3)  # the commands are gathered in a worker


async def to_eligibility(pilot) -> None:
    await to_home(pilot)
    await pilot.press("e")
    await on_screen(pilot, EligibilityScreen)


async def to_consent(pilot) -> None:
    await to_eligibility(pilot)
    app = pilot.app
    form = app.services.enrolment_form()
    app.screen.query_one("#group", Select).value = form.groups[0].value
    for c in form.inclusion:
        app.screen.query_one(f"#inc-{c.id}").value = True
    await pilot.press("ctrl+n")
    await on_screen(pilot, ConsentScreen)


async def to_questionnaire(pilot) -> None:
    await to_consent(pilot)
    for _ in pilot.app.screen.items:
        await pilot.press("y")
    await pilot.press("ctrl+n")
    await on_screen(pilot, QuestionnaireScreen)


async def to_plan(pilot) -> None:
    await to_home(pilot)
    await pilot.press("n")  # with P1, the first participant
    await on_screen(pilot, PlanDialog)


async def to_interview(pilot) -> None:
    await to_home(pilot)
    await select_session(pilot, 1)  # S2, planned
    await pilot.press("enter")
    await on_screen(pilot, InterviewScreen)


async def to_confirm(pilot) -> None:
    await to_home(pilot)
    await select_session(pilot, 1)
    await pilot.press("delete")  # cancel the planned interview? (asks first)
    await on_screen(pilot, Confirm)


async def to_note(pilot) -> None:
    await to_interview(pilot)
    screen = pilot.app.screen
    await pilot.press("r")
    await wait_for(pilot, lambda: screen.state == "recording", "the recording")
    await wait_for(pilot, lambda: screen.query_one("#level").db > -math.inf, "the level meter")
    await pilot.press("m")
    await on_screen(pilot, NoteDialog)


async def to_review(pilot) -> None:
    await to_home(pilot)
    await select_session(pilot, 0)  # S1, transcribed
    await pilot.press("v")
    await on_screen(pilot, ReviewScreen)
    await wait_for(pilot, lambda: not pilot.app.screen.finding, "the name finders")


async def to_review_speakers(pilot) -> None:
    """The review of a transcript whose voices were found: the interviewer only guessed (no
    voice profile matched), the participant's turn overlapped, a third voice nobody named."""
    services = pilot.app.services
    transcript = services.transcript

    def with_turns(sid: str):
        t = transcript(sid)
        pid = t.participants[0]
        who = [("interviewer", 0, False), (pid, 1, True), (None, 2, False)]
        segs = tuple(
            replace(seg, speaker=speaker, voice=voice, overlap=overlap)
            for seg, (speaker, voice, overlap) in zip(t.segments, who, strict=True)
        )
        return replace(t, segments=segs)

    def found(sid: str) -> SpeakersView:
        pid = transcript(sid).participants[0]
        voices = (
            VoiceView(0, "Interviewer", "interviewer", 4.0, False),
            VoiceView(1, pid, pid, 4.0, False),
            VoiceView(2, "Speaker C", None, 4.0, False),
        )
        return SpeakersView(True, voices, "guess", True)

    services.transcript = with_turns
    services.speakers = found
    await to_review(pilot)


async def to_voice_profiles(pilot) -> None:
    await to_study_settings(pilot)
    await pilot.press("v")
    await on_screen(pilot, VoiceProfilesScreen)


async def to_record_profile(pilot) -> None:
    await to_voice_profiles(pilot)
    pilot.app.services._source_factory = HeldTone
    await pilot.press("r")
    await on_screen(pilot, AskText)
    pilot.app.screen.query_one("#answer", Input).value = INTERVIEWER[language()]
    await pilot.press("enter")
    await on_screen(pilot, RecordProfileDialog)
    bar = pilot.app.screen.query_one("#profile-progress", ProgressBar)
    await wait_for(pilot, lambda: bar.progress == 1.0, "the first second of the reading")


async def to_participant(pilot) -> None:
    await to_home(pilot)
    pilot.app.screen.query_one("#people").focus()
    await pilot.press("p")
    await on_screen(pilot, ParticipantScreen)


async def to_retake(pilot) -> None:
    await to_participant(pilot)
    await pilot.press("c")
    await on_screen(pilot, RetakeConsent)


async def to_study_settings(pilot) -> None:
    await to_home(pilot)
    await pilot.press("g")
    await on_screen(pilot, StudySettingsScreen)


async def settle(pilot) -> None:
    """No toasts in the picture, a steady text cursor (shown where the focus is), nothing left
    to draw."""
    app = pilot.app
    app.clear_notifications()
    for screen in app.screen_stack:
        for field in screen.query(Input):  # the palette's search box is an Input too
            field.cursor_blink = False
            field._cursor_visible = field.has_focus  # Textual keeps no public switch for this
            field.refresh()
    await pilot.pause(0.1)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


# full screens: each has the app's footer
SCREENS: dict[str, Callable[..., Awaitable[None]]] = {
    "unlock": to_unlock,
    "home": to_home,
    "eligibility": to_eligibility,
    "consent": to_consent,
    "questionnaire": to_questionnaire,
    "interview": to_interview,
    "review": to_review,
    "participant": to_participant,
    "study_settings": to_study_settings,
    "voice_profiles": to_voice_profiles,
    "review_speakers": to_review_speakers,
}
DIALOGS: dict[str, Callable[..., Awaitable[None]]] = {
    "help": to_help,
    "palette": to_palette,
    "plan": to_plan,
    "confirm": to_confirm,
    "note": to_note,
    "retake_consent": to_retake,
    "record_profile": to_record_profile,
}
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("screen", [*SCREENS, *DIALOGS])
def test_snapshot(snap_compare, make_app, screen, size, language):
    """The picture of the screen; for a full screen at 80×24, also that the footer keeps F1
    help on screen (the footer takes as many rows as its keys need)."""
    go = SCREENS.get(screen) or DIALOGS[screen]
    footers: list[str] = []

    async def run_before(pilot) -> None:
        await go(pilot)
        await settle(pilot)
        if screen in SCREENS and size == (80, 24):
            footers.append("\n".join(screen_text(pilot.app).split("\n")[-4:]))  # up to four footer rows

    assert snap_compare(make_app(language), terminal_size=size, run_before=run_before)
    if screen in SCREENS and size == (80, 24):
        help_label = {"en": "Help", "zh": "帮助"}[language]
        assert tr("key.app.help") == help_label
        assert f"f1 {help_label}".lower() in footers[0].lower(), footers  # Textual shows the key as "f1"
