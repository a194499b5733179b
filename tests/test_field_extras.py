"""The rest of the field day, below the screens (issue 15): sealed notes on a participant,
planning with date, site and wave, the participant's consent summary (PDF/HTML), battery and
disk warnings, and time on the current question against the domain's budget."""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fieldscribe.cli import cli
from fieldscribe.core import consent, participants, sessions, withdrawal
from fieldscribe.core import consent_summary as cs
from fieldscribe.core.errors import HistoryTampered, InvalidInput
from fieldscribe.core.guides import import_guide
from fieldscribe.core.laptop import Battery, Thresholds, free_disk_bytes, laptop_state, recording_bytes_per_second
from fieldscribe.core.schema import SCHEMA_VERSION
from fieldscribe.core.vault import DB_NAME, Vault
from fieldscribe.services import Services
from fieldscribe.services.field import QuestionTiming
from fieldscribe.services.interview import Interview
from fieldscribe.services.views import GuideQuestion

from .conftest import FAST_KDF, PASSPHRASE
from .test_cli import Fs

LEGACY = Path(__file__).parent / "data" / "legacy-v5-vault"
NAME = "Alice Wong"


def enrol(v: Vault, study: Any, name: str = NAME, site: str | None = "Harbour View Day Centre") -> str:
    pid = participants.enrol(
        v, study, group="service_user", name=name, site=site, eligibility=participants.all_eligible(study)
    )
    consent.record_consent(v, study, pid, {c.id: True for c in study.consent}, taken_by="interviewer-a")
    return pid


def disk_bytes(folder: Path) -> bytes:
    """Everything SQLite has on disk for the vault (main file and write-ahead log)."""
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith(DB_NAME))


def plain(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return plain(" ".join(page.extract_text() for page in reader.pages))


@pytest.fixture
def fs(tmp_path: Path, study_en: Any) -> Fs:
    """A closed vault with the English study, driven through the command line."""
    path = tmp_path / "cli-vault"
    v, recovery = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_en)
    return Fs(path, recovery)


# -- (a) notes on a participant ----------------------------------------------------------------------
def test_a_participant_note_is_sealed_listed_in_order_and_gone_after_withdrawal(vault, study_en, vault_path):
    pid = enrol(vault, study_en.study)
    first = participants.add_note(vault, pid, "  Prefers mornings; call the centre first.  ", by="ann")
    participants.add_note(vault, pid, "Brought her sister to wave 1")
    notes = participants.participant_notes(vault, pid)
    assert [n.text for n in notes] == ["Prefers mornings; call the centre first.", "Brought her sister to wave 1"]
    assert first.by == "ann" and notes[0].at <= notes[1].at
    vault.shred_residue()
    assert b"Prefers mornings" not in disk_bytes(vault_path)  # sealed, never in the clear
    # the audit log says a note was added, not what it says
    assert all("Prefers" not in str(e.details) for e in vault.audit.entries())

    withdrawal.withdraw(vault, pid, pid)
    assert participants.participant_notes(vault, pid) == []
    assert (
        vault.db.execute("SELECT COUNT(*) FROM participant_records WHERE participant_id = ?", (pid,)).fetchone()[0] == 0
    )
    with pytest.raises(Exception, match="withdr"):
        participants.add_note(vault, pid, "too late")


def test_a_deleted_note_record_is_caught_by_the_participants_history(vault, study_en, vault_path):
    pid = enrol(vault, study_en.study)
    participants.add_note(vault, pid, "one")
    with sqlite3.connect(vault_path / DB_NAME) as other:  # someone with the files, not the key
        other.execute("DELETE FROM participant_records WHERE participant_id = ? AND kind = 'notes'", (pid,))
    with pytest.raises(HistoryTampered):
        participants.participant_notes(vault, pid)


@pytest.mark.parametrize(("text", "says"), [("   ", "empty"), ("x" * 2001, "2000")])
def test_an_empty_or_overlong_note_is_refused_and_nothing_is_stored(vault, study_en, text, says):
    pid = enrol(vault, study_en.study)
    with pytest.raises(InvalidInput, match=says):
        participants.add_note(vault, pid, text)
    assert participants.participant_notes(vault, pid) == []


# -- (b) planning with date, site and wave ---------------------------------------------------------
def test_a_session_keeps_its_sealed_date_and_site_and_the_next_wave_is_suggested(vault, study_en, vault_path):
    pid = enrol(vault, study_en.study)
    assert sessions.next_wave(vault, pid) == 1
    s1 = sessions.create_session(vault, [pid], wave=1, date="2031-03-14", site="Riverside Day Centre")
    assert sessions.session_plan(vault, s1) == sessions.SessionPlan("2031-03-14", "riverside")
    assert sessions.next_wave(vault, pid) == 2
    s2 = sessions.create_session(vault, [pid], wave=2)
    assert sessions.session_plan(vault, s2) == sessions.SessionPlan(None, None)
    sessions.cancel_session(vault, s2)  # a cancelled wave-2 plan does not count
    assert sessions.next_wave(vault, pid) == 2
    vault.shred_residue()
    raw = disk_bytes(vault_path)
    assert b"2031-03-14" not in raw  # (the site's id is in the study file, which is not secret)

    withdrawal.withdraw(vault, pid, pid)  # their only interview's key is gone: so is its plan
    assert sessions.session_plan(vault, s1) == sessions.SessionPlan(None, None)


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"date": "14/03/2031"}, "YYYY-MM-DD"),
        ({"date": "2031-02-30"}, "not a date"),
        ({"site": "Lakeside"}, "harbour_view, riverside, hillside"),
    ],
)
def test_a_bad_date_or_unknown_site_is_refused_and_nothing_is_planned(vault, study_en, kw, says):
    pid = enrol(vault, study_en.study)
    with pytest.raises(InvalidInput, match=says):
        sessions.create_session(vault, [pid], **kw)
    assert sessions.list_sessions(vault) == []


def test_a_swapped_plan_does_not_open_under_another_session(vault, study_en):
    pid = enrol(vault, study_en.study)
    a = sessions.create_session(vault, [pid], date="2031-01-01")
    b = sessions.create_session(vault, [pid], wave=2, date="2031-06-01")
    vault.db.execute("UPDATE sessions SET plan = (SELECT plan FROM sessions WHERE id = ?) WHERE id = ?", (a, b))
    with pytest.raises(Exception, match="failed authentication"):
        sessions.session_plan(vault, b)


def test_a_vault_from_an_older_release_opens_with_sessions_that_have_no_plan(tmp_path):
    path = tmp_path / "legacy"
    shutil.copytree(LEGACY, path)
    with sqlite3.connect(path / DB_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION
    v = Vault.open(path)
    try:
        v.unlock(PASSPHRASE)
        assert v.schema_version == SCHEMA_VERSION
        sid = sessions.list_sessions(v)[0].id
        assert sessions.session_plan(v, sid) == sessions.SessionPlan(None, None)
        assert sessions.next_wave(v, sessions.get_session(v, sid).participants[0]) >= 2
    finally:
        v.close()


# -- (c) the consent summary ------------------------------------------------------------------------
def test_the_pdf_summary_holds_the_items_and_pseudonym_and_never_the_name(vault, study_en, tmp_path):
    pid = enrol(vault, study_en.study)
    consent.record_consent(vault, study_en.study, pid, {"quotes": False}, taken_by="interviewer-b")
    summary = cs.consent_summary(vault, pid)
    out = cs.write_summary(summary, tmp_path / "copy.pdf")
    assert out.read_bytes().startswith(b"%PDF-")
    text = pdf_text(out)
    assert pid in text and study_en.study.study.ethics_reference in text
    for item in study_en.study.consent:
        assert plain(item.text).translate(cs.ASCII_PUNCTUATION)[:60] in text.translate(cs.ASCII_PUNCTUATION)
    assert "Refused" in text and "interviewer-b" in text and "interviewer-a" in text
    assert NAME not in text and "Alice" not in text and "Harbour View" not in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["copy.pdf"]  # nothing else written


def make_font(path: Path, chars: str) -> Path:
    """A TrueType font with a box for each of CHARS (enough for fpdf2 to embed and for a PDF
    reader to map back to text)."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def box() -> Any:
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        pen.lineTo((100, 700))
        pen.lineTo((800, 700))
        pen.lineTo((800, 0))
        pen.closePath()
        return pen.glyph()

    wanted = sorted(set(chars) | set(string.printable.strip()) | {" "})
    names = [".notdef", *(f"u{ord(c):04X}" for c in wanted)]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(c): f"u{ord(c):04X}" for c in wanted})
    fb.setupGlyf({n: box() for n in names})
    fb.setupHorizontalMetrics(dict.fromkeys(names, (1000, 100)))
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Boxes", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    fb.save(str(path))
    return path


@pytest.fixture
def zh_vault(tmp_path, study_zh):
    v, _ = Vault.create(tmp_path / "zh-vault", PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, study_zh)
    yield v
    v.close()


def test_a_chinese_summary_uses_a_font_with_chinese_characters(zh_vault, study_zh, tmp_path, monkeypatch):
    pid = enrol(zh_vault, study_zh.study, name="王小明", site=None)
    summary = cs.consent_summary(zh_vault, pid)
    font = make_font(tmp_path / "boxes.ttf", cs.render_text(summary))
    assert cs.font_covers(font, "知情同意") and not cs.font_covers(font, "王小明")
    monkeypatch.setenv(cs.ENV_FONT, str(font))
    out = tmp_path / "out" / "copy.pdf"
    out.parent.mkdir()
    cs.write_summary(summary, out)
    text = pdf_text(out)
    assert "知情同意摘要" in text and pid in text and "同意" in text
    for item in study_zh.study.consent:
        assert plain(item.text)[:12] in text.replace(" ", "")
    assert "王小明" not in text


def test_without_a_chinese_font_the_pdf_is_refused_in_one_sentence_and_html_works(zh_vault, study_zh, tmp_path):
    pid = enrol(zh_vault, study_zh.study, name="王小明", site=None)
    summary = cs.consent_summary(zh_vault, pid)
    latin_only = make_font(tmp_path / "latin.ttf", "abc")
    with pytest.raises(cs.NoSummaryFont, match=r"\.html"):
        cs.write_summary(summary, tmp_path / "copy.pdf", candidates=[latin_only, tmp_path / "missing.ttc"])
    assert not (tmp_path / "copy.pdf").exists()  # nothing half-written
    html = cs.write_summary(summary, tmp_path / "copy.html").read_text("utf-8")
    assert "知情同意摘要" in html and pid in html and "王小明" not in html
    assert all(item.text in html for item in study_zh.study.consent)


def test_the_cli_writes_the_summary_and_consent_still_takes_consent(fs, tmp_path):
    pid = fs.enrol()
    fs.ok("consent", pid, "--all", "--taken-by", "interviewer-a")  # unchanged: `consent P1 …` takes consent
    fs.ok("consent", "--item", "quotes=no", pid)
    out = tmp_path / "P1-consent.pdf"
    result = fs.ok("consent", "summary", pid, "--out", str(out))
    assert str(out) in result.stdout
    text = pdf_text(out)
    assert pid in text and "Refused" in text and "Alice" not in text
    bad = fs("consent", "summary", pid, "--out", str(tmp_path / "copy.docx"))
    assert bad.exit_code != 0 and ".pdf, .html or .txt" in bad.stderr


# -- (a, b) the command line -------------------------------------------------------------------------
def test_cli_notes_and_planning_with_date_site_and_next_wave(fs):
    pid = fs.enrol()
    fs.ok("participant", "note", pid, "Prefers mornings")
    assert "Prefers mornings" in fs.ok("participant", "show", pid).stdout
    assert (
        fs.ok("session", "create", "--participant", pid, "--date", "2031-03-14", "--site", "riverside").stdout.strip()
        == "S1"
    )
    second = fs.ok("session", "create", "--participant", pid)
    assert second.stdout.strip() == "S2" and "wave 2" in second.stderr
    listing = fs.ok("session", "list").stdout
    s1 = next(line for line in listing.splitlines() if line.startswith("S1"))
    assert "2031-03-14" in s1 and "riverside" in s1
    s2 = next(line for line in listing.splitlines() if line.startswith("S2"))
    assert re.match(r"S2\s+interview\s+2\s", s2)
    bad = fs("session", "create", "--participant", pid, "--date", "next tuesday")
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.stderr


# -- (d) battery and disk ---------------------------------------------------------------------------
def test_disk_and_battery_thresholds_from_injected_readings(tmp_path):
    gb = 10**9
    bps = recording_bytes_per_second()
    ok = laptop_state(tmp_path, free_space=lambda p: 50 * gb, battery=lambda: Battery(80, True))
    assert ok.level == "ok" and ok.warnings == () and "50.0 GB free" in ok.disk_line
    assert ok.battery_line == "Battery 80%, on mains"

    low = laptop_state(tmp_path, free_space=lambda p: int(1.5 * 3600 * bps), battery=lambda: Battery(12, False))
    assert low.disk_level == "warning" and low.battery_level == "warning"
    assert low.level == "warning" and len(low.warnings) == 2
    assert "about 1.5 h of recording left" in low.disk_line
    assert low.battery_line.startswith("Battery 12% and not charging")

    dying = laptop_state(tmp_path, free_space=lambda p: 10 * 60 * bps, battery=lambda: Battery(5, False))
    assert dying.level == "critical" and "10 min" in dying.warnings[0] + dying.warnings[1]
    charging = laptop_state(tmp_path, free_space=lambda p: 50 * gb, battery=lambda: Battery(5, True))
    assert charging.battery_level == "ok"  # low but plugged in: no alarm
    unknown = laptop_state(tmp_path, free_space=lambda p: 50 * gb, battery=lambda: Battery(None, None))
    assert unknown.battery_level == "ok" and "not reported" in unknown.battery_line
    custom = laptop_state(
        tmp_path,
        free_space=lambda p: 50 * gb,
        battery=lambda: Battery(30, False),
        thresholds=Thresholds(1000, 5, 35, 10),
    )
    assert custom.disk_level == "warning" and custom.battery_level == "warning"


def test_free_disk_is_read_where_the_vault_will_be_and_the_rate_matches_the_recorder(tmp_path):
    assert free_disk_bytes(tmp_path / "not" / "made" / "yet") == shutil.disk_usage(tmp_path).free
    from fieldscribe.core.audio.recorder import RecorderConfig

    c = RecorderConfig()
    assert recording_bytes_per_second() == c.rate * c.channels * 2


# -- (e) time on the question and the domain's budget ------------------------------------------------
@dataclass
class _Event:
    t: float


class FakeRun:
    def __init__(self, vault: Vault | None = None) -> None:
        self.vault = vault
        self.position = 0.0
        self.marks: list[tuple[str, dict[str, Any]]] = []

    def mark(self, kind: str, *, at: float | None = None, **data: Any) -> _Event:
        self.marks.append((kind, data))
        return _Event(self.position if at is None else at)


def q(domain: str, qid: str) -> GuideQuestion:
    return GuideQuestion(domain, domain.title(), qid, f"text of {qid}", ())


def test_time_on_the_question_and_domain_with_a_gentle_cue_past_the_budget():
    now = [100.0]
    iv = Interview("S1", FakeRun(), clock=lambda: now[0], budgets={"peers": 5, "daily_life": None})  # type: ignore[arg-type]
    assert iv.timing() is None
    iv.ask(q("peers", "q1"))
    now[0] += 120
    t = iv.timing()
    assert t == QuestionTiming("q1", "peers", 120.0, 120.0, 300.0) and not t.over_budget and t.budget_left_s == 180
    iv.ask(q("peers", "q2"))
    now[0] += 200
    t = iv.timing()
    assert (t.question_s, t.domain_s) == (200, 320) and t.over_budget
    iv.ask(q("daily_life", "q7"))
    now[0] += 3000
    t = iv.timing()
    assert t.domain_s == 3000 and t.domain_budget_s is None and not t.over_budget
    iv.ask(q("peers", "q1"))  # back to an earlier question: its time adds up
    now[0] += 10
    t = iv.timing()
    assert (t.question_s, t.domain_s) == (130, 330)


def test_budgets_come_from_the_sessions_study_file_and_the_clock_defaults_to_the_recording(vault, study_en):
    pid = enrol(vault, study_en.study)
    sid = sessions.create_session(vault, [pid])
    run = FakeRun(vault)
    iv = Interview(sid, run)  # type: ignore[arg-type]
    assert iv.domain_budgets() == {d.id: d.budget_minutes for d in study_en.study.guide.domains}
    assert iv.domain_budgets()["peers"] == 12
    iv.ask(q("peers", "q1"))
    run.position = 13 * 60.0  # the recording's clock: stands still while paused
    t = iv.timing()
    assert t.question_s == 780 and t.over_budget
    assert run.marks[0] == ("question", {"question": "q1", "domain": "peers"})


def test_the_example_studies_give_every_domain_the_same_budget_in_both_languages(study_en, study_zh):
    en = {d.id: d.budget_minutes for d in study_en.study.guide.domains}
    assert en == {d.id: d.budget_minutes for d in study_zh.study.guide.domains}
    assert all(m is not None and m > 0 for m in en.values())


def test_a_budget_must_be_positive(study_en):
    from fieldscribe.core.errors import GuideInvalid
    from fieldscribe.core.study import parse_study

    text = study_en.text.replace("budget_minutes: 12", "budget_minutes: -3", 1)
    with pytest.raises(GuideInvalid, match="budget_minutes"):
        parse_study(text)


# -- the services ----------------------------------------------------------------------------------
@pytest.fixture
def services(vault_path, study_en):
    v, _ = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, study_en)
        enrol(v, study_en.study)
    svc = Services(vault_path)
    svc.unlock(PASSPHRASE)
    yield svc
    svc.close()


def test_services_plan_note_summarise_and_report_the_laptop(services, tmp_path):
    form = services.planning_form(["P1"])
    assert form.wave == 1 and form.site == "harbour_view" and form.sites[0].id == "harbour_view"
    planned = services.plan_session(["P1"], date="2031-05-02", site=form.site)
    assert (planned.wave, planned.date, planned.site_name) == (1, "2031-05-02", "Harbour View Day Centre")
    assert services.plan_session(["P1"]).wave == 2  # a returning participant: the next wave
    assert services.planning_form(["P1"]).wave == 3

    note = services.add_participant_note("P1", "Prefers mornings")
    assert services.participant_notes("P1") == (note,)

    view = services.consent_summary("P1")
    assert view.pseudonym == "P1" and {i.decision for i in view.items} == {"given"}
    assert all(i.taken_by == "interviewer-a" for i in view.items)
    out = services.write_consent_summary("P1", tmp_path / "P1.txt")
    assert "P1" in out.read_text("utf-8") and NAME not in out.read_text("utf-8")

    status = services.laptop_status()
    assert status.disk_free_bytes > 0 and status.disk_line.startswith("Disk: ")
    assert status.level in ("ok", "warning", "critical")


def test_services_refuse_a_bad_plan_in_one_sentence(services):
    with pytest.raises(InvalidInput, match="not one of this study's sites"):
        services.plan_session(["P1"], site="the pub")
    with pytest.raises(InvalidInput, match="at least one participant"):
        services.next_wave([])


def test_cli_runner_isolated_from_sessions_module():
    # `fieldscribe consent --help` lists both ways in
    result = CliRunner().invoke(cli, ["consent", "--help"])
    assert result.exit_code == 0 and "summary" in result.output and "take" in result.output
