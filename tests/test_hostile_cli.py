"""Every CLI command, driven with hostile and absurd values: never a traceback, always one sentence.

The commands are enumerated from the click tree, so a new command or option is covered the
day it is added. Each invocation puts ONE hostile value into ONE parameter, with plausible
values everywhere else (an enrolled P1, a planned session S1, the bundled study file), so
that the hostile value is the thing that gets checked. Each runs against its own copy of a
real vault made with the cheap test KDF.

The contract (as for every CLI test, see tests/test_cli.py): the command may succeed or fail,
but it never ends in an exception other than SystemExit, never prints "Traceback", and a
failure says what is wrong in one line starting with "Error:" (click's usage errors add
their "Usage:/Try" lines before it; a study file's problem list follows it, indented). No
raw escape character from the input reaches that line: echoed values are quoted.

Commands that would reach a microphone, a Whisper model or the network are run with a
baseline that fails before any of those (a session without audio consent, no audio, a
store address that does not exist), so that only argument validation is exercised.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner, Result

from fieldscribe.cli import cli
from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import load_study
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE, STUDY_EN

ESC = "\x1b[2J\x1b]0;pwned\x07"
LONG = "A" * 100_000
WEIRD = "\udcff\u202eP1\ufeff名"  # a byte that is not UTF-8 (as argv decodes it), bidi override, BOM
HUGE = "99999999999999999999"

NUMBERS = [HUGE, "-" + HUGE, "0", "-1", "nan", "inf", "-inf", "1e309", "", "1.5", ESC]
TEXTS = ["", ESC, LONG, WEIRD, "-", "../../../etc/passwd"]
# {dir}/{missing} are filled in per run; "x" * 300 is longer than any file name may be
PATHS = ["/dev/zero", "/proc/self/x", "{dir}", "{missing}", "", ESC, "x" * 300, "{dir}/" + "y" * 300 + "/z", WEIRD]
PAIRS = (
    ["age=" + v for v in NUMBERS]
    + TEXTS
    + ["=", "x=", "=y", "age=" + LONG, "participation=" + ESC, ESC + "=yes", "1=" + ESC]
)
PASSPHRASES = ["", ESC, LONG, WEIRD]

# A baseline (valid-looking) value for every parameter that needs one, by command and name.
# "{…}" placeholders are filled with paths inside the test's temporary folder.
BASELINE: dict[str, dict[str, str | None]] = {
    "*": {
        "pseudonym": "P1",
        "session": "S1",
        "participants": "P1",
        "group": "service_user",
        "file": "{study}",
        "study_files": "{study}",
        "confirmation": "nope",
        "session_list": "S1",
        "out_dir": "{out}",
        "out": "{new}",
        "identity": "{identity}",
        "bundle_path": "{missing}",
        "store_url": "file://{missing}",
        "url": "file://{missing}",
        "path": "{tmp}",
        "name": None,
    },
    # S2's participant has not consented to audio: record stops before opening a microphone
    "record": {"session": "S2", "seconds": "0.1"},
    # no such microphone: the profile's recording stops before opening one
    "voice record": {"device": "no-such-microphone"},
    "audio import": {"file": "{wav}"},
    "models add": {"path": "{fake_model}"},
    "models download": {"name": "not-a-model"},
    "transcript review": {"done": True},
    "purge": {"received": True},
    # a time and a question, so that each hostile value meets the checks behind them
    "mark": {"at": "0:01", "question": "q1"},
    # a name and one of the study's sites: each hostile value meets the request's checks
    "team request": {"interviewer": "Ann Lee", "site": "harbour_view"},
    # the block, the team file and the identity are checked before the request is read
    "team approve": {"request_path": "{missing}", "team_path": "{new}"},
    "team join": {"team_file": "{missing}"},
}
# Parameters whose values are KEY=VALUE pairs or numbers typed as text.
PAIR_PARAMS = {"answers", "criteria", "items", "notes", "edits", "entries"}
TIME_PARAMS = {"start", "end"}
SKIP = {
    "devices": "lists the sound hardware; it takes no values to be hostile with",
}


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))
    else:
        yield " ".join(path), command


COMMANDS = dict(_walk(cli))


def _values_for(name: str, param: click.Parameter) -> list[str]:
    if param.name in PAIR_PARAMS:
        return PAIRS
    if param.name in TIME_PARAMS:
        return NUMBERS + [f"{HUGE}:{HUGE}", "1:2:3:4", "1e308:1e308", "-0:-5"]
    if isinstance(param.type, click.types.FuncParamType | click.types.StringParamType):
        return TEXTS
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
        return NUMBERS
    if isinstance(param.type, click.Path):
        return PATHS
    if isinstance(param.type, click.Choice):
        return ["", ESC, WEIRD]
    return TEXTS


def _count_cases() -> int:
    return sum(
        len(_values_for(name, param))
        for name, command in COMMANDS.items()
        if name not in SKIP
        for param in command.params
        if not getattr(param, "is_flag", False)
    )


def _pytest_params() -> list:
    return [
        pytest.param(
            name, id=name.replace(" ", "-"), marks=[pytest.mark.skip(reason=SKIP[name])] if name in SKIP else []
        )
        for name in COMMANDS
    ]


# --------------------------------------------------------------------------------------------
# the vault every command runs against (copied per invocation, since some values succeed)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile")
    study = load_study(STUDY_EN)
    vault_path = root / "vault"
    vault, _recovery = Vault.create(vault_path, PASSPHRASE, kdf=FAST_KDF)
    with vault:
        import_guide(vault, study)
        p1 = participants.enrol(
            vault,
            study.study,
            group="service_user",
            name="Alice Wong",
            eligibility=participants.all_eligible(study.study),
        )
        consent.record_consent(vault, study.study, p1, {c.id: True for c in study.study.consent})
        p2 = participants.enrol(
            vault, study.study, group="service_user", name="Bo Chan", eligibility=participants.all_eligible(study.study)
        )
        sessions.create_session(vault, [p1])  # S1: planned, nothing recorded
        sessions.create_session(vault, [p2])  # S2: no audio consent
    wav = root / "tone.wav"
    sf.write(wav, (np.sin(np.arange(1600) / 5) * 3000).astype(np.int16), 16000, subtype="PCM_16")
    fake_model = root / "fake-model"
    fake_model.mkdir()
    from fieldscribe.core.transcription.models import REQUIRED_FILES

    for f in REQUIRED_FILES:
        (fake_model / f).write_text("{}")
    from fieldscribe.core.export.keys import keygen

    identity, _recipient = keygen(root / "team.key")
    return {"root": root, "vault": vault_path, "wav": wav, "fake_model": fake_model, "identity": identity}


def _fill(template: str, places: dict[str, Path]) -> str:
    for key, value in places.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def _describe(args: list[str], result: Result) -> str:
    shown = [a if len(a) < 80 else a[:40] + f"…({len(a)} chars)" for a in args]
    tb = ""
    if result.exc_info and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(*result.exc_info))
    return (
        f"fieldscribe {shown!r}\nexit {result.exit_code}\nstdout:\n{result.stdout[:2000]}\n"
        f"stderr:\n{result.stderr[:2000]}\n{tb}"
    )


def check_contract(args: list[str], result: Result) -> None:
    """No traceback; a failure is one "Error:" line (plus click's usage lines, or a study
    file's indented problem list), with no raw escape character in it."""
    why = _describe(args, result)
    assert result.exception is None or isinstance(result.exception, SystemExit), why
    assert "Traceback" not in result.output, why
    if result.exit_code == 0:
        return
    lines = result.stderr.rstrip("\n").splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith("Error:") or line == "Aborted!"]
    assert len(errors) == 1, why
    first = errors[0]
    assert all(line.startswith(("Usage:", "Try ", "Note:")) or not line.strip() for line in lines[:first]), why
    assert all(line.startswith("  ") for line in lines[first + 1 :]), why
    assert "\x1b" not in "".join(lines[first:]), why


def _run(world: dict[str, Path], run_dir: Path, args: list[str], env: dict[str, str] | None = None) -> None:
    """One invocation against a fresh copy of the vault (some hostile values are valid text)."""
    shutil.copytree(world["vault"], run_dir / "vault")
    environment = {
        "FIELDSCRIBE_PASSPHRASE": PASSPHRASE,
        "FIELDSCRIBE_NEW_PASSPHRASE": "a new passphrase here",
        "FIELDSCRIBE_MODELS_DIR": str(run_dir / "models"),
        **(env or {}),
    }
    check_contract(args, CliRunner().invoke(cli, args, env=environment))


def _baseline(name: str, command: click.Command, places: dict[str, Path]) -> dict[str, str | bool | None]:
    values: dict[str, str | bool | None] = {}
    for param in command.params:
        if param.name is None:
            continue
        chosen = BASELINE.get(name, {}).get(param.name, BASELINE["*"].get(param.name))
        if chosen is None and not param.required:
            continue
        if isinstance(chosen, str):
            chosen = _fill(chosen, places)
        values[param.name] = chosen
    return values


def _argv(command: click.Command, values: dict[str, str | bool | None]) -> list[str]:
    """Options first, then "--" and the arguments, so that a value such as "-" or "-1" given
    to an argument is not read as an option."""
    options: list[str] = []
    arguments: list[str] = []
    for param in command.params:
        if param.name not in values:
            continue
        value = values[param.name]
        if isinstance(param, click.Argument):
            arguments.append(str(value))
        elif getattr(param, "is_flag", False):
            options += [param.opts[0]] if value else []
        else:
            options += [param.opts[0], str(value)]
    return [*options, "--", *arguments] if arguments else options


def _case_dir(tmp_path: Path, world: dict[str, Path], n: int) -> tuple[Path, dict[str, Path]]:
    """A fresh folder for one invocation, and the paths its placeholders stand for."""
    run_dir = tmp_path / f"case{n}"
    (run_dir / "a-folder").mkdir(parents=True)
    return run_dir, {
        "study": STUDY_EN,
        "wav": world["wav"],
        "fake_model": world["fake_model"],
        "identity": world["identity"],
        "out": run_dir / "out",
        "new": run_dir / "new-file",
        "tmp": run_dir / "a-folder",
        "dir": run_dir / "a-folder",
        "missing": run_dir / "missing",
    }


@pytest.mark.parametrize("name", _pytest_params())
def test_every_command_survives_hostile_values(
    name: str, world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative hostile paths ("-", an escape sequence) land here
    command = COMMANDS[name]
    invocations: list[tuple[list[str], dict[str, str] | None]] = []
    for param in command.params:
        if getattr(param, "is_flag", False) or param.name in (None, "vault"):
            continue
        for raw in _values_for(name, param):
            run_dir, places = _case_dir(tmp_path, world, len(invocations))
            values = _baseline(name, command, places)
            values[param.name] = _fill(raw, places)
            invocations.append((["--vault", str(run_dir / "vault"), *name.split(), *_argv(command, values)], None))
    if any(p.name == "vault" for p in command.params):
        # the vault folder and the passphrase that every such command takes
        for raw in ["/dev/zero", "/proc/self/x", "{dir}", "x" * 300, "{dir}/" + "y" * 300, ESC, WEIRD]:
            run_dir, places = _case_dir(tmp_path, world, len(invocations))
            argv = _argv(command, _baseline(name, command, places))
            invocations.append((["--vault", _fill(raw, places), *name.split(), *argv], None))
        for secret in PASSPHRASES:
            run_dir, places = _case_dir(tmp_path, world, len(invocations))
            argv = _argv(command, _baseline(name, command, places))
            invocations.append(
                (["--vault", str(run_dir / "vault"), *name.split(), *argv], {"FIELDSCRIBE_PASSPHRASE": secret})
            )
    for n, (args, env) in enumerate(invocations):
        _run(world, tmp_path / f"case{n}", args, env)


def test_the_enumeration_covers_every_command() -> None:
    """A command added to the CLI is driven automatically: the walk sees nested groups too."""
    assert {
        "session create",
        "bundle keygen",
        "bundle open",
        "audio export",
        "transcript show",
        "participant add",
        "guide check",
        "export",
        "sync",
    } <= set(COMMANDS)
    assert _count_cases() > 300
