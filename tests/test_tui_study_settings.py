"""The study settings screen (G on the dashboard), driven as a person would in the real app on
a real vault with the real services: the analysis team's key set in the app unblocks an
export, study identifiers, the study store saved and tested, purge behind its typed phrase,
and the screen in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyrage import x25519
from textual.widgets import Input, Static

from fieldscribe.core import sessions
from fieldscribe.core.deid.review import decide, mark_reviewed
from fieldscribe.core.export.bundle import open_bundle
from fieldscribe.core.guides import import_guide
from fieldscribe.core.vault import Vault
from fieldscribe.tui import messages as m
from fieldscribe.tui.screens.dialogs import AskText, Confirm
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.home import HomeScreen
from fieldscribe.tui.screens.study_settings import Purged, PurgeDialog, StoreDialog, StudySettingsScreen, purge_phrase
from fieldscribe.tui.strings import set_language, tr

from .conftest import FAST_KDF, PASSPHRASE
from .screen_text import screen_text
from .test_admin_services import reviewed_vault, services_for, team  # noqa: F401  (team: a fixture)
from .test_deidentify import transcript_session
from .test_tui import notifications, wait_until
from .test_tui_chinese import english
from .tui_helpers import app_for, make_vault, unlock
from .tui_messages import Messages
from .vault_access import pull_from_store


async def open_settings(pilot) -> StudySettingsScreen:
    await pilot.press("g")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StudySettingsScreen), what="study settings")
    await pilot.pause()
    return pilot.app.screen


def shown(screen, wid: str) -> str:
    """The text a section of the screen holds now (all of it, scrolled into view or not)."""
    return str(screen.query_one(wid, Static).content)


async def type_into_dialog(pilot, key: str, text: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskText), what="the text dialog")
    pilot.app.screen.query_one("#answer", Input).value = text
    await pilot.press("enter")
    await pilot.pause()


# -- (1) the issue's own: a new study, a reviewed session, no key: set it in the app and export ----
async def test_export_needs_the_teams_key_and_gets_it_from_the_settings_screen(vault_path, study_en, tmp_path):
    assert not study_en.study.export.recipients, "the example study file names no team key"
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_en)
        _pid, sid = transcript_session(v, study_en.study, "Ann Lee", ["I go to the centre on Mondays.", "It helps."])
        decide(v, sid, accept_all=True)
        mark_reviewed(v, sid)
    identity = x25519.Identity.generate()
    identity_file = tmp_path / "team.key"
    identity_file.write_text(f"# the analysis team's identity\n{identity}\n")
    recipient = str(identity.to_public())
    outbox = vault_path / "outbox"

    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(100, 30), message_hook=said) as pilot:
        await unlock(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: said.of(m.WorkFailed), what="the export to fail")
        assert "press G for the study settings, then K" in said.of(m.WorkFailed)[0].error
        assert any("paste their age1… key" in n for n in notifications(app))
        assert not (outbox.exists() and list(outbox.iterdir())), "nothing was written"

        screen = await open_settings(pilot)
        assert tr("study.recipients_none") in screen_text(app)
        await type_into_dialog(pilot, "k", f"  {recipient}  ")
        await wait_until(pilot, lambda: tr("study.key_set") in notifications(app), what="the key to be set")
        assert recipient in shown(screen, "#study-recipients")
        assert tr("study.recipients_vault") in shown(screen, "#study-recipients")
        assert [(k.recipient, k.source, k.in_use) for k in app.services.recipients().keys] == [
            (recipient, "vault", True)
        ]

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), what="the dashboard")
        await pilot.press("x")
        await wait_until(pilot, lambda: said.of(m.WorkDone), what="the export")
        assert sid in said.of(m.WorkDone)[0].summary
    bundles = [p for p in outbox.iterdir() if p.is_file()]
    assert len(bundles) == 1, bundles
    opened = open_bundle(bundles[0], identity_file)
    assert [s["id"] for s in opened.manifest["sessions"]] == [sid]


async def test_a_wrong_key_is_one_sentence_and_forgetting_the_key_asks_first(vault_path, study_en):
    make_vault(vault_path, study_en)
    recipient = str(x25519.Identity.generate().to_public())
    app = app_for(vault_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        await type_into_dialog(pilot, "k", "age1-not-a-key")
        await wait_until(pilot, lambda: any("not an age recipient" in n for n in notifications(app)))
        assert app.services.recipients().keys == ()
        await pilot.press("c")  # nothing set here yet: nothing to forget, no question
        await pilot.pause()
        assert not isinstance(app.screen, Confirm) and tr("study.clear_nothing") in notifications(app)
        await type_into_dialog(pilot, "k", recipient)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.pause()
        assert app.screen.question == tr("study.ask_clear", after=tr("study.clear_then_none"))  # what happens then
        assert "Forget the analysis team" in screen_text(app)
        await pilot.press("n")
        await pilot.pause()
        assert app.services.recipients().source == "vault", "N forgets nothing"
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await pilot.pause()
        assert app.services.recipients().keys == ()
        assert tr("study.recipients_none") in shown(screen, "#study-recipients")


# -- (2) study identifiers ----------------------------------------------------------------------------
async def test_study_identifiers_added_in_the_app_are_listed_and_used(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(160, 45)) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        before = shown(screen, "#study-identifiers")
        assert "Kowloon Walk Clinic" not in before
        await type_into_dialog(pilot, "i", "Kowloon Walk Clinic=[clinic]，Lotus Café")
        await wait_until(pilot, lambda: tr("study.identifiers_added_now", count=2) in notifications(app))
        listed = shown(screen, "#study-identifiers")
        assert "Kowloon Walk Clinic → [clinic]" in listed and "Lotus Café → " in listed
        assert listed.index(tr("study.identifiers_added", count=2)) < listed.index("Riverside Day Centre")
        assert "Kowloon Walk Clinic" in screen_text(app)  # added ones come first: in view
        kept = [(i.text, i.descriptor, i.source) for i in app.services.study_identifiers()]
        assert ("Kowloon Walk Clinic", "[clinic]", "added") in kept
        assert [t for t, _d, s in kept if s == "added"] == ["Kowloon Walk Clinic", "Lotus Café"]
        # an empty answer adds nothing and says nothing wrong
        await type_into_dialog(pilot, "i", " , ")
        assert len(app.services.study_identifiers()) == len(kept)


# -- (3) the study store --------------------------------------------------------------------------------
async def fill_store(pilot, url: str, known_hosts: str = "") -> None:
    await pilot.press("s")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, StoreDialog), what="the store form")
    form = pilot.app.screen
    assert form.query_one("#store-password", Input).password, "the password is never shown"
    form.query_one("#store-url", Input).value = url
    form.query_one("#store-known", Input).value = known_hosts
    await pilot.press("enter")
    await pilot.pause()


async def test_a_folder_store_is_saved_through_the_form_and_tested(vault_path, study_en, tmp_path):
    make_vault(vault_path, study_en)
    store = tmp_path / "usb"
    store.mkdir()
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(80, 24), message_hook=said) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        assert tr("study.store_none") in shown(screen, "#study-store")
        await pilot.press("t")  # nothing set yet
        await wait_until(pilot, lambda: tr("study.test_not_set") in shown(screen, "#study-store-test"))

        # a known_hosts file that does not exist: the form stays open and says so
        await fill_store(pilot, f"file://{store}", known_hosts=str(tmp_path / "nope"))
        assert isinstance(app.screen, StoreDialog)
        assert any("does not exist" in n for n in notifications(app))
        app.screen.query_one("#store-known", Input).value = ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, StudySettingsScreen), what="the form to close")
        assert f"file://{store}" in shown(screen, "#study-store")
        assert app.services.store_settings().url == f"file://{store}"

        await pilot.press("t")
        reachable = tr("study.test_reachable", address=f"file://{store}")
        await wait_until(pilot, lambda: reachable in shown(screen, "#study-store-test"), what="the test")
        await pilot.pause()
        assert "Reachable: the study store" in screen_text(app), "the outcome is scrolled into view"
        assert (store / study_en.study.study.id).is_dir(), "the test made this laptop's folder"

        missing = tmp_path / "not-mounted"
        await fill_store(pilot, f"file://{missing}")
        await pilot.press("t")
        unreachable = tr("study.test_unreachable", address=f"file://{missing}")
        await wait_until(pilot, lambda: unreachable in shown(screen, "#study-store-test"), what="the second test")
        assert "mounted" in shown(screen, "#study-store-test")  # what to do, in the store's words
        assert reachable not in shown(screen, "#study-store-test")
        assert not missing.exists(), "a missing folder is never created"
        assert not said.of(m.WorkFailed)


# -- (4) purge ------------------------------------------------------------------------------------------
async def test_with_nothing_received_purge_says_so_and_purges_nothing(vault_path, study_en):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: tr("study.purge_nothing") in shown(screen, "#study-purge"), what="preview")
        assert isinstance(app.screen, StudySettingsScreen), "no question when there is nothing to purge"
        assert tr("study.purge_nothing") in notifications(app)
        planned = [s.id for s in app.services.dashboard().sessions]
        assert planned and all(app.services.session(sid).status == sessions.PLANNED for sid in planned)


async def test_purge_shows_the_received_sessions_and_wants_its_phrase(tmp_path, study_en, team):  # noqa: F811
    path, sid = reviewed_vault(tmp_path, study_en, team)
    store = tmp_path / "store"
    store.mkdir()
    svc = services_for(path)
    try:  # exported and synced; the team collects it and leaves a receipt
        svc.set_recipient(team[1])
        svc.export([sid])
        svc.save_store(f"file://{store}")
        svc.sync()
    finally:
        svc.close()
    pulled = pull_from_store(f"file://{store}", team[0], tmp_path / "analysis")
    assert [b.error for b in pulled.bundles] == [None]
    svc = services_for(path)
    try:
        assert svc.sync().received == 1
    finally:
        svc.close()

    app = app_for(path)
    said = Messages()
    async with app.run_test(size=(80, 24), message_hook=said) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PurgeDialog), what="the purge question")
        phrase = purge_phrase(app.screen.preview)
        assert phrase == "purge all 1"  # the app's words; the core gets its own phrase
        text = screen_text(app)
        assert sid in text and tr("study.purge_keeps_bundles")[:30] in text
        assert phrase in " ".join(text.split()) and phrase in shown(app.screen, "#purge-type")
        app.screen.query_one("#answer", Input).value = "yes"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, StudySettingsScreen), what="the wrong phrase")
        assert tr("study.purge_mismatch", phrase=phrase) in shown(screen, "#study-purge")
        assert app.services.session(sid).status == sessions.RECEIVED, "a wrong phrase purges nothing"

        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PurgeDialog), what="the purge question again")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, StudySettingsScreen))
        assert app.services.session(sid).status == sessions.RECEIVED, "Escape purges nothing"

        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PurgeDialog), what="the purge question, third")
        app.screen.query_one("#answer", Input).value = phrase
        await pilot.press("enter")
        await wait_until(pilot, lambda: said.of(Purged), what="the purge")
        assert said.of(Purged)[0].result.sessions == (sid,)
        assert tr("study.purged", sessions=sid) in shown(screen, "#study-purge")
        assert app.services.session(sid).status == sessions.PURGED


# -- layout -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_screen_fits_and_its_keys_are_reachable(vault_path, study_en, size):
    make_vault(vault_path, study_en)
    app = app_for(vault_path)
    async with app.run_test(size=size) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        first = screen_text(app)
        assert tr("study.recipients_title") in first
        body = screen.query_one("#study-body")
        await pilot.press("end")  # the body has focus: the last section scrolls into view
        await pilot.pause()
        assert tr("study.purge_title") in screen_text(app)
        assert body.max_scroll_y == 0 or body.scroll_y > 0
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        keys = {k for k, _d, _t in app.screen.keys}
        assert {"k", "i", "s", "t", "p", "c"} <= keys, keys
        assert app.screen.title_text == tr("title.StudySettings")
        await pilot.press("escape")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), what="back on the dashboard")


# -- (5) in Chinese -------------------------------------------------------------------------------------
# names of formats, protocols and files, typed as they are in every language
NAMES = {"age", "pub", "sftp", "webdav", "webdavs", "file", "ssh", "known", "hosts"}


@pytest.fixture
def zh_vault(vault_path, study_zh) -> Path:
    make_vault(vault_path, study_zh, name="王小明")
    yield vault_path
    set_language("en")


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_settings_screen_in_chinese_shows_no_english(zh_vault, size):
    app = app_for(zh_vault, language="zh")
    seen: dict[str, list[str]] = {}

    def look(name: str) -> None:
        seen[name] = [w for w in english(screen_text(app)) if w.lower() not in NAMES]

    async with app.run_test(size=size) as pilot:
        await unlock(pilot)
        screen = await open_settings(pilot)
        look("settings")
        assert "研究设置" in screen_text(app)
        await pilot.press("end")
        await pilot.pause()
        look("settings, scrolled")
        await pilot.press("k")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        look("team key dialog")
        await pilot.press("escape")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText))
        look("identifiers dialog")
        app.screen.query_one("#answer", Input).value = "河畔日间中心=日间中心、莲花餐厅"
        await pilot.press("enter")
        await pilot.pause()
        look("identifiers added")
        assert "河畔日间中心" in shown(screen, "#study-identifiers")
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, StoreDialog))
        look("store form")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, StudySettingsScreen))
        await pilot.press("t")
        await wait_until(pilot, lambda: "尚未设置研究存储" in shown(screen, "#study-store-test"))
        look("store test, nothing set")
        await pilot.press("p")
        await wait_until(pilot, lambda: "没有可清除的内容" in shown(screen, "#study-purge"))
        look("purge, nothing to purge")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        look("help")

    assert {k: v for k, v in seen.items() if v} == {}
    assert len(seen) == 9
