"""Nothing leaves the laptop: transcription leaves no onnxruntime telemetry behind.

faster-whisper's voice-activity filter runs on onnxruntime, whose official wheels write a
device id and an event database under $XDG_CACHE_HOME/Microsoft/DeveloperTools (else
~/.cache/…) the moment it is imported, ready for upload. The check runs a real transcription
in a fresh process, because onnxruntime reads its switch only once per process: in this one
it may already be loaded by an earlier test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import PASSPHRASE
from .test_transcription import speech_session as speech_session  # the fixture, reused by name

RUN_CLI = "import sys; from fieldscribe.cli import main; sys.argv[0] = 'fieldscribe'; main()"


def _telemetry_files(*roots: Path) -> list[Path]:
    return [
        p
        for root in roots
        if root.exists()
        for p in root.rglob("*")
        if "Microsoft" in p.parts or "onnxruntime" in p.name or p.name == "deviceid"
    ]


# onnxruntime stays quiet by itself when one of these says it runs in CI (read off its library's strings and
# tried one by one): a field laptop has none of them, so the child processes here must not either.
CI_MARKERS = frozenset(
    {
        "CI",
        "TF_BUILD",
        "GITHUB_ACTIONS",
        "GITLAB_CI",
        "CIRCLECI",
        "TRAVIS",
        "JENKINS_URL",
        "CODEBUILD_BUILD_ID",
        "BUILDKITE",
        "TEAMCITY_VERSION",
        "APPVEYOR",
        "BITBUCKET_BUILD_NUMBER",
    }
)


def _clean_env(home: Path, cache: Path, **extra: str) -> dict[str, str]:
    """The environment of a field laptop: no telemetry switch (the app sets one in this process) and no CI marker."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY" and k not in CI_MARKERS}
    return {**env, "HOME": str(home), "XDG_CACHE_HOME": str(cache), **extra}


def test_the_probe_sees_onnxruntime_telemetry_when_nothing_turns_it_off(tmp_path):
    """Guards the test below against passing vacuously on an onnxruntime that writes nothing."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    subprocess.run([sys.executable, "-c", "import onnxruntime"], env=_clean_env(home, cache), check=True, timeout=120)
    assert _telemetry_files(home, cache), "this onnxruntime writes no telemetry files; the test below proves nothing"


def test_a_real_transcription_writes_no_onnxruntime_telemetry(
    vault,
    speech_session,
    tmp_path,
    models_cache,
):
    sid, _starts = speech_session
    path = str(vault.path)
    vault.close()  # the child process opens it
    home, cache = tmp_path / "home", tmp_path / "cache"
    env = _clean_env(
        home, cache, FIELDSCRIBE_PASSPHRASE=PASSPHRASE, FIELDSCRIBE_MODELS_DIR=str(models_cache), HF_HUB_OFFLINE="1"
    )
    proc = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "--vault", path, "transcribe", sid, "--model", "tiny.en"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"Transcribed {sid} (version 1, tiny.en, en)." in proc.stdout
    assert _telemetry_files(home, cache) == []
    assert not (home / ".cache" / "Microsoft").exists() and not (cache / "Microsoft").exists()
