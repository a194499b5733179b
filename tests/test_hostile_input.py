"""Hostile and absurd input (issue 12): study files that are bombs, absurd numbers on the
command line, edited key settings, colliding export names and plaintext file modes.

Each class of input gets one sentence saying what is wrong and what to do, never a
traceback, and never a hang: anything that could run away runs in a subprocess with a
timeout and a memory limit, so a regression fails instead of stalling the suite."""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from click.testing import CliRunner, Result

from fieldscribe.cli import cli
from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.crypto import KDF_BOUNDS, KdfParams
from fieldscribe.core.errors import (
    FieldscribeError,
    GuideInvalid,
    InvalidAnswer,
    InvalidInput,
    KeySettingsTampered,
)
from fieldscribe.core.study import load_study, parse_study
from fieldscribe.core.vault import Vault
from fieldscribe.core.yaml_source import MAX_BYTES, MAX_DEPTH, MAX_EVENTS

from .conftest import FAST_KDF, GUIDES, PASSPHRASE, STUDY_EN

# about 340 bytes (the file was 466): nine levels of nine aliases, 387 million "lol"s once expanded
BILLION_LAUGHS = (
    "\n".join(
        ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        + [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
    )
    + "\n"
)


def run_cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"FIELDSCRIBE_PASSPHRASE": PASSPHRASE, **(env or {})})


def one_error_line(result: Result) -> str:
    """The CLI's error contract: non-zero exit, no traceback, the sentence on one line."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def guide_check_in_child(path: Path) -> subprocess.CompletedProcess[str]:
    """`fieldscribe guide check PATH` in its own process, with 1 GiB of address space and
    60 s: a bomb that got through would die or time out here, not take the suite with it."""
    code = "import sys; from fieldscribe.cli import main; sys.argv = ['fieldscribe', 'guide', 'check', sys.argv[1]]; main()"
    return subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# study files
# --------------------------------------------------------------------------------------------


def test_a_billion_laughs_study_file_is_refused_at_its_first_anchor(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS, encoding="utf-8")
    assert len(BILLION_LAUGHS.encode()) < 500
    proc = guide_check_in_child(bomb)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert proc.stderr.startswith(f"Error: {bomb} has 1 problem")
    assert "line 1: YAML anchors and aliases (&name, *name) are not allowed" in proc.stderr
    # the same text reaching the parser another way (a guide stored in the vault) too
    with pytest.raises(GuideInvalid, match="anchors and aliases"):
        parse_study(BILLION_LAUGHS)


def test_an_alias_that_would_not_expand_is_refused_too():
    """Study files never need anchors; refusing them all is simpler than judging which are safe."""
    with pytest.raises(GuideInvalid) as err:
        parse_study(
            STUDY_EN.read_text(encoding="utf-8").replace(
                "format: fieldscribe-study/1", "format: &f fieldscribe-study/1\nagain: *f", 1
            )
        )
    assert len(err.value.problems) == 1
    assert err.value.problems[0].endswith(
        ": YAML anchors and aliases (&name, *name) are not allowed in study files; write the repeated value out in full"
    )


@pytest.mark.parametrize("opening", ["[", "{a: ", "- "])
def test_twenty_thousand_nested_brackets_are_refused_not_a_recursion_error(tmp_path, opening):
    deep = tmp_path / "deep.yaml"
    closing = {"[": "]", "{a: ": "}", "- ": ""}[opening]
    deep.write_text(opening * 20_000 + "x" + closing * 20_000 + "\n", encoding="utf-8")
    proc = guide_check_in_child(deep)
    assert proc.returncode == 1, proc.stderr
    assert "RecursionError" not in proc.stderr and "Traceback" not in proc.stderr
    assert f"line 1: the lists and mappings are nested more than {MAX_DEPTH} levels deep" in proc.stderr


def test_a_100_mb_study_file_is_refused_from_its_size_without_reading_it(tmp_path):
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: 100 MB by its size, nothing to read
    with pytest.raises(GuideInvalid) as err:
        load_study(big)
    expected = "the file is 104.9 MB, larger than the 1 MB a study file may be; check that this is the right file"
    assert err.value.problems == [expected]
    # text that arrives without a file (a guide stored in the vault) has the same cap
    with pytest.raises(GuideInvalid, match="larger than the 1 MB"):
        parse_study("# " + "x" * MAX_BYTES + "\n")


def test_too_many_values_are_refused(tmp_path):
    many = "format: fieldscribe-study/1\nitems: [" + "1," * (MAX_EVENTS + 10) + "1]\n"
    assert len(many) < MAX_BYTES
    with pytest.raises(GuideInvalid, match=f"more than {MAX_EVENTS:,} values"):
        parse_study(many)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_devices_pipes_and_folders_are_refused_before_reading(tmp_path, special):
    if special == "fifo":
        path = tmp_path / "pipe.yaml"
        os.mkfifo(path)  # nobody writes: a plain read would block for ever
    elif special == "folder":
        path = tmp_path / "folder.yaml"
        path.mkdir()
    else:
        path = Path(special)
    proc = guide_check_in_child(path)
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, proc.stderr
    assert "not a regular file" in proc.stderr or "is a directory" in proc.stderr
    with pytest.raises(GuideInvalid, match="not a regular file"):
        load_study(path)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: " + "9" * 5000, "the number is too long"),
        ("a: !!python/name:os.system x", "could not determine a constructor"),
        ("a: !!python/object/apply:os.system [echo]", "the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
        ("a: !!binary 'not base64!'", "base64"),
        ("a: 2020-13-45", "month must be in 1..12"),
        ("a: \x1b[2J", "control character U+001B"),
        ("? [a, b]\n: c", "a key must be a plain word"),
        ("a: 1\n---\nb: 2\n", "expected a single document"),
    ],
)
def test_values_yaml_cannot_build_are_problems_with_their_line(text, fragment):
    with pytest.raises(GuideInvalid) as err:
        parse_study(text)
    assert any(p.startswith("line ") and fragment in p for p in err.value.problems), err.value.problems


def test_the_bundled_study_files_are_far_inside_the_caps():
    for path in GUIDES.glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        events = list(yaml.parse(text, Loader=yaml.SafeLoader))
        depth = deepest = 0
        for e in events:
            depth += isinstance(e, yaml.CollectionStartEvent) - isinstance(e, yaml.CollectionEndEvent)
            deepest = max(deepest, depth)
        assert len(text.encode()) * 20 < MAX_BYTES and len(events) * 20 < MAX_EVENTS and deepest * 4 < MAX_DEPTH
        load_study(path)


def test_guide_import_and_init_refuse_a_bomb_and_create_nothing(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BILLION_LAUGHS, encoding="utf-8")
    vault = tmp_path / "vault"
    assert "anchors and aliases" in run_cli("--vault", str(vault), "init", "--guide", str(bomb)).stderr
    assert not vault.exists()
    v, _ = Vault.create(vault, PASSPHRASE, kdf=FAST_KDF)
    v.close()
    result = run_cli("--vault", str(vault), "guide", "import", str(bomb))
    assert result.exit_code == 1 and "anchors and aliases" in result.stderr
    listing = run_cli("--vault", str(vault), "guide", "list")
    assert listing.exit_code == 0 and listing.stdout == ""


# --------------------------------------------------------------------------------------------
# absurd numbers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1e309", "nan", "NaN", "inf", "-inf", "Infinity", "9" * 400])
def test_numeric_answers_that_are_not_finite_are_refused(study_en, raw):
    with pytest.raises(InvalidAnswer, match="is not a finite number; enter digits only"):
        study_en.study.parse_answer("age", raw)


@pytest.fixture
def cli_vault(tmp_path: Path) -> Path:
    path = tmp_path / "vault"
    vault, _ = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
    with vault:
        from fieldscribe.core.guides import import_guide

        import_guide(vault, load_study(STUDY_EN))
    return path


@pytest.mark.parametrize("value", ["1e309", "nan", "inf", "-inf"])
def test_participant_add_with_an_absurd_age_is_one_sentence(cli_vault, value):
    line = one_error_line(
        run_cli("--vault", str(cli_vault), "participant", "add", "--group", "service_user", "--answer", f"age={value}")
    )
    assert line == f"Error: Age: {value!r} is not a finite number; enter digits only."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["session", "create", "--participant", "P1", "--wave", "99999999999999999999"],
            "Invalid value for '--wave': 99999999999999999999 is not in the range 1<=x<=999.",
        ),
        (
            ["session", "create", "--participant", "P1", "--wave", "0"],
            "Invalid value for '--wave': 0 is not in the range",
        ),
        (
            ["session", "create", "--participant", "P1", "--wave", "-3"],
            "Invalid value for '--wave': -3 is not in the range",
        ),
        (["audit", "show", "--last", "0"], "Invalid value for '--last': 0 is not in the range"),
        (["record", "S1", "--seconds", "nan"], "Invalid value for '--seconds': 'nan' is not a finite number."),
        (["record", "S1", "--seconds", "inf"], "Invalid value for '--seconds': 'inf' is not a finite number."),
        (["record", "S1", "--seconds", "-1"], "Invalid value for '--seconds': -1.0 is not in the range 0<x<=86400."),
        (["record", "S1", "--rate", "99999999999999999999"], "Invalid value for '--rate'"),
        (["record", "S1", "--channels", "0"], "Invalid value for '--channels'"),
        (["audio", "import", "S1", "x.wav", "--channels", "3"], "Invalid value for '--channels'"),
        (["play", "S1", "--from", "nan"], "'nan' is not a time; use seconds, mm:ss or hh:mm:ss."),
        (["play", "S1", "--to", "1e308:1e308"], "'1e308:1e308' is not a time"),
        (["transcript", "show", "S1", "--version", "99999999999999999999"], "Invalid value for '--version'"),
        (["redact", "S1", "--accept", "-1"], "Invalid value for '--accept'"),
        (["redact", "S1", "--edit", "²=x"], "--edit '²=x' should look like N=DESCRIPTOR"),
    ],
)
def test_absurd_numbers_are_refused_before_anything_runs(cli_vault, args, message):
    line = one_error_line(run_cli("--vault", str(cli_vault), *args))
    assert message in line, line


def test_special_paths_are_one_sentence(cli_vault, tmp_path):
    assert "is a file, not a folder" in one_error_line(run_cli("--vault", "/dev/zero", "status"))
    assert "cannot be used (File name too long)" in one_error_line(run_cli("--vault", "x" * 300, "status"))
    line = one_error_line(run_cli("--vault", "/proc/self/x", "init"))
    assert line.startswith("Error: A vault cannot be created at /proc/self/x (")
    assert "cannot be used (File name too long)" in one_error_line(
        run_cli("--vault", str(cli_vault), "bundle", "keygen", "--out", str(tmp_path / ("k" * 300)))
    )
    assert "the path is empty" in one_error_line(run_cli("bundle", "keygen", "--out", ""))
    assert "is not UTF-8 text" in one_error_line(
        run_cli("--vault", str(cli_vault), "participant", "add", "--group", "service_user", "--name", "Bo \udce9")
    )
    assert "is not UTF-8 text" in one_error_line(
        run_cli("--vault", str(cli_vault), "status", env={"FIELDSCRIBE_PASSPHRASE": "caf\udce9"})
    )
    line = one_error_line(run_cli("--vault", str(cli_vault), "guide", "check", "\x1b[2J"))
    assert "\x1b" not in line and "\\x1b[2J" in line


def test_bundle_keygen_into_proc_is_one_sentence(tmp_path):
    line = one_error_line(run_cli("bundle", "keygen", "--out", "/proc/self/x"))
    assert "/proc/self/x" in line


def test_model_names_cannot_leave_the_models_folder(tmp_path, monkeypatch):
    from fieldscribe.core.transcription.models import REQUIRED_FILES

    source = tmp_path / "model"
    source.mkdir()
    for f in REQUIRED_FILES:
        (source / f).write_text("{}")
    monkeypatch.setenv("FIELDSCRIBE_MODELS_DIR", str(tmp_path / "models"))
    for name in ("../escape", ".hidden", "a" * 300, "\x1b[2J"):
        line = one_error_line(run_cli("models", "add", str(source), "--name", name))
        assert "cannot be used as a model name" in line
    assert not (tmp_path / "escape").exists()


# --------------------------------------------------------------------------------------------
# key settings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"memory_kib": 2**40, "iterations": 3, "lanes": 4},
        {"memory_kib": 1024, "iterations": 3, "lanes": 4},
        {"memory_kib": 65536, "iterations": 10**9, "lanes": 4},
        {"memory_kib": 65536, "iterations": 0, "lanes": 4},
        {"memory_kib": 65536, "iterations": 3, "lanes": 65},
        {"memory_kib": 65536, "iterations": 3.0, "lanes": 4},
        {"memory_kib": 65536, "iterations": "3", "lanes": 4},
        {"memory_kib": 65536, "iterations": True, "lanes": 4},
        {"memory_kib": 65536, "iterations": 3},
        {"memory_kib": 65536, "iterations": 3, "lanes": 4, "extra": 1},
        [65536, 3, 4],
        None,
    ],
)
def test_key_settings_out_of_bounds_or_of_the_wrong_type_are_tampering(params):
    with pytest.raises(KeySettingsTampered) as err:
        KdfParams.from_dict(params)
    assert isinstance(err.value, FieldscribeError)
    assert str(err.value).startswith("The vault's key settings were edited and look tampered with (")
    with pytest.raises(KeySettingsTampered):
        KdfParams.from_json(json.dumps(params))


@pytest.mark.parametrize(
    "text",
    ["{", "[" * 100_000, "NaN", '{"memory_kib": 1e999, "iterations": 1, "lanes": 1}', b"\xff\xfe", 42, "x" * 5000],
)
def test_key_settings_that_are_not_json_are_tampering(text):
    with pytest.raises(KeySettingsTampered):
        KdfParams.from_json(text)


def test_the_bounds_hold_the_defaults_and_the_test_settings():
    for params in (KdfParams(), FAST_KDF):
        assert KdfParams.from_dict(params.to_dict()) == params
        assert KdfParams.from_json(json.dumps(params.to_dict())) == params
    assert KDF_BOUNDS["memory_kib"] == (8 * 1024, 1024 * 1024)


@pytest.mark.parametrize(
    "params",
    [
        '{"memory_kib": 1099511627776, "iterations": 3, "lanes": 4}',
        '{"memory_kib": 65536, "iterations": 100000000, "lanes": 4}',
        "not json",
    ],
)
def test_a_vault_with_edited_key_settings_is_refused_in_one_sentence(cli_vault, params):
    """Huge memory would exhaust the laptop, huge iterations would hang unlock: refused first."""
    with Vault.open(cli_vault) as v:
        v.db.execute("UPDATE keyring SET params = ? WHERE name = 'passphrase'", (params,))
    line = one_error_line(run_cli("--vault", str(cli_vault), "status"))
    assert "key settings were edited" in line or "tampered" in line


# --------------------------------------------------------------------------------------------
# exports never overwrite
# --------------------------------------------------------------------------------------------


@pytest.fixture
def team(tmp_path):
    from fieldscribe.core.export.keys import keygen

    return keygen(tmp_path / "keys" / "team.key")


@pytest.fixture
def reviewed(vault, study_en):
    """A transcribed session whose identifiers were all accepted and that was marked reviewed."""
    from fieldscribe.core.deid.review import decide, mark_reviewed

    from .test_deidentify import EN_TRANSCRIPT, transcript_session

    pid, sid = transcript_session(vault, study_en.study, "Ann Lee", EN_TRANSCRIPT)
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    return pid, sid


class _FrozenClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_two_exports_in_the_same_second_make_two_bundles_both_in_the_outbox(
    vault, reviewed, team, tmp_path, monkeypatch
):
    from fieldscribe.core.export import exporter
    from fieldscribe.core.export.bundle import open_bundle
    from fieldscribe.core.export.outbox import list_exports

    monkeypatch.setattr(exporter, "datetime", _FrozenClock)
    _pid, sid = reviewed
    key, recipient = team
    out = tmp_path / "out"
    first = exporter.export_sessions(vault, [sid], out, [recipient])
    first_bytes = first.read_bytes()
    second = exporter.export_sessions(vault, [sid], out, [recipient])
    assert first != second and first.name.endswith("-20260102T030405Z.fsbundle.age")
    assert second.name.endswith("-20260102T030405Z-2.fsbundle.age")
    assert first.read_bytes() == first_bytes  # the first bundle is untouched
    exports = {e.name: e for e in list_exports(vault)}
    assert set(exports) == {first.name, second.name}
    for e in exports.values():
        assert e.path.is_file() and e.path.stat().st_size == e.size and e.sessions == (sid,)
        assert open_bundle(e.path, key).manifest["sessions"][0]["id"] == sid
    # a file already there by that name (put there by hand) is not replaced either
    third_name = first.name.replace("Z.fsbundle", "Z-3.fsbundle")
    (out / third_name).write_bytes(b"someone else's file")
    third = exporter.export_sessions(vault, [sid], out, [recipient])
    assert third.name.endswith("Z-4.fsbundle.age") and (out / third_name).read_bytes() == b"someone else's file"
    assert not list(out.glob("*.partial"))


def test_an_export_folder_that_cannot_be_made_is_refused_before_the_work(vault, reviewed, team):
    from fieldscribe.core.export.exporter import export_sessions

    _pid, sid = reviewed
    _key, recipient = team
    with pytest.raises(InvalidInput, match=r"The bundle cannot be written in /proc/self/x \("):
        export_sessions(vault, [sid], Path("/proc/self/x"), [recipient])
    with pytest.raises(InvalidInput, match="is a file; --to needs a folder"):
        export_sessions(vault, [sid], Path("/dev/zero"), [recipient])


# --------------------------------------------------------------------------------------------
# plaintext written on purpose is private
# --------------------------------------------------------------------------------------------


@pytest.fixture
def audio_vault(tmp_path, study_en):
    path = tmp_path / "vault"
    vault, _ = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
    with vault:
        from fieldscribe.core.guides import import_guide

        import_guide(vault, study_en)
        pid = participants.enrol(vault, study_en.study, group="service_user")
        consent.record_consent(vault, study_en.study, pid, {c.id: True for c in study_en.study.consent})
        sid = sessions.create_session(vault, [pid])
        wav = tmp_path / "in.wav"
        sf.write(wav, (np.sin(np.arange(16000) / 7) * 9000).astype(np.int16), 16000, subtype="PCM_16")
        import_file(vault, sid, wav)
    return path, sid


def test_audio_export_is_readable_by_its_owner_only(audio_vault, tmp_path):
    path, sid = audio_vault
    old = os.umask(0o022)  # the usual umask, which would make a plain open() 0644
    try:
        out = tmp_path / "new" / "deeper" / "interview.wav"
        result = run_cli("--vault", str(path), "audio", "export", sid, str(out), "--yes")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.parent.parent.stat().st_mode) == 0o700
    data, rate = sf.read(out, dtype="int16")
    assert rate == 16000 and len(data) == 16000


def test_audio_export_never_replaces_a_file_and_refuses_unwritable_places(audio_vault, tmp_path):
    from fieldscribe.core.audio.store import export_wav

    path, sid = audio_vault
    existing = tmp_path / "taken.wav"
    existing.write_bytes(b"keep me")
    with Vault.open(path) as vault:
        vault.unlock(PASSPHRASE)
        with pytest.raises(InvalidInput, match="already exists"):
            export_wav(vault, sid, existing)  # the CLI checks first; the core holds even if raced
        assert existing.read_bytes() == b"keep me"
        with pytest.raises(InvalidInput, match=r"The audio cannot be written to /proc/self/x \("):
            export_wav(vault, sid, Path("/proc/self/x"))
    line = one_error_line(run_cli("--vault", str(path), "audio", "export", sid, "/proc/self/x", "--yes"))
    assert line.startswith("Error: The audio cannot be written to /proc/self/x")
