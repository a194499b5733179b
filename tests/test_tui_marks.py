"""Marks after the fact, in the review screen: a recording brought in from a handheld recorder
(real recorded speech from tests/data/speech, imported with the core importer, transcribed by
Whisper tiny.en, its voices found by the shipped speaker model) has no guide marks, so its
rows have no question. Q says which guide question starts at the selected segment, M adds a
note and F a flag there, Shift+M lists the marks and takes one back; the rows follow at once,
and the export's segments carry the question and the note. A refusal is one sentence and
leaves the screen working; a Chinese study's dialogs show no English."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from textual.widgets import DataTable, Input, OptionList

from fieldscribe.core import consent, participants, sessions, speakers
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.deid.review import decide, mark_reviewed
from fieldscribe.core.export.content import gather
from fieldscribe.core.guides import import_guide
from fieldscribe.core.timeline import events
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments
from fieldscribe.core.vault import Vault
from fieldscribe.tui.screens.dialogs import AskText, Confirm
from fieldscribe.tui.screens.help import HelpScreen
from fieldscribe.tui.screens.interview import clock
from fieldscribe.tui.screens.review import ReviewScreen
from fieldscribe.tui.screens.review_marks import MarksChanged, MarksDialog, QuestionPicker
from fieldscribe.tui.strings import set_language, tr

from .conftest import FAST_KDF, PASSPHRASE
from .screen_text import screen_text
from .test_tui import notifications, wait_until
from .test_tui_chinese import english
from .tui_helpers import app_for, unlock
from .tui_messages import Messages
from .vault_access import reopen

SPEECH = Path(__file__).parent / "data" / "speech"
# one reader of Sense and Sensibility (LibriVox, public domain), five sentences with pauses
CLIPS = [
    f"en/clips/pocketsphinx__librivox_sense_and_sensibility_{n}.flac" for n in ("0870", "0880", "0890", "0920", "0930")
]
NOTE = "long silence before answering"


@pytest.fixture(autouse=True)
def _english_after():
    yield
    set_language("en")


def _recording(folder: Path) -> Path:
    """The clips one after the other with 1.5 s pauses: a handheld recorder's file."""
    parts = []
    for clip in CLIPS:
        audio, rate = sf.read(SPEECH / clip, dtype="float32")
        assert rate == 16000
        parts += [audio, np.zeros(int(1.5 * rate), dtype=np.float32)]
    wav = folder / "handheld.wav"
    sf.write(wav, np.concatenate(parts), 16000, subtype="PCM_16")
    return wav


@pytest.fixture(scope="module")
def imported(tmp_path_factory, study_en, models_cache) -> tuple[Path, str]:
    """A vault (built once, copied for each test) with one interview whose audio was imported,
    transcribed and its voices found: no question, note or flag on any segment."""
    root = tmp_path_factory.mktemp("marks-vault")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
            mp.setenv(var, str(root / var.lower()))
        mp.setenv("FIELDSCRIBE_MODELS_DIR", str(models_cache))
        v, _ = Vault.create(root / "vault", PASSPHRASE, kdf=FAST_KDF)
        with v:
            import_guide(v, study_en)
            pid = participants.enrol(v, study_en.study, group="service_user", name="Ann Lee")
            consent.record_consent(v, study_en.study, pid, {c.id: True for c in study_en.study.consent})
            sid = sessions.create_session(v, [pid])
            import_file(v, sid, _recording(root))
            transcribe_session(v, sid, model="tiny.en")
            speakers.run(v, sid)  # found now, so the app has nothing to do in the background
            assert speakers.waiting(v) == [] and events(v, sid) == []
    return root / "vault", sid


def _copy(template: Path, to: Path) -> Path:
    shutil.copytree(template, to)
    return to


def rows(screen: ReviewScreen) -> list[tuple[str, str]]:
    """(time cell, question cell) of every row, as the table shows them."""
    table = screen.query_one("#segments", DataTable)
    return [(str(table.get_row_at(i)[0]), str(table.get_row_at(i)[2])) for i in range(table.row_count)]


async def open_review(pilot) -> ReviewScreen:
    await unlock(pilot)
    await pilot.press("v")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReviewScreen), what="review")
    await pilot.pause()
    return pilot.app.screen


async def type_into(pilot, key: str, text: str) -> None:
    """Press KEY, type TEXT into the one-line dialog it opens and press Enter."""
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, AskText), what="the text dialog")
    pilot.app.screen.query_one("#answer", Input).value = text
    await pilot.press("enter")


def picked(app) -> str | None:
    """The id of the question the picker highlights."""
    picker = app.screen.query_one("#questions", OptionList)
    assert picker.highlighted is not None
    return picker.get_option_at_index(picker.highlighted).id


async def test_question_note_and_flag_placed_in_review_code_the_rows_and_the_export(vault_path, imported):
    template, sid = imported
    _copy(template, vault_path)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        screen = await open_review(pilot)
        segs = screen.segments
        assert len(segs) >= 4 and {q for _t, q in rows(screen)} == {"–"}, "an imported recording: no questions"
        at = len(segs) // 2
        start = segs[at].start
        middle = round((segs[at].start + segs[at].end) / 2, 3)
        screen.query_one("#segments", DataTable).move_cursor(row=at)
        await pilot.pause()

        # Q: the guide's questions in guide order, under their domains; none is current yet
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionPicker), what="the question picker")
        guide = app.services.questions(sid)
        options = app.screen.query_one("#questions", OptionList).options
        assert [o.id for o in options if not o.disabled] == [q.id for q in guide]
        headers = [str(o.prompt) for o in options if o.disabled]
        assert headers == list(dict.fromkeys(q.domain_title for q in guide))
        q3 = next(q for q in guide if q.id == "q3")
        assert any(str(o.prompt).strip() == f"q3  {q3.text}" for o in options)
        assert tr("marks.question_title", time=clock(start)) in screen_text(app)
        assert picked(app) == guide[0].id
        while picked(app) != "q3":
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: said.of(MarksChanged), what="the question mark")
        assert isinstance(app.screen, ReviewScreen) and screen.current_segment().start == start, "the cursor stays"
        # this row and every later one are under q3; the earlier ones are not
        assert [q for _t, q in rows(screen)] == ["–"] * at + ["q3"] * (len(segs) - at)
        assert tr("marks.question_placed", question="q3", time=clock(start)) in notifications(app)

        # M: a note, F: a flag (its words optional), both at the selected segment
        await type_into(pilot, "m", NOTE)
        await wait_until(pilot, lambda: len(said.of(MarksChanged)) == 2, what="the note")
        await type_into(pilot, "f", "")
        await wait_until(pilot, lambda: len(said.of(MarksChanged)) == 3, what="the flag")
        assert rows(screen)[at][0].startswith("⚑") and not rows(screen)[at - 1][0].startswith("⚑")
        detail = str(screen.query_one("#detail").render())
        assert f"{tr('marks.kind.note')}: {NOTE}" in detail
        assert {(m.mark.kind, m.mark.t) for m in said.of(MarksChanged)} == {
            ("question", start),  # a question begins at the segment's start
            ("note", middle),  # a note and a flag are stamped in its middle: they belong to it
            ("flag", middle),
        }

        # on a later row, Q highlights the question it is under now; Escape changes nothing
        screen.query_one("#segments", DataTable).move_cursor(row=at + 1)
        await pilot.pause()
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionPicker), what="the question picker")
        assert picked(app) == "q3" and tr("marks.current") in screen_text(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert len(said.of(MarksChanged)) == 3

        # Shift+M lists the three marks at the segment's time
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MarksDialog), what="the marks")
        table = app.screen.query_one("#marks", DataTable)
        listed = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        when = clock(start)
        assert listed == [
            [when, tr("marks.kind.question"), f"q3  {q3.text}"],
            [clock(middle), tr("marks.kind.note"), NOTE],
            [clock(middle), tr("marks.kind.flag"), "–"],
        ]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")

    # the export: reviewed, its segments under q3 from the marked one on, the note on that one
    v = reopen(vault_path)
    with v:
        decide(v, sid, accept_all=True)
        mark_reviewed(v, sid)
        (exported,) = gather(v, [sid]).sessions
    out = [s for s in exported.segments if s.text]
    earlier = [s for s in out if s.start < start]
    assert earlier and all(s.question is None for s in earlier)
    later = [s for s in out if s.start >= start]
    assert later and all(s.question == "q3" and s.domain == "mutual_help" for s in later)
    marked = next(s for s in out if s.start == start)
    assert sorted((n["kind"], n.get("text")) for n in marked.notes) == [("flag", ""), ("note", NOTE)]


async def test_a_refusal_is_one_sentence_and_the_review_keeps_working(vault_path, imported):
    """A note too long, and taking back a mark that is already gone: each refused in one
    sentence, nothing changed, and the next key works."""
    template, sid = imported
    _copy(template, vault_path)
    app = app_for(vault_path)
    said = Messages()
    async with app.run_test(size=(120, 40), message_hook=said) as pilot:
        screen = await open_review(pilot)
        at = 1
        screen.query_one("#segments", DataTable).move_cursor(row=at)
        await pilot.pause()

        await type_into(pilot, "m", "x" * 1001)
        sentence = "The note is 1001 characters long; keep it under 1000."
        await wait_until(pilot, lambda: sentence in notifications(app), what="the refusal")
        assert isinstance(app.screen, ReviewScreen) and not said.of(MarksChanged)
        assert app.services.marks(sid) == []
        # an empty note adds nothing either, and says so
        await type_into(pilot, "m", "   ")
        await wait_until(pilot, lambda: tr("marks.note_empty") in notifications(app), what="the empty note")
        assert app.services.marks(sid) == []

        # the screen still works: F flags the segment
        await type_into(pilot, "f", "talks about a crisis")
        await wait_until(pilot, lambda: said.of(MarksChanged), what="the flag")
        assert rows(screen)[at][0].startswith("⚑")

        # the list; the flag is taken back elsewhere meanwhile (the CLI), then here: refused
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MarksDialog), what="the marks")
        dialog = app.screen
        assert dialog.query_one("#marks", DataTable).row_count == 1
        (flag,) = app.services.marks(sid)
        app.services.remove_mark(sid, flag.seq)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        assert app.screen.question == tr("marks.ask_remove", kind=tr("marks.kind.flag"), time=clock(flag.t))
        await pilot.press("y")
        gone = f"Session {sid} has no mark {flag.seq}; `fieldscribe marks {sid}` lists them."
        await wait_until(pilot, lambda: gone in notifications(app), what="the refusal")
        assert gone.count(". ") == 0 and gone.endswith(".")
        # the dialog stays, showing the marks as they stand: none
        assert app.screen is dialog and not dialog.query_one("#marks", DataTable).display
        empty = dialog.query_one("#marks-empty")
        assert empty.display and str(empty.content) == tr("marks.none")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert not rows(screen)[at][0].startswith("⚑"), "the review reads the transcript as it stands"

        # and taking back works: a question at row 0, listed, N keeps it, Y takes it back
        screen.query_one("#segments", DataTable).move_cursor(row=0)
        await pilot.pause()
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionPicker), what="the question picker")
        await pilot.press("enter")  # the first question
        first = app.services.questions(sid)[0].id
        await wait_until(pilot, lambda: len(said.of(MarksChanged)) == 2, what="the question")
        assert {q for _t, q in rows(screen)} == {first}
        screen.query_one("#segments", DataTable).move_cursor(row=len(screen.segments) - 1)
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MarksDialog), what="the marks")
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, MarksDialog), what="the marks")
        assert len(app.services.marks(sid)) == 1
        await pilot.press("enter")  # go to the mark's moment
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert screen.query_one("#segments", DataTable).cursor_row == 0
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MarksDialog), what="the marks")
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        await pilot.press("y")
        await wait_until(pilot, lambda: said.of(MarksChanged)[-1].removed, what="taken back")
        assert app.services.marks(sid) == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        assert {q for _t, q in rows(screen)} == {"–"}


# -- Chinese -----------------------------------------------------------------------------------------
LINES_ZH = ["我叫王小明，住在沙田。", "小组对我帮助很大。", "我姐姐每个星期天来看我。"]


@pytest.fixture
def zh_imported(vault_path, study_zh, tmp_path) -> tuple[Path, str]:
    """A Chinese study's interview imported from a recorder (a quiet room: no voices to find)
    with its transcript as Whisper would have left it."""
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_zh)
        pid = participants.enrol(v, study_zh.study, group="service_user", name="王小明")
        consent.record_consent(v, study_zh.study, pid, {c.id: True for c in study_zh.study.consent})
        sid = sessions.create_session(v, [pid])
        room = np.random.default_rng(2).normal(0, 0.002, 16000 * 16).astype(np.float32)
        wav = tmp_path / "recorder.wav"
        sf.write(wav, room, 16000, subtype="PCM_16")
        import_file(v, sid, wav)
        key = sessions.session_key(v, sid)
        t = begin_transcript(v, sid, EngineSettings(model="test", language="zh"), 15.0)
        segs = [Segment(i * 5.0, i * 5.0 + 4.0, line) for i, line in enumerate(LINES_ZH)]
        store_segments(v, t, key, segs, events(v, sid, key), 15.0)
        complete_transcript(v, t)
        speakers.run(v, sid)
        assert speakers.waiting(v) == []
    return vault_path, sid


async def test_the_mark_dialogs_speak_chinese_in_a_chinese_study(zh_imported):
    vault_path, sid = zh_imported
    app = app_for(vault_path, language="zh")
    seen: dict[str, list[str]] = {}

    def look(name: str) -> None:
        seen[name] = english(screen_text(app))

    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_review(pilot)
        await pilot.press("down")
        await pilot.pause()
        look("review")
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionPicker), what="the question picker")
        await pilot.pause()
        look("question picker")
        assert tr("marks.question_title", time=clock(5.0)) in screen_text(app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        first = app.services.questions(sid)[0].id
        await wait_until(pilot, lambda: rows(screen)[1][1] == first, what="the question")
        look("review with a question")
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText), what="the note dialog")
        look("note dialog")
        app.screen.query_one("#answer", Input).value = "回答前长时间沉默"
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.services.marks(sid)) == 2, what="the note")
        await pilot.pause()
        look("review with a note")
        assert f"{tr('marks.kind.note')}: 回答前长时间沉默" in str(screen.query_one("#detail").render())
        await pilot.press("f")
        await wait_until(pilot, lambda: isinstance(app.screen, AskText), what="the flag dialog")
        look("flag dialog")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.services.marks(sid)) == 3, what="the flag")
        await pilot.press("M")
        await wait_until(pilot, lambda: isinstance(app.screen, MarksDialog), what="the marks")
        await pilot.pause()
        look("marks")
        assert tr("marks.kind.flag") in screen_text(app)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, Confirm), what="the question")
        look("take back?")
        await pilot.press("y")
        await wait_until(pilot, lambda: len(app.services.marks(sid)) == 2, what="taken back")
        await pilot.pause()
        look("marks after taking one back")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ReviewScreen), what="review")
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        look("review help")

    assert {k: v for k, v in seen.items() if v} == {}
    assert len(seen) == 10
