"""Building blocks for the app's tests: a prepared vault on disk, the app around it, and a
fake microphone where a real device is not the point (test_tui_tmux uses the real one)."""

from __future__ import annotations

from pathlib import Path

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.recorder import RecorderConfig
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import StudyFile
from fieldscribe.core.vault import Vault
from fieldscribe.services import Services
from fieldscribe.tui.app import FieldscribeApp
from fieldscribe.tui.settings import Settings

from .audio_fakes import ArraySource, speechlike
from .conftest import FAST_KDF, PASSPHRASE


def make_vault(
    path: Path, study: StudyFile, *, people: int = 1, session: bool = True, name: str = "Mary Chan"
) -> list[str]:
    """A closed vault with `people` consented participants and (optionally) one planned
    interview with the first; returns the pseudonyms."""
    v, _ = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study)
        pids = []
        for i in range(people):
            pid = participants.enrol(
                v,
                study.study,
                group="service_user",
                name=f"{name} {i}" if i else name,
                eligibility=participants.all_eligible(study.study),
                baseline={"age": 40 + i},
            )
            consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
            pids.append(pid)
        if session:
            sessions.create_session(v, [pids[0]])
    return pids


def app_for(
    path: Path, *, seconds: float = 600.0, live: bool = False, idle_lock_s: float = 0, language: str | None = "en"
) -> FieldscribeApp:
    """The real app on a real vault; the microphone is a clocked array of speech-like sound."""
    services = Services(
        path,
        source_factory=lambda: ArraySource(speechlike(seconds), realtime=True),
        recorder_config=lambda: RecorderConfig(device=None, codec="flac"),
    )
    return FieldscribeApp(services, Settings(idle_lock_s=idle_lock_s, live_transcription=live, language=language))


async def unlock(pilot, passphrase: str = PASSPHRASE) -> None:
    from fieldscribe.tui.screens.home import HomeScreen

    await pilot.pause()
    pilot.app.screen.query_one("#passphrase").value = passphrase
    await pilot.press("enter")
    for _ in range(100):
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, HomeScreen):
            return
    raise AssertionError(f"not unlocked; screen is {pilot.app.screen}")
