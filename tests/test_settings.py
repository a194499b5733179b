"""The app's settings: FIELDSCRIBE_* variables and the user keymap file, and a remapped key
driving the real app."""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldscribe.core.errors import InvalidInput
from fieldscribe.tui.keys import binding_ids
from fieldscribe.tui.screens.enrol import EligibilityScreen
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.home import HomeScreen
from fieldscribe.tui.settings import Settings, keymap_path

from .tui_helpers import app_for, make_vault, unlock


def one_sentence(text: str) -> bool:
    return text.endswith(".") and text.count(". ") == 0 and "\n" not in text


# -- environment variables ---------------------------------------------------------------------
def test_defaults_without_any_variable():
    s = Settings.from_env()
    assert (s.idle_lock_s, s.live_transcription, s.language, s.keymap) == (300.0, True, None, {})


def test_each_variable_is_read(monkeypatch):
    monkeypatch.setenv("FIELDSCRIBE_IDLE_LOCK", "0")
    monkeypatch.setenv("FIELDSCRIBE_LIVE", "0")
    monkeypatch.setenv("FIELDSCRIBE_UI_LANGUAGE", "zh")
    s = Settings.from_env()
    assert (s.idle_lock_s, s.live_transcription, s.language) == (0.0, False, "zh")
    monkeypatch.setenv("FIELDSCRIBE_IDLE_LOCK", "90.5")
    assert Settings.from_env().idle_lock_s == 90.5


@pytest.mark.parametrize(
    ("raw", "live"),
    [
        ("1", True),
        ("yes", True),
        ("true", True),
        ("on", True),
        ("0", False),
        ("no", False),
        ("False", False),
        ("off", False),
        (" OFF ", False),
    ],
)
def test_live_takes_the_usual_words(monkeypatch, raw, live):
    monkeypatch.setenv("FIELDSCRIBE_LIVE", raw)
    assert Settings.from_env().live_transcription is live


def test_empty_variables_count_as_unset(monkeypatch):
    for var in ("FIELDSCRIBE_IDLE_LOCK", "FIELDSCRIBE_LIVE", "FIELDSCRIBE_UI_LANGUAGE", "FIELDSCRIBE_KEYMAP"):
        monkeypatch.setenv(var, "")
    assert Settings.from_env() == Settings()


def test_given_values_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("FIELDSCRIBE_IDLE_LOCK", "10")
    s = Settings(idle_lock_s=0, live_transcription=False, language="en")
    assert (s.idle_lock_s, s.live_transcription, s.language) == (0, False, "en")


@pytest.mark.parametrize(
    ("var", "raw"),
    [
        ("FIELDSCRIBE_IDLE_LOCK", "five minutes"),
        ("FIELDSCRIBE_IDLE_LOCK", "-1"),
        ("FIELDSCRIBE_IDLE_LOCK", "nan"),
        ("FIELDSCRIBE_LIVE", "maybe"),
        ("FIELDSCRIBE_UI_LANGUAGE", "fr"),
    ],
)
def test_a_bad_value_is_one_sentence_naming_the_variable(monkeypatch, var, raw):
    monkeypatch.setenv(var, raw)
    with pytest.raises(InvalidInput) as info:
        Settings.from_env()
    msg = str(info.value)
    assert msg.startswith(f"{var}={raw!r} is not usable") and one_sentence(msg), msg


def test_bad_values_given_directly_are_invalid_input_too():
    with pytest.raises(InvalidInput, match="FIELDSCRIBE_UI_LANGUAGE"):
        Settings(language="de")
    with pytest.raises(InvalidInput, match="unknown binding ids"):
        Settings(keymap={"home.nothing": "f6"})


# -- the keymap file -------------------------------------------------------------------------------
def write_keymap(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_keymap_file_in_the_user_config_folder_is_read(tmp_path):
    path = keymap_path()
    assert path == tmp_path / "xdg-config" / "fieldscribe" / "keymap.toml"
    write_keymap(path, '[keys]\n"interview.record" = "f5"\n"home.review" = "v,ctrl+r"\n')
    assert Settings.from_env().keymap == {"interview.record": "f5", "home.review": "v,ctrl+r"}


def test_fieldscribe_keymap_names_another_file(monkeypatch, tmp_path):
    path = write_keymap(tmp_path / "mine.toml", '[keys]\n"app.help" = "f2"\n')
    monkeypatch.setenv("FIELDSCRIBE_KEYMAP", str(path))
    assert Settings.from_env().keymap == {"app.help": "f2"}


def test_a_named_keymap_file_that_is_missing_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("FIELDSCRIBE_KEYMAP", str(tmp_path / "missing.toml"))
    with pytest.raises(InvalidInput, match="does not exist") as info:
        Settings.from_env()
    assert "missing.toml" in str(info.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[keys]\n"home.nothing" = "f6"\n', "unknown binding ids (home.nothing)"),
        ('[keys]\n"interview.record" = f5\n', "is not valid TOML"),
        ('"interview.record" = "f5"\n', "only a [keys] table"),
        ('[keys]\n"interview.record" = 5\n', "no key string for interview.record"),
    ],
)
def test_a_bad_keymap_file_is_one_sentence_naming_the_file(monkeypatch, tmp_path, text, says):
    path = write_keymap(tmp_path / "keymap.toml", text)
    monkeypatch.setenv("FIELDSCRIBE_KEYMAP", str(path))
    with pytest.raises(InvalidInput) as info:
        Settings.from_env()
    msg = str(info.value)
    assert says in msg and str(path) in msg and msg.endswith("."), msg


def test_every_binding_id_is_known():
    ids = binding_ids()
    assert {"app.help", "app.lock", "home.enrol", "interview.record", "review.accept", "help.close"} <= ids
    assert {f"interview.probe{i}" for i in range(1, 10)} <= ids


# -- the keymap in the real app ---------------------------------------------------------------------
async def test_a_remapped_key_runs_its_action_and_the_old_key_does_not(vault_path, study_en):
    make_vault(vault_path, study_en)
    write_keymap(keymap_path(), '[keys]\n"home.enrol" = "f6"\n"app.help" = "f2"\n')
    app = app_for(vault_path)
    assert app.settings.keymap == {"home.enrol": "f6", "app.help": "f2"}
    async with app.run_test(size=(120, 36)) as pilot:
        await unlock(pilot)
        await pilot.press("e")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HomeScreen), "e no longer enrols"
        await pilot.press("f6")
        for _ in range(40):
            await pilot.pause(0.05)
            if isinstance(app.screen, EligibilityScreen):
                break
        assert isinstance(app.screen, EligibilityScreen), app.screen
        await pilot.press("f2")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)
