"""Snapshots of the key screens at the smallest supported terminal (80×24) and a roomy one
(160×45). Update them deliberately with `pytest --snapshot-update` after a visual change."""

from __future__ import annotations

import pytest

from fieldscribe.core.vault import Vault
from fieldscribe.tui.screens.interview import InterviewScreen
from fieldscribe.tui.screens.review import ReviewScreen

from .conftest import FAST_KDF, PASSPHRASE
from .test_deidentify import transcript_session
from .tui_helpers import app_for, make_vault, unlock

SIZES = [(80, 24), (160, 45)]


async def _wait(pilot, cls) -> None:
    for _ in range(200):
        if isinstance(pilot.app.screen, cls):
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES)
def test_unlock_screen(snap_compare, vault_path, study_en, size):
    make_vault(vault_path, study_en)
    assert snap_compare(app_for(vault_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_home_screen(snap_compare, vault_path, study_en, size):
    make_vault(vault_path, study_en, people=2)

    async def run_before(pilot) -> None:
        await unlock(pilot)
        await pilot.pause(0.2)

    assert snap_compare(app_for(vault_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_interview_screen(snap_compare, vault_path, study_en, size):
    make_vault(vault_path, study_en)

    async def run_before(pilot) -> None:
        await unlock(pilot)
        await pilot.press("enter")
        await _wait(pilot, InterviewScreen)
        await pilot.press("right")
        screen = pilot.app.screen
        import time

        screen.opened = time.monotonic()  # the elapsed clock reads 0:00:00 in the picture
        screen._tick()
        await pilot.pause()

    assert snap_compare(app_for(vault_path), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_review_screen(snap_compare, vault_path, study_en, size):
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        from fieldscribe.core.guides import import_guide

        import_guide(v, study_en)
        transcript_session(
            v,
            study_en.study,
            "Ann Lee",
            [
                "My name is Ann Lee and I go to Riverside.",
                "The group helps me a lot.",
                "My sister Mary visits on Sundays.",
            ],
            events=[("flag", 6.0, {"text": ""})],
        )

    async def run_before(pilot) -> None:
        await unlock(pilot)
        await pilot.press("v")
        await _wait(pilot, ReviewScreen)
        for _ in range(600):  # the name finders run in a worker: picture the screen once they are done
            if not pilot.app.screen.finding:
                break
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(app_for(vault_path), terminal_size=size, run_before=run_before)
