"""The command line as a field researcher (or their scripts) uses it.

Every command runs through click's CliRunner against a real vault in a temporary folder.
Most tests start from a vault made with the cheap test KDF (conftest.FAST_KDF) so that the
file stays fast; `init` and `passphrase change` exercise the default Argon2id parameters.

Error contract checked throughout: a non-zero exit code, no traceback, and the message on
stderr as one line starting with "Error:".
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fieldscribe.cli import cli
from fieldscribe.core import crypto
from fieldscribe.core.errors import ConsentMissing
from fieldscribe.core.guides import import_guide
from fieldscribe.core.sessions import RECORDING, get_session, start_recording
from fieldscribe.core.study import load_study
from fieldscribe.core.vault import DB_NAME, Vault

from .conftest import FAST_KDF, PASSPHRASE, STUDY_EN, STUDY_ZH

NEW_PASSPHRASE = "a brand new passphrase of several words"
ALL_CONSENT_ITEMS = ("participation", "audio_recording", "quotes", "withdrawal")
INCLUSION = ("age_18_65", "diagnosis_in_recovery", "attending_12_months", "able_to_consent")
EXCLUSION = ("severe_physical_disability", "acute_or_at_risk")

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def invoke(
    args: list[str], *, passphrase: str | None = PASSPHRASE, input: str | None = None, **env: str | None
) -> Result:
    environment: dict[str, str | None] = {"FIELDSCRIBE_PASSPHRASE": passphrase}
    environment.update(env)
    return CliRunner().invoke(cli, args, env=environment, input=input)


def _describe(result: Result) -> str:
    tb = ""
    if result.exc_info and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(*result.exc_info))
    return f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{tb}"


def assert_ok(result: Result) -> Result:
    assert result.exit_code == 0, _describe(result)
    assert "Traceback" not in result.output
    return result


def assert_no_crash(result: Result) -> None:
    """Expected failures end in SystemExit; any other exception is a bug (a traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), _describe(result)
    assert "Traceback" not in result.output, _describe(result)


def assert_error(result: Result, *fragments: str, one_line: bool = True) -> str:
    """Check the error contract and return the error message (its first line)."""
    assert result.exit_code != 0, _describe(result)
    assert_no_crash(result)
    lines = result.stderr.strip().splitlines()
    assert lines, _describe(result)
    if one_line:
        assert len(lines) == 1, _describe(result)
    assert lines[0].startswith("Error: "), _describe(result)
    assert "Error:" not in result.stdout, _describe(result)
    message = result.stderr
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from:\n{message}"
    return lines[0]


class Fs:
    """`fieldscribe --vault PATH …` bound to one vault folder."""

    def __init__(self, path: Path, recovery_key: str = "") -> None:
        self.path = path
        self.recovery_key = recovery_key

    def __call__(
        self, *args: str, passphrase: str | None = PASSPHRASE, input: str | None = None, **env: str | None
    ) -> Result:
        return invoke(["--vault", str(self.path), *args], passphrase=passphrase, input=input, **env)

    def ok(self, *args: str, **kw: str | None) -> Result:
        return assert_ok(self(*args, **kw))

    def enrol(self, name: str = "Alice Wong", *extra: str, group: str = "service_user") -> str:
        result = self.ok(
            "participant",
            "add",
            "--name",
            name,
            "--site",
            "Harbour View Day Centre",
            "--group",
            group,
            "--eligible",
            *extra,
        )
        return result.stdout.strip()

    def open(self) -> Vault:
        vault = Vault.open(self.path)
        vault.unlock(PASSPHRASE)
        return vault

    def participant_ids(self) -> list[str]:
        with Vault.open(self.path) as vault:
            return [r[0] for r in vault.db.execute("SELECT id FROM participants ORDER BY seq")]


@pytest.fixture
def fs(tmp_path: Path) -> Fs:
    """A closed vault with the English study imported, ready for the CLI."""
    path = tmp_path / "vault"
    vault, recovery = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
    with vault:
        import_guide(vault, load_study(STUDY_EN))
    return Fs(path, recovery)


@pytest.fixture
def fresh(tmp_path: Path) -> Fs:
    """A vault path where nothing exists yet."""
    return Fs(tmp_path / "new-vault")


def recovery_key_from(init_output: str) -> str:
    keys = re.findall(r"^\s+([A-Z2-7]{4}(?:-[A-Z2-7]{4}){7})\s*$", init_output, flags=re.MULTILINE)
    assert len(keys) == 1, init_output
    return keys[0]


# --------------------------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------------------------


class TestInit:
    def test_init_creates_vault_and_prints_recovery_key_once(self, fresh: Fs) -> None:
        result = fresh.ok("init")
        assert (fresh.path / DB_NAME).is_file()
        assert f"Created vault at {fresh.path}" in result.stdout
        assert "RECOVERY KEY" in result.stdout
        key = recovery_key_from(result.stdout)
        assert result.output.count(key) == 1
        assert crypto.parse_recovery_key(key) is not None
        # the key opens this vault, and no later command shows it again
        with Vault.open(fresh.path) as vault:
            vault.unlock_with_recovery_key(key)
        for args in (("status",), ("guide", "list"), ("audit", "show"), ("session", "list")):
            assert key not in fresh.ok(*args).output

    def test_each_vault_gets_its_own_recovery_key(self, tmp_path: Path) -> None:
        first = recovery_key_from(assert_ok(invoke(["--vault", str(tmp_path / "a"), "init"])).stdout)
        second = recovery_key_from(assert_ok(invoke(["--vault", str(tmp_path / "b"), "init"])).stdout)
        assert first != second

    def test_init_on_existing_vault_refuses_and_keeps_it(self, fs: Fs) -> None:
        fs.enrol()
        message = assert_error(fs("init", passphrase="another passphrase"), "already exists", str(fs.path))
        assert "RECOVERY KEY" not in fs("init").output
        assert message.startswith("Error: A vault already exists")
        # the old passphrase still opens it and the data is still there
        assert "Alice Wong" in fs.ok("participant", "show", "P1").stdout
        assert_error(fs("participant", "list", passphrase="another passphrase"), "Wrong passphrase")

    def test_init_with_guide_imports_it(self, fresh: Fs) -> None:
        result = fresh.ok("init", "--guide", str(STUDY_EN))
        version = hashlib.sha256(STUDY_EN.read_bytes()).hexdigest()[:12]
        assert "Imported guide" in result.stdout and version in result.stdout
        listing = fresh.ok("guide", "list").stdout.strip().splitlines()
        assert len(listing) == 1
        assert listing[0].startswith(f"{version}  en  ")
        # and it is usable straight away
        assert fresh.enrol() == "P1"

    def test_init_with_invalid_guide_creates_nothing(self, fresh: Fs, tmp_path: Path) -> None:
        bad = tmp_path / "bad.yaml"
        bad.write_text("format: fieldscribe-study/1\nstudy: {}\n", encoding="utf-8")
        assert_error(fresh("init", "--guide", str(bad)), str(bad), one_line=False)
        assert not fresh.path.exists()

    def test_init_asks_for_passphrase_twice_when_interactive(self, fresh: Fs) -> None:
        result = fresh("init", passphrase=None, input="typed words\ntyped words\n")
        assert_ok(result)
        assert "RECOVERY KEY" in result.stdout
        assert_ok(fresh("audit", "verify", passphrase="typed words"))
        assert_error(fresh("audit", "verify"), "Wrong passphrase")

    def test_init_without_passphrase_or_stdin_is_a_clear_error(self, fresh: Fs) -> None:
        assert_error(fresh("init", passphrase=None), "FIELDSCRIBE_PASSPHRASE")
        assert not (fresh.path / DB_NAME).exists()

    def test_init_with_empty_passphrase_refused(self, fresh: Fs) -> None:
        assert_error(fresh("init", passphrase=""), "passphrase is empty")
        assert not (fresh.path / DB_NAME).exists()


# --------------------------------------------------------------------------------------------
# guide check / import / list
# --------------------------------------------------------------------------------------------

MALFORMED = """\
format: fieldscribe-study/1
study:
  id: demo
  title: Demo study
  ethics_reference: REC-1
  language: en
  colour: blue
groups:
  - id: service_user
    label: Service user
  - id: service_user
    label: Another group
eligibility:
  inclusion:
    - id: adult
      text: Adult
consent:
  - id: participation
    text: I agree to take part.
    required: maybe
  - id: audio_recording
    text: I agree to audio recording.
    audio_recording: true
questionnaire:
  - id: age
    label: Age
    type: number
    min: 65
    max: 18
guide:
  domains:
    - id: d1
      title: Domain one
      questions:
        - id: q1
          text: How are you?
"""


class TestGuideCheck:
    @pytest.mark.parametrize(("path", "language"), [(STUDY_EN, "en"), (STUDY_ZH, "zh")])
    def test_bundled_study_files_are_ok(self, path: Path, language: str) -> None:
        result = assert_ok(invoke(["guide", "check", str(path)], passphrase=None))
        version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("OK: ")
        assert f"[{language}]" in lines[0]
        assert "5 domains, 7 questions, 4 consent items, 6 questionnaire fields" in lines[0]
        assert lines[0].endswith(f"version {version}")
        assert result.stderr == ""

    def test_check_needs_no_vault(self, tmp_path: Path) -> None:
        result = invoke(["--vault", str(tmp_path / "nowhere"), "guide", "check", str(STUDY_EN)], passphrase=None)
        assert_ok(result)
        assert not (tmp_path / "nowhere").exists()

    def test_malformed_file_reports_every_problem_with_its_line(self, tmp_path: Path) -> None:
        bad = tmp_path / "study.yaml"
        bad.write_text(MALFORMED, encoding="utf-8")
        result = invoke(["guide", "check", str(bad)], passphrase=None)
        first = assert_error(result, one_line=False)
        assert str(bad) in first and "4 problems" in first
        problems = [line.strip() for line in result.stderr.strip().splitlines()[1:]]
        assert len(problems) == 4, result.stderr
        assert problems[0].startswith("line 7: study.colour: unknown field")
        assert problems[1].startswith("line 11: groups[1].id: duplicate group id 'service_user'")
        assert problems[2].startswith("line 20: consent[0].required:") and "boolean" in problems[2]
        assert (
            problems[3].startswith("line 25: questionnaire[0]:") and "min (65) is greater than max (18)" in problems[3]
        )
        assert result.stdout == ""

    def test_yaml_syntax_error_reported_with_line(self, tmp_path: Path) -> None:
        bad = tmp_path / "syntax.yaml"
        bad.write_text("format: fieldscribe-study/1\nstudy:\n  id: demo\n  title: Demo: a study\n", encoding="utf-8")
        result = invoke(["guide", "check", str(bad)], passphrase=None)
        assert_error(result, str(bad), "1 problem", one_line=False)
        assert "line 4: not valid YAML" in result.stderr

    def test_non_utf8_file_reported_with_line(self, tmp_path: Path) -> None:
        bad = tmp_path / "latin1.yaml"
        bad.write_bytes(b"format: fieldscribe-study/1\nstudy:\n  title: Caf\xe9\n")
        result = invoke(["guide", "check", str(bad)], passphrase=None)
        assert_error(result, str(bad), one_line=False)
        assert "line 3: the file is not UTF-8 text" in result.stderr

    def test_missing_file(self, tmp_path: Path) -> None:
        missing = tmp_path / "no-such-study.yaml"
        result = invoke(["guide", "check", str(missing)], passphrase=None)
        assert_error(result, str(missing), "does not exist", one_line=False)

    def test_empty_file(self, tmp_path: Path) -> None:
        empty = tmp_path / "empty.yaml"
        empty.write_text("", encoding="utf-8")
        assert_error(invoke(["guide", "check", str(empty)], passphrase=None), "empty", one_line=False)


class TestGuideImport:
    def test_import_is_idempotent(self, fresh: Fs) -> None:
        fresh.ok("init")
        first = fresh.ok("guide", "import", str(STUDY_EN)).stdout
        second = fresh.ok("guide", "import", str(STUDY_EN)).stdout
        version = hashlib.sha256(STUDY_EN.read_bytes()).hexdigest()[:12]
        assert first.startswith("Imported: ") and version in first
        assert second.startswith("Already imported: ") and version in second
        assert len(fresh.ok("guide", "list").stdout.strip().splitlines()) == 1

    def test_second_language_becomes_current(self, fs: Fs) -> None:
        assert fs.ok("guide", "import", str(STUDY_ZH)).stdout.startswith("Imported: ")
        lines = fs.ok("guide", "list").stdout.strip().splitlines()
        assert [line.split()[1] for line in lines] == ["en", "zh"]
        assert fs.enrol() == "P1"
        show = fs.ok("participant", "show", "P1").stdout
        assert "Harbour View Day Centre" in show

    def test_import_of_invalid_file_stores_nothing(self, fs: Fs, tmp_path: Path) -> None:
        bad = tmp_path / "study.yaml"
        bad.write_text(MALFORMED, encoding="utf-8")
        assert_error(fs("guide", "import", str(bad)), "4 problems", one_line=False)
        assert len(fs.ok("guide", "list").stdout.strip().splitlines()) == 1

    def test_commands_needing_a_guide_say_how_to_import_one(self, fresh: Fs) -> None:
        fresh.ok("init")
        assert_error(fresh("participant", "add", "--group", "service_user", "--eligible"), "fieldscribe guide import")


# --------------------------------------------------------------------------------------------
# participant add / list / show
# --------------------------------------------------------------------------------------------


class TestParticipantAdd:
    def test_prints_exactly_the_new_pseudonym(self, fs: Fs) -> None:
        first = fs.ok(
            "participant",
            "add",
            "--name",
            "Alice Wong",
            "--site",
            "Harbour View Day Centre",
            "--group",
            "service_user",
            "--eligible",
        )
        assert first.stdout == "P1\n"
        assert first.stderr == ""
        second = fs.ok(
            "participant",
            "add",
            "--name",
            "Bob Chan",
            "--site",
            "Riverside Day Centre",
            "--group",
            "carer",
            "--eligible",
        )
        assert second.stdout == "P2\n"
        assert fs.participant_ids() == ["P1", "P2"]

    def test_unscreened_enrolment_warns_on_stderr_only(self, fs: Fs) -> None:
        result = fs.ok("participant", "add", "--name", "Alice Wong", "--group", "service_user")
        assert result.stdout == "P1\n"
        assert "not screened" in result.stderr
        assert "Eligibility: not screened" in fs.ok("participant", "show", "P1").stdout

    def test_criteria_all_fine_enrols(self, fs: Fs) -> None:
        args = [f"--criterion={c}=yes" for c in INCLUSION] + [f"--criterion={c}=no" for c in EXCLUSION]
        result = fs.ok("participant", "add", "--group", "staff", *args)
        assert result.stdout == "P1\n"
        assert "Eligibility: screened, eligible" in fs.ok("participant", "show", "P1").stdout

    def test_exclusion_criterion_refuses_and_stores_nothing(self, fs: Fs) -> None:
        args = [f"--criterion={c}=yes" for c in INCLUSION]
        args += ["--criterion=severe_physical_disability=no", "--criterion=acute_or_at_risk=yes"]
        result = fs("participant", "add", "--name", "Carol Lee", "--group", "service_user", *args)
        assert_error(
            result, "Not enrolled", "exclusion criterion applies", "acute psychiatric symptoms", "Nothing was stored"
        )
        assert result.stdout == ""
        assert fs.participant_ids() == []
        assert "No participants yet" in fs.ok("participant", "list").stdout
        assert fs.enrol() == "P1"

    def test_unmet_inclusion_criterion_refuses(self, fs: Fs) -> None:
        args = [f"--criterion={c}=yes" for c in INCLUSION[:-1]] + ["--criterion=able_to_consent=no"]
        args += [f"--criterion={c}=no" for c in EXCLUSION]
        assert_error(
            fs("participant", "add", "--group", "service_user", *args),
            "inclusion criterion not met",
            "informed consent",
        )
        assert fs.participant_ids() == []

    def test_unanswered_criterion_refuses(self, fs: Fs) -> None:
        assert_error(
            fs("participant", "add", "--group", "service_user", "--criterion", "age_18_65=yes"), "not answered"
        )
        assert fs.participant_ids() == []

    def test_unknown_criterion_refuses(self, fs: Fs) -> None:
        assert_error(fs("participant", "add", "--group", "service_user", "--criterion", "likes_cats=yes"), "likes_cats")
        assert fs.participant_ids() == []

    @pytest.mark.parametrize(
        ("answer", "fragments"),
        [
            ("age=99", ("Age", "99", "outside the allowed range 18 to 65")),
            ("age=forty", ("Age", "not a number")),
            ("age=34.5", ("Age", "whole number")),
            ("gender=robot", ("Gender", "'robot'", "not one of the choices")),
            ("shoe_size=42", ("shoe_size", "no field")),
            ("age", ("KEY=VALUE",)),
        ],
    )
    def test_bad_answer_is_one_clear_line_and_stores_nothing(
        self, fs: Fs, answer: str, fragments: tuple[str, ...]
    ) -> None:
        result = fs("participant", "add", "--name", "Dan", "--group", "service_user", "--eligible", "--answer", answer)
        assert_error(result, *fragments)
        assert result.stdout == ""
        assert fs.participant_ids() == []
        assert fs.enrol() == "P1"

    def test_unknown_group(self, fs: Fs) -> None:
        assert_error(
            fs("participant", "add", "--name", "Eve", "--group", "volunteer", "--eligible"),
            "Unknown group 'volunteer'",
            "service_user",
        )
        assert fs.participant_ids() == []

    def test_eligible_and_criterion_together_rejected(self, fs: Fs) -> None:
        result = fs("participant", "add", "--group", "service_user", "--eligible", "--criterion", "age_18_65=yes")
        assert result.exit_code != 0
        assert_no_crash(result)
        assert "either --eligible or --criterion" in result.stderr
        assert fs.participant_ids() == []


class TestParticipantListShow:
    def test_show_reveals_name_site_and_answers(self, fs: Fs) -> None:
        fs.enrol(
            "Alice Wong",
            "--answer",
            "age=34",
            "--answer",
            "gender=Female",
            "--answer",
            "living_arrangement=with_family",
            "--compensation",
            "HK$100 supermarket voucher",
        )
        out = fs.ok("participant", "show", "p1").stdout
        assert out.startswith("P1  group service_user  enrolled")
        assert "Name: Alice Wong" in out
        assert "Site: Harbour View Day Centre" in out
        assert "Eligibility: screened, eligible" in out
        assert "  Age: 34 years" in out
        assert "  Gender: Female" in out
        assert "  Living arrangement: Lives with family" in out
        assert "  Marital status: —" in out
        assert "Compensation: HK$100 supermarket voucher" in out
        for item in ALL_CONSENT_ITEMS:
            assert f"  {item}: —" in out

    def test_show_unknown_pseudonym(self, fs: Fs) -> None:
        assert_error(fs("participant", "show", "P7"), "no participant P7")
        assert_error(fs("participant", "show", "Alice"), "not a pseudonym")

    def test_list_shows_consent_state(self, fs: Fs) -> None:
        fs.enrol("Alice Wong")
        fs.enrol("Bob Chan", group="carer")
        fs.ok("consent", "P1", "--all")
        lines = fs.ok("participant", "list").stdout.strip().splitlines()
        assert lines[0].split() == ["ID", "GROUP", "SITE", "STATUS", "CONSENT"]
        rows = {line.split()[0]: line for line in lines[1:]}
        assert set(rows) == {"P1", "P2"}
        assert rows["P1"].split()[-1] == "complete" and "service_user" in rows["P1"]
        assert rows["P2"].split()[-1] == "incomplete" and "carer" in rows["P2"]
        assert "Harbour View Day Centre" in rows["P1"]
        # the real names are never in the list
        assert "Alice" not in "\n".join(lines)

    def test_list_empty(self, fs: Fs) -> None:
        assert "No participants yet" in fs.ok("participant", "list").stdout


# --------------------------------------------------------------------------------------------
# consent and the recording gate
# --------------------------------------------------------------------------------------------


class TestConsent:
    def test_all_items(self, fs: Fs) -> None:
        fs.enrol()
        result = fs.ok("consent", "P1", "--all", "--taken-by", "interviewer-a")
        assert result.stdout.strip() == f"P1: given {', '.join(ALL_CONSENT_ITEMS)}"
        assert result.stderr == ""
        show = fs.ok("participant", "show", "P1").stdout
        for item in ALL_CONSENT_ITEMS:
            assert f"  {item}: given (interviewer-a, " in show

    def test_refused_audio_item_is_recorded_and_flagged_incomplete(self, fs: Fs) -> None:
        fs.enrol()
        result = fs.ok("consent", "P1", "--item", "participation=yes", "--item", "audio_recording=no")
        assert result.stdout.strip() == "P1: given participation; refused audio_recording"
        assert "incomplete" in result.stderr
        show = fs.ok("participant", "show", "P1").stdout
        assert "  audio_recording: REFUSED" in show
        assert "  quotes: —" in show

    def test_audio_refused_blocks_recording_in_core(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok(
            "consent",
            "P1",
            "--item",
            "participation=yes",
            "--item",
            "quotes=yes",
            "--item",
            "withdrawal=yes",
            "--item",
            "audio_recording=no",
        )
        assert fs.ok("session", "create", "--participant", "P1").stdout == "S1\n"
        with fs.open() as vault:
            with pytest.raises(ConsentMissing, match="P1"):
                start_recording(vault, "S1")
            assert get_session(vault, "S1").status == "planned"

    def test_audio_given_allows_recording(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("consent", "P1", "--all")
        fs.ok("session", "create", "--participant", "P1")
        with fs.open() as vault:
            assert start_recording(vault, "S1").status == RECORDING

    def test_revoked_audio_consent_blocks_recording(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("consent", "P1", "--all")
        fs.ok("consent", "P1", "--item", "audio_recording=no")
        fs.ok("session", "create", "--participant", "P1")
        with fs.open() as vault, pytest.raises(ConsentMissing):
            start_recording(vault, "S1")

    def test_focus_group_needs_audio_consent_from_everyone(self, fs: Fs) -> None:
        fs.enrol("Alice Wong")
        fs.enrol("Bob Chan")
        fs.ok("consent", "P1", "--all")
        fs.ok("consent", "P2", "--item", "participation=yes")
        fs.ok("session", "create", "--participant", "P1", "--participant", "P2")
        with fs.open() as vault, pytest.raises(ConsentMissing, match="P2"):
            start_recording(vault, "S1")

    def test_interactive_consent(self, fs: Fs) -> None:
        fs.enrol()
        result = fs.ok("consent", "P1", input="y\ny\ny\ny\n")
        assert "Consent for P1" in result.stdout
        assert result.stdout.count("Given?") == 4
        assert f"P1: given {', '.join(ALL_CONSENT_ITEMS)}" in result.stdout
        lines = fs.ok("participant", "list").stdout.strip().splitlines()
        assert lines[1].split()[-1] == "complete"

    def test_interactive_consent_with_a_refusal(self, fs: Fs) -> None:
        fs.enrol()
        result = fs.ok("consent", "P1", input="y\nn\ny\ny\n")
        assert "refused audio_recording" in result.stdout
        assert "incomplete" in result.stderr
        assert "  audio_recording: REFUSED" in fs.ok("participant", "show", "P1").stdout

    def test_unknown_item(self, fs: Fs) -> None:
        fs.enrol()
        assert_error(fs("consent", "P1", "--item", "photos=yes"), "Unknown consent item photos")
        assert "  participation: —" in fs.ok("participant", "show", "P1").stdout

    def test_item_value_not_yes_or_no(self, fs: Fs) -> None:
        fs.enrol()
        assert_error(fs("consent", "P1", "--item", "quotes=perhaps"), "'perhaps'", "yes or no")

    def test_unknown_participant(self, fs: Fs) -> None:
        assert_error(fs("consent", "P3", "--all"), "no participant P3")


# --------------------------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------------------------


class TestSessions:
    def test_create_prints_session_id(self, fs: Fs) -> None:
        fs.enrol()
        result = fs.ok("session", "create", "--participant", "P1")
        assert result.stdout == "S1\n"
        assert fs.ok("session", "create", "--participant", "P1", "--wave", "2").stdout == "S2\n"
        lines = fs.ok("session", "list").stdout.strip().splitlines()
        assert lines[0].split() == ["ID", "KIND", "WAVE", "PARTICIPANTS", "GUIDE", "STATUS"]
        assert lines[1].split()[:4] == ["S1", "interview", "1", "P1"]
        assert lines[2].split()[:4] == ["S2", "interview", "2", "P1"]
        version = hashlib.sha256(STUDY_EN.read_bytes()).hexdigest()[:12]
        assert lines[1].split()[4:] == [version, "planned"]

    def test_two_participants_make_a_focus_group(self, fs: Fs) -> None:
        fs.enrol("Alice Wong")
        fs.enrol("Bob Chan", group="staff")
        assert fs.ok("session", "create", "--participant", "P1", "--participant", "P2").stdout == "S1\n"
        row = fs.ok("session", "list").stdout.strip().splitlines()[1].split()
        assert row[:4] == ["S1", "focus_group", "1", "P1,P2"]

    def test_no_sessions_yet(self, fs: Fs) -> None:
        assert "No sessions yet" in fs.ok("session", "list").stdout

    def test_unknown_pseudonym(self, fs: Fs) -> None:
        fs.enrol()
        assert_error(fs("session", "create", "--participant", "P1", "--participant", "P9"), "no participant P9")
        assert "No sessions yet" in fs.ok("session", "list").stdout

    def test_same_participant_twice(self, fs: Fs) -> None:
        fs.enrol()
        assert_error(fs("session", "create", "--participant", "P1", "--participant", "p1"), "twice")

    def test_interview_with_several_participants_refused(self, fs: Fs) -> None:
        fs.enrol("Alice Wong")
        fs.enrol("Bob Chan")
        assert_error(
            fs("session", "create", "--participant", "P1", "--participant", "P2", "--kind", "interview"), "focus group"
        )

    def test_withdrawn_pseudonym_refused(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("withdraw", "P1", "--confirm", "P1")
        assert_error(fs("session", "create", "--participant", "P1"), "P1 has withdrawn")
        assert "No sessions yet" in fs.ok("session", "list").stdout


# --------------------------------------------------------------------------------------------
# withdrawal
# --------------------------------------------------------------------------------------------


class TestWithdraw:
    def _assert_still_enrolled(self, fs: Fs) -> None:
        show = fs.ok("participant", "show", "P1").stdout
        assert "enrolled" in show.splitlines()[0] and "withdrawn" not in show
        assert "Name: Alice Wong" in show
        assert "  participation: given" in show

    def test_wrong_confirmation_option_changes_nothing(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("consent", "P1", "--all")
        assert_error(fs("withdraw", "P1", "--confirm", "P2"), "did not match 'P1'", "nothing was changed")
        self._assert_still_enrolled(fs)

    def test_wrong_typed_confirmation_changes_nothing(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("consent", "P1", "--all")
        result = fs("withdraw", "P1", input="yes\n")
        assert "Type P1 to confirm" in result.stdout
        assert_error(result, "did not match 'P1'")
        self._assert_still_enrolled(fs)

    def test_typed_confirmation_withdraws(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("session", "create", "--participant", "P1")
        result = fs.ok("withdraw", "P1", input="P1\n")
        assert "destroys their data key" in result.stdout
        assert "P1 withdrawn; sessions destroyed with them: S1." in result.stdout
        assert "will not be reused" in result.stdout
        show = fs.ok("participant", "show", "P1").stdout
        assert "withdrawn" in show.splitlines()[0]
        assert "data was destroyed" in show
        assert "Alice" not in show and "Harbour View" not in show
        assert fs.ok("session", "list").stdout.strip().splitlines()[1].split()[-1] == "withdrawn"

    def test_confirm_option_withdraws_and_pseudonym_never_reused(self, fs: Fs) -> None:
        fs.enrol("Alice Wong")
        result = fs.ok("withdraw", "P1", "--confirm", "P1")
        assert result.stdout.strip() == "P1 withdrawn. The pseudonym will not be reused."
        assert "withdrawn" in fs.ok("participant", "show", "P1").stdout.splitlines()[0]
        assert fs.enrol("Bob Chan") == "P2"
        rows = fs.ok("participant", "list").stdout.strip().splitlines()[1:]
        assert [r.split()[0] for r in rows] == ["P1", "P2"]
        assert rows[0].split()[-2:] == ["withdrawn", "—"]

    def test_last_participant_withdrawn_still_not_reused(self, fs: Fs) -> None:
        fs.enrol("Alice Wong")
        fs.enrol("Bob Chan")
        fs.ok("withdraw", "P2", "--confirm", "P2")
        assert fs.enrol("Carol Lee") == "P3"

    def test_consent_after_withdrawal_is_a_clear_error(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("withdraw", "P1", "--confirm", "p1")
        assert_error(fs("consent", "P1", "--all"), "P1 has withdrawn", "cannot be used again")

    def test_withdrawing_twice_is_a_clear_error(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("withdraw", "P1", "--confirm", "P1")
        assert_error(fs("withdraw", "P1", "--confirm", "P1"), "P1 has withdrawn")

    def test_unknown_participant(self, fs: Fs) -> None:
        assert_error(fs("withdraw", "P4", "--confirm", "P4"), "no participant P4")


# --------------------------------------------------------------------------------------------
# passphrases
# --------------------------------------------------------------------------------------------


class TestPassphrase:
    def test_wrong_passphrase(self, fs: Fs) -> None:
        fs.enrol()
        result = fs("participant", "show", "P1", passphrase="wrong horse")
        assert_error(result, "Wrong passphrase", "--recovery-key")
        assert result.stdout == ""
        assert "Alice" not in result.output

    def test_failed_unlock_is_audited_and_chain_stays_intact(self, fs: Fs) -> None:
        assert_error(fs("participant", "list", passphrase="wrong horse"), "Wrong passphrase")
        assert "vault.unlock_failed" in fs.ok("audit", "show").stdout
        assert fs.ok("audit", "verify").stdout.startswith("Audit log intact")

    def test_no_passphrase_and_no_stdin(self, fs: Fs) -> None:
        assert_error(fs("participant", "list", passphrase=None), "No passphrase given", "FIELDSCRIBE_PASSPHRASE")

    def test_passphrase_from_prompt(self, fs: Fs) -> None:
        fs.enrol()
        result = fs("participant", "show", "P1", passphrase=None, input=PASSPHRASE + "\n")
        assert_ok(result)
        assert "Name: Alice Wong" in result.stdout

    def test_change_via_environment(self, fs: Fs) -> None:
        fs.enrol()
        assert (
            fs.ok("passphrase", "change", FIELDSCRIBE_NEW_PASSPHRASE=NEW_PASSPHRASE).stdout.strip()
            == "Passphrase changed."
        )
        assert_error(fs("participant", "list"), "Wrong passphrase")
        assert "Name: Alice Wong" in fs.ok("participant", "show", "P1", passphrase=NEW_PASSPHRASE).stdout

    def test_change_via_prompts(self, fs: Fs) -> None:
        fs.enrol()
        result = fs(
            "passphrase", "change", passphrase=None, input=f"{PASSPHRASE}\n{NEW_PASSPHRASE}\n{NEW_PASSPHRASE}\n"
        )
        assert_ok(result)
        assert "Passphrase changed." in result.stdout
        assert_error(fs("participant", "show", "P1"), "Wrong passphrase")
        assert "Name: Alice Wong" in fs.ok("participant", "show", "P1", passphrase=NEW_PASSPHRASE).stdout

    def test_change_with_wrong_current_passphrase_changes_nothing(self, fs: Fs) -> None:
        assert_error(
            fs("passphrase", "change", passphrase="wrong horse", FIELDSCRIBE_NEW_PASSPHRASE=NEW_PASSPHRASE),
            "Wrong passphrase",
        )
        fs.ok("participant", "list")
        assert_error(fs("participant", "list", passphrase=NEW_PASSPHRASE), "Wrong passphrase")

    def test_empty_new_passphrase_refused(self, fs: Fs) -> None:
        assert_error(fs("passphrase", "change", FIELDSCRIBE_NEW_PASSPHRASE=""), "empty", "nothing was changed")
        fs.ok("participant", "list")

    def test_reset_with_recovery_key_printed_at_init(self, fresh: Fs) -> None:
        key = recovery_key_from(fresh.ok("init", "--guide", str(STUDY_EN)).stdout)
        fresh.enrol()
        result = fresh(
            "passphrase",
            "change",
            "--recovery-key",
            passphrase="forgotten it",
            FIELDSCRIBE_RECOVERY_KEY=key,
            FIELDSCRIBE_NEW_PASSPHRASE=NEW_PASSPHRASE,
        )
        assert_ok(result)
        assert "Passphrase changed." in result.stdout
        assert_error(fresh("participant", "list"), "Wrong passphrase")
        assert "Name: Alice Wong" in fresh.ok("participant", "show", "P1", passphrase=NEW_PASSPHRASE).stdout

    def test_recovery_key_as_typed_from_paper(self, fs: Fs) -> None:
        typed = fs.recovery_key.replace("-", " ").lower()
        fs.ok(
            "passphrase",
            "change",
            "--recovery-key",
            FIELDSCRIBE_RECOVERY_KEY=typed,
            FIELDSCRIBE_NEW_PASSPHRASE=NEW_PASSPHRASE,
        )
        fs.ok("participant", "list", passphrase=NEW_PASSPHRASE)

    @pytest.mark.parametrize("kind", ["other-vault", "garbage"])
    def test_wrong_recovery_key(self, fs: Fs, kind: str) -> None:
        key = crypto.format_recovery_key(crypto.new_recovery_key()) if kind == "other-vault" else "not a key"
        result = fs(
            "passphrase",
            "change",
            "--recovery-key",
            FIELDSCRIBE_RECOVERY_KEY=key,
            FIELDSCRIBE_NEW_PASSPHRASE=NEW_PASSPHRASE,
        )
        assert_error(result, "recovery key does not open this vault")
        fs.ok("participant", "list")
        assert_error(fs("participant", "list", passphrase=NEW_PASSPHRASE), "Wrong passphrase")


# --------------------------------------------------------------------------------------------
# audit
# --------------------------------------------------------------------------------------------


class TestAudit:
    def test_verify_fresh_vault(self, fresh: Fs) -> None:
        fresh.ok("init")
        result = fresh.ok("audit", "verify")
        assert re.fullmatch(r"Audit log intact: \d+ entries, anchored at entry \d+\.\n", result.stdout)
        assert result.stderr == ""

    def test_verify_after_normal_work(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("consent", "P1", "--all")
        fs.ok("session", "create", "--participant", "P1")
        fs.ok("withdraw", "P1", "--confirm", "P1")
        assert fs.ok("audit", "verify").stdout.startswith("Audit log intact")

    def test_log_names_pseudonyms_not_people(self, fs: Fs) -> None:
        fs.enrol("Alice Wong", "--answer", "age=34")
        out = fs.ok("audit", "show").stdout
        assert "participant.enrol" in out and "P1" in out
        assert "Alice" not in out and "Harbour" not in out

    def test_edited_entry_is_detected_and_named(self, fs: Fs) -> None:
        fs.enrol()
        fs.ok("consent", "P1", "--all")
        db = sqlite3.connect(fs.path / DB_NAME)
        try:
            seq, action = db.execute("SELECT seq, action FROM audit WHERE action = 'participant.enrol'").fetchone()
            db.execute("UPDATE audit SET details = ? WHERE seq = ?", ('{"group":"staff","screened":true}', seq))
            db.commit()
        finally:
            db.close()
        result = fs("audit", "verify")
        assert result.exit_code != 0
        assert_no_crash(result)
        assert f"entry {seq} ({action}) was edited" in result.stderr
        error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(error_lines) == 1 and "tampered" in error_lines[0]
        assert result.stdout == ""
        # the forgery is not blessed by unlocking the vault again
        assert fs("audit", "verify").exit_code != 0

    def test_deleted_entry_is_detected(self, fs: Fs) -> None:
        fs.enrol()
        fs.enrol("Bob Chan")
        db = sqlite3.connect(fs.path / DB_NAME)
        try:
            seq = db.execute("SELECT MIN(seq) FROM audit WHERE action = 'participant.enrol'").fetchone()[0]
            db.execute("DELETE FROM audit WHERE seq = ?", (seq,))
            db.commit()
        finally:
            db.close()
        result = fs("audit", "verify")
        assert result.exit_code != 0
        assert_no_crash(result)
        assert "missing" in result.stderr and "Error:" in result.stderr


# --------------------------------------------------------------------------------------------
# which vault, and who holds it
# --------------------------------------------------------------------------------------------


class TestVaultAccess:
    def test_vault_not_found(self, tmp_path: Path) -> None:
        missing = tmp_path / "nothing-here"
        assert_error(
            invoke(["--vault", str(missing), "participant", "list"]),
            "No fieldscribe vault at",
            str(missing),
            "fieldscribe init",
        )
        assert not missing.exists()

    def test_vault_from_environment(self, fs: Fs) -> None:
        fs.enrol()
        result = invoke(["participant", "list"], FIELDSCRIBE_VAULT=str(fs.path))
        assert_ok(result)
        assert "P1" in result.stdout

    def test_not_a_vault(self, tmp_path: Path) -> None:
        folder = tmp_path / "junk"
        folder.mkdir()
        (folder / DB_NAME).write_bytes(b"this is not sqlite" * 100)
        assert_error(invoke(["--vault", str(folder), "participant", "list"]), "not a readable fieldscribe vault")

    def test_vault_open_in_another_process(self, fs: Fs) -> None:
        holder = Vault.open(fs.path)
        try:
            result = fs("participant", "list")
            assert_error(result, "already open in another fieldscribe process", "close that one first")
            assert_error(fs("participant", "add", "--group", "service_user", "--eligible"), "already open")
        finally:
            holder.close()
        assert fs.participant_ids() == []
        assert fs.enrol() == "P1"

    def test_vault_option_before_nested_subcommand(self, fs: Fs) -> None:
        fs.enrol()
        assert "P1" in assert_ok(invoke(["--vault", str(fs.path), "participant", "list"])).stdout

    def test_vault_option_after_nested_subcommand(self, fs: Fs) -> None:
        fs.enrol()
        assert "P1" in assert_ok(invoke(["participant", "list", "--vault", str(fs.path)])).stdout

    def test_init_vault_option_after_command(self, tmp_path: Path) -> None:
        target = tmp_path / "field-laptop-vault"
        result = assert_ok(invoke(["init", "--vault", str(target)]))
        assert f"Created vault at {target}" in result.stdout
        assert (target / DB_NAME).is_file()
