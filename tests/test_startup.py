"""Opening the app: what it loads before the unlock screen, that C libraries' chatter on
file descriptor 2 never reaches the screen, and playback that reports its position and
stops when asked.

The start-up time itself is measured by scripts/bench_startup.py (too machine-dependent for
an assertion here); these tests pin down what makes it fast: which modules are loaded.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fieldscribe.core import consent, participants, sessions

from .audio_fakes import speechlike
from .conftest import STUDY_EN

HEAVY = {
    "numpy",
    "sqlite_utils",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "cryptography",
    "argon2",
    "sounddevice",
    "soundfile",
    "faster_whisper",
    "ctranslate2",
    "spacy",
    "jieba",
    "markdown_it",
}


def loaded_after(code: str) -> dict[str, list[str]]:
    probe = f"""
import json, sys
{code}
heavy = {sorted(HEAVY)!r}
print(json.dumps({{
    "heavy": sorted({{m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}}),
    "fieldscribe": sorted(m for m in sys.modules if m.startswith('fieldscribe')),
}}))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


# -- what start-up loads ---------------------------------------------------------------------------
def test_the_command_line_loads_its_commands_only_when_one_is_used():
    got = loaded_after("import fieldscribe.cli")
    assert got["heavy"] == []
    assert not [m for m in got["fieldscribe"] if m.endswith("_cmds") or m == "fieldscribe.core.vault"], got
    got = loaded_after("from fieldscribe.cli import cli; cli.list_commands(None)")
    assert "fieldscribe.cli.vault_cmds" in got["fieldscribe"]


def test_every_command_is_still_there(tmp_path):
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    names = set(cli.commands)
    assert {"init", "demo", "status", "participant", "record", "play", "export", "sync"} <= names
    assert "pull" in cli.commands["bundle"].commands  # type: ignore[attr-defined]  # the EXTRA ones too
    out = CliRunner().invoke(cli, ["--vault", str(tmp_path / "none"), "status"])
    assert out.exit_code != 0 and "vault" in out.output, out.output


def test_settings_and_the_services_package_load_no_heavy_library():
    got = loaded_after(
        "from fieldscribe.tui.settings import Settings; Settings.from_env(); import fieldscribe.services"
    )
    assert got["heavy"] == []
    assert "fieldscribe.services.app_services" not in got["fieldscribe"]
    assert "fieldscribe.core.vault" not in got["fieldscribe"]


def test_the_services_package_still_offers_everything_it_did():
    import fieldscribe.services as services
    from fieldscribe.core.vault import Locked
    from fieldscribe.services.app_services import TAMPERED, Services

    assert services.Services is Services and services.Locked is Locked and services.TAMPERED == TAMPERED
    assert services.views.Transcript and services.Interview and services.NOTE_PRESETS
    for name in services.__all__:
        assert getattr(services, name) is not None
    with pytest.raises(AttributeError):
        _ = services.NoSuchThing  # type: ignore[attr-defined]


def test_the_unlock_screen_needs_textual_and_little_else():
    got = loaded_after(
        "import fieldscribe.cli\n"
        "from fieldscribe.tui.settings import Settings; Settings.from_env()\n"
        "import fieldscribe.tui.app, fieldscribe.tui.screens.unlock"
    )
    assert got["heavy"] == []
    light = {"fieldscribe.core.errors", "fieldscribe.core.paths", "fieldscribe.core.sanitise"}  # stdlib only
    assert not [m for m in got["fieldscribe"] if m.startswith("fieldscribe.core.") and m not in light]


# -- C libraries' chatter on fd 2 ------------------------------------------------------------------
CHATTER = "ALSA lib pcm.c:8740:(snd_pcm_recover) underrun occurred"
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def test_c_level_writes_are_silenced_but_python_errors_are_not():
    code = f"""
import ctypes, os, sys
from fieldscribe.tui import c_stderr_silenced
libc = ctypes.CDLL(None)
with c_stderr_silenced():
    libc.write(2, b"{CHATTER} (libc)\\n", {len(CHATTER) + 8})
    os.write(2, b"{CHATTER} (os)\\n")
    print("python stderr still reaches the terminal", file=sys.stderr)
    print("and so does sys.__stderr__", file=sys.__stderr__)
    try:
        raise RuntimeError("boom inside")
    finally:
        sys.stderr.flush()
os.write(2, b"never reached")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert CHATTER not in out.stderr
    assert "python stderr still reaches the terminal" in out.stderr and "and so does sys.__stderr__" in out.stderr
    assert "RuntimeError: boom inside" in out.stderr  # the traceback, printed after fd 2 came back


def test_fd_2_comes_back_after_the_block():
    code = f"""
import os
from fieldscribe.tui import c_stderr_silenced
with c_stderr_silenced():
    os.write(2, b"hidden\\n")
os.write(2, b"{CHATTER} after\\n")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == f"{CHATTER} after\n"


class Pty:
    """A program in a 100×30 pseudo-terminal; everything it writes is kept."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True, close_fds=True
        )
        os.close(slave)
        self.raw = b""

    def text(self) -> str:
        return ESCAPES.sub("", self.raw.decode("utf-8", "replace"))

    def read(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.master], [], [], min(left, 0.1))[0]:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.raw += data

    def wait_for(self, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while what not in self.text():
            assert time.monotonic() < deadline and self.proc.poll() is None, (
                f"no {what!r} on the screen; it showed:\n{self.text()[-2000:]}"
            )
            self.read(0.1)

    def finish(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read(0.1)
        self.read(0.3)
        if self.proc.poll() is None:
            self.proc.kill()
        os.close(self.master)
        return self.proc.wait(5)


def app_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDSCRIBE_")}
    env.update(TERM="xterm-256color", FIELDSCRIBE_IDLE_LOCK="0", FIELDSCRIBE_UI_LANGUAGE="en")
    return env


@pytest.fixture
def closed_vault(tmp_path: Path) -> Path:
    from fieldscribe.core.study import load_study

    from .tui_helpers import make_vault

    path = tmp_path / "vault"
    make_vault(path, load_study(STUDY_EN), session=False)
    return path


def test_alsa_chatter_during_the_app_never_reaches_the_screen(tmp_path, closed_vault):
    """A launcher runs the real `fieldscribe` and, once the test has seen the unlock screen,
    writes ALSA's underrun line to fd 2 with libc's write(), as ALSA itself does."""
    go, done = tmp_path / "go", tmp_path / "done"
    launcher = f"""
import ctypes, os, sys, threading, time
def chatter():
    while not os.path.exists({str(go)!r}):
        time.sleep(0.02)
    libc = ctypes.CDLL(None)
    line = b"{CHATTER}\\n"
    for _ in range(5):
        libc.write(2, line, len(line))
        time.sleep(0.05)
    open({str(done)!r}, "w").close()
threading.Thread(target=chatter, daemon=True).start()
sys.argv = ["fieldscribe", "--vault", {str(closed_vault)!r}]
from fieldscribe.cli import main
main()
"""
    term = Pty([sys.executable, "-c", launcher], app_env(tmp_path))
    term.wait_for("Unlock the study vault", 30)
    go.touch()
    deadline = time.monotonic() + 10
    while not done.exists() and time.monotonic() < deadline:
        term.read(0.05)
    assert done.exists(), "the launcher never wrote its chatter"
    term.read(0.5)  # a redraw would come now, if anything had drawn over the screen
    os.write(term.master, b"\x11")  # Ctrl+Q
    status = term.finish()
    assert status == 0, term.text()[-2000:]
    assert CHATTER not in term.text()
    assert b"underrun" not in term.raw


def test_a_crash_in_the_app_still_shows_its_traceback_after_it_exits(tmp_path, closed_vault):
    launcher = f"""
import sys
from fieldscribe.tui.app import FieldscribeApp
def broken(self):
    raise RuntimeError("the default screen could not be made (on purpose)")
FieldscribeApp.get_default_screen = broken
sys.argv = ["fieldscribe", "--vault", {str(closed_vault)!r}]
from fieldscribe.cli import main
main()
"""
    term = Pty([sys.executable, "-c", launcher], app_env(tmp_path))
    status = term.finish(30)
    assert status == 1, term.text()[-3000:]  # and the exit status says it failed
    assert "the default screen could not be made (on purpose)" in term.text(), term.text()[-3000:]


# -- playback: position and stop --------------------------------------------------------------------
class FakeOutputStream:
    """sounddevice.OutputStream's part that play() uses: a thread that pulls 20 ms blocks
    in real time from the callback, like PortAudio's."""

    latency = 0.1

    def __init__(self, *, samplerate, channels, dtype, device, callback, finished_callback):
        self.rate, self.channels, self.callback, self.finished = samplerate, channels, callback, finished_callback
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.aborted_at: float | None = None

    def _run(self) -> None:
        frames = self.rate // 50
        try:
            while not self.stopped.is_set():
                out = np.zeros((frames, self.channels), dtype=np.int16)
                try:
                    self.callback(out, frames, None, None)
                except FakeSoundDevice.CallbackStop:
                    break
                except FakeSoundDevice.CallbackAbort:
                    self.aborted_at = time.monotonic()
                    break
                time.sleep(frames / self.rate)
        finally:
            self.finished()

    def __enter__(self):
        self.thread.start()
        return self

    def abort(self) -> None:
        self.aborted_at = self.aborted_at or time.monotonic()
        self.stopped.set()
        self.thread.join()

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()


class FakeSoundDevice:
    class CallbackStop(Exception):  # sounddevice's name
        pass

    class CallbackAbort(Exception):  # sounddevice's name
        pass

    streams: list[FakeOutputStream] = []

    def OutputStream(self, **kwargs):  # sounddevice's name
        stream = FakeOutputStream(**kwargs)
        self.streams.append(stream)
        return stream


@pytest.fixture
def session_with_audio(vault, study_en, tmp_path):
    pid = participants.enrol(vault, study_en.study, group="service_user")
    consent.record_consent(vault, study_en.study, pid, {c.id: True for c in study_en.study.consent})
    sid = sessions.create_session(vault, [pid])
    src = tmp_path / "handheld.wav"
    sf.write(src, speechlike(6.0), 16000, subtype="PCM_16")
    from fieldscribe.core.audio.importer import import_file

    import_file(vault, sid, src)
    return sid


@pytest.fixture
def fake_speakers(monkeypatch):
    from fieldscribe.core.audio import playback

    sd = FakeSoundDevice()
    sd.streams = []
    monkeypatch.setattr(playback, "sounddevice", lambda: sd)
    return sd


def test_playback_reports_its_position_a_few_times_a_second(vault, session_with_audio, fake_speakers):
    from fieldscribe.core.audio.playback import play

    seen: list[tuple[float, float]] = []
    began = time.monotonic()
    played = play(vault, session_with_audio, 1.0, 2.5, on_position=lambda s: seen.append((time.monotonic(), s)))
    took = time.monotonic() - began
    assert played == pytest.approx(1.5, abs=0.01)
    positions = [s for _, s in seen]
    assert positions == sorted(positions) and positions[-1] == pytest.approx(1.5, abs=0.01)
    assert all(0.0 <= s <= 1.5 for s in positions)
    assert len(seen) >= 3 * took, f"{len(seen)} reports in {took:.2f} s"
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(seen)]
    assert max(gaps[:-1]) < 0.5, gaps
    # what was heard lags what was handed over by the device's latency
    early = [s for t, s in seen if t - began < 1.0]
    assert all(s <= (t - began) + 0.05 for t, s in seen if t - began < 1.0), early


def test_playback_stops_promptly_when_cancelled(vault, session_with_audio, fake_speakers):
    from fieldscribe.core.audio.playback import play

    cancel = threading.Event()
    asked: dict[str, float] = {}

    def on_position(seconds: float) -> None:
        if seconds >= 0.8 and not cancel.is_set():
            asked["at"] = time.monotonic()
            cancel.set()

    played = play(vault, session_with_audio, 0.0, None, cancel=cancel, on_position=on_position)
    returned = time.monotonic()
    assert returned - asked["at"] < 0.2
    assert 0.7 < played < 1.5  # about where it was stopped, not the 6 s of the session
    stream = fake_speakers.streams[-1]
    assert stream.aborted_at is not None and stream.aborted_at - asked["at"] < 0.15  # dropped, not drained


def test_playback_keeps_its_old_signature(vault, session_with_audio, fake_speakers):
    from fieldscribe.core.audio.playback import play

    assert play(vault, session_with_audio, 5.5, None, None, None) == pytest.approx(0.5, abs=0.01)
    assert play(vault, session_with_audio, 7.0, 8.0) == 0.0  # past the end: nothing to play


@pytest.mark.skipif(os.environ.get("FIELDSCRIBE_SKIP_AUDIO_E2E") == "1", reason="FIELDSCRIBE_SKIP_AUDIO_E2E=1")
def test_playback_on_the_virtual_speakers_reports_and_stops(virtual_mic, vault, session_with_audio, monkeypatch):
    from fieldscribe.core.audio.devices import list_inputs
    from fieldscribe.core.audio.playback import play

    monkeypatch.setenv("XDG_RUNTIME_DIR", virtual_mic["XDG_RUNTIME_DIR"])
    list_inputs(refresh=True)  # PortAudio may have been initialised before the server started
    cancel = threading.Event()
    seen: list[float] = []
    asked: dict[str, float] = {}

    def on_position(seconds: float) -> None:
        seen.append(seconds)
        if seconds >= 0.5 and not cancel.is_set():
            asked["at"] = time.monotonic()
            cancel.set()

    # the virtual speakers are clocked by whoever records their microphone: someone must listen
    listener = subprocess.Popen(
        ["parec", "-d", "vmic", "--rate=16000", "--channels=1", "--format=s16le"],
        env=virtual_mic,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        played = play(vault, session_with_audio, 0.0, None, device="pulse", cancel=cancel, on_position=on_position)
        returned = time.monotonic()
    finally:
        listener.terminate()
        listener.wait(10)
    assert "at" in asked, seen
    assert returned - asked["at"] < 0.3
    # (this sound server takes its time: 2 s of sound take it ~13 s here, with underruns; the
    # position follows what it consumed, not the wall clock)
    assert 0.4 < played < 1.5
    assert seen == sorted(seen) and len(seen) >= 4
