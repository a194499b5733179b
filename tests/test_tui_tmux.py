"""The real app in a real terminal, recording from the real (virtual) microphone.

`fieldscribe --vault PATH` runs inside tmux; the test types at it with `tmux send-keys` and
reads the screen with `tmux capture-pane`, like an interviewer would: unlock, open the
interview, record while espeak-ng speech is played into the virtual microphone (moving to
the next question half-way), stop, and read the live transcript on the review screen. Then
it quits the app and checks the vault itself.

A Chinese study's field day is driven the same way, by keys alone, and every screen it
visits is read for English words (issue 15).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import soundfile as sf

from fieldscribe.core import sessions, timeline
from fieldscribe.core.recordings import recording_info
from fieldscribe.core.study import load_study
from fieldscribe.core.vault import Vault

from .audio_fakes import speechlike
from .conftest import PASSPHRASE, STUDY_EN, STUDY_ZH
from .speech import espeak_wav
from .test_tui_chinese import english
from .tui_helpers import make_vault

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("FIELDSCRIBE_SKIP_AUDIO_E2E") == "1", reason="FIELDSCRIBE_SKIP_AUDIO_E2E=1"),
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

SPEECH = "When I first came to the day centre I did not talk to anyone. Now I help the new members find their way."
DISTINCTIVE = {"first", "came", "talk", "anyone", "help", "new", "members", "find", "way"}
FIELDSCRIBE = str(Path(sys.executable).parent / "fieldscribe")


@pytest.fixture
def mic_runtime_dir(virtual_mic: dict[str, str]) -> str:
    return virtual_mic["XDG_RUNTIME_DIR"]


class Terminal:
    """One tmux server of our own (its own socket), one session (100×30 unless asked) running the app."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.socket = f"fs-tui-{uuid.uuid4().hex[:10]}"
        self.name = "fieldscribe"
        self.env = env
        self.conf = folder / "tmux.conf"
        # keep the pane after the app exits, to read its exit status and any last words
        self.conf.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self.last = ""

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.conf), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
            check=check,
        )

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        self.tmux("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.name, *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        out = self.tmux("capture-pane", "-p", "-t", self.name, check=False)
        if out.returncode == 0:
            self.last = out.stdout
        return self.last

    def pane(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", "-t", self.name, fmt, check=False).stdout.strip()

    def dead(self) -> bool:
        return self.pane("#{pane_dead}") in ("1", "")

    def wait_for(self, what: str | Callable[[str], bool], timeout: float, why: str = "") -> str:
        test = (lambda s: what in s) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if test(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f} s waiting for {why or what!r}; the screen:\n{screen}"
                )
            if self.dead() or "fieldscribe exited with status" in screen:
                everything = self.tmux("capture-pane", "-p", "-S", "-", "-t", self.name, check=False).stdout
                raise AssertionError(f"the app ended while waiting for {why or what!r}; the terminal:\n{everything}")
            time.sleep(0.2)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the app to end; its exit status, as the shell around it printed it.

        (tmux here does not always reap its pane's process promptly, so #{pane_dead_status}
        is no use; the shell's `wait` is.)"""
        deadline = time.monotonic() + timeout
        while True:
            out = self.tmux("capture-pane", "-p", "-S", "-", "-t", self.name, check=False).stdout
            match = re.search(r"fieldscribe exited with status (\d+)", out)
            if match:
                return int(match.group(1))
            if time.monotonic() > deadline:
                raise AssertionError(f"the app did not quit within {timeout:.0f} s; the terminal:\n{out}")
            time.sleep(0.2)

    def kill(self) -> None:
        self.tmux("kill-server", check=False)
        # tmux leaves its socket behind: /tmp/tmux-UID/NAME (or under TMUX_TMPDIR)
        folder = Path(self.env.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (folder / self.socket).unlink(missing_ok=True)


@pytest.fixture
def terminal(tmp_path: Path, mic_runtime_dir: str) -> Iterator[Terminal]:
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": mic_runtime_dir,
        "TERM": "xterm-256color",
        "FIELDSCRIBE_LIVE": "1",
        "FIELDSCRIBE_IDLE_LOCK": "0",
    }
    env.pop("TMUX", None)
    term = Terminal(tmp_path, env)
    try:
        yield term
    finally:
        term.kill()


def app_command(terminal: Terminal, vault: Path, **extra: str) -> str:
    """The shell command that runs `fieldscribe --vault VAULT` in the pane.

    The app's environment is spelled out on its command line too: a tmux server started
    elsewhere would otherwise give the pane its own environment."""
    wanted = {
        k: terminal.env[k]
        for k in (
            "XDG_RUNTIME_DIR",
            "TERM",
            "FIELDSCRIBE_LIVE",
            "FIELDSCRIBE_IDLE_LOCK",
            "FIELDSCRIBE_MODELS_DIR",
            "XDG_DATA_HOME",
            "XDG_CACHE_HOME",
            "XDG_CONFIG_HOME",
        )
        if k in terminal.env
    } | extra
    assert "FIELDSCRIBE_MODELS_DIR" in wanted  # conftest's session-wide model cache
    return (
        "env "
        + " ".join(shlex.quote(f"{k}={v}") for k, v in wanted.items())
        + f" {shlex.quote(FIELDSCRIBE)} --vault {shlex.quote(str(vault))}; echo fieldscribe exited with status $?"
    )


def test_record_with_live_transcript_in_a_real_terminal(terminal: Terminal, tmp_path: Path):
    vault = tmp_path / "vault"
    make_vault(vault, load_study(STUDY_EN))
    wav, pcm = espeak_wav(tmp_path, SPEECH)
    speech_s = len(pcm) / 16000

    command = app_command(terminal, vault)
    terminal.start(command)

    terminal.wait_for("Unlock the study vault", 60)
    terminal.keys(PASSPHRASE, literal=True)
    terminal.keys("Enter")
    terminal.wait_for("Sessions", 60)
    terminal.wait_for(lambda s: re.search(r"\bS1\b.*planned", s) is not None, 10, "S1 planned in the sessions table")
    terminal.keys("Enter")
    terminal.wait_for("press R to record", 20, "the interview screen, ready")
    terminal.keys("r")
    # the live model is loaded (and, the first time, joined into the cache) before recording starts
    terminal.wait_for("RECORDING", 180)
    terminal.wait_for(lambda s: "Q 1/" in s, 5, "question 1")

    player = subprocess.Popen(
        ["paplay", "-d", "vmic_in", str(wav)], env=terminal.env, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(min(3.0, speech_s / 2))
        terminal.keys("Right")
        terminal.wait_for(lambda s: "Q 2/" in s, 10, "question 2 after →")
        assert player.wait(timeout=speech_s + 60) == 0, player.stderr.read()
    finally:
        if player.poll() is None:
            player.kill()
    time.sleep(1.5)

    terminal.keys("s")
    terminal.wait_for("Stop recording this interview?", 10)
    terminal.keys("y")
    # live: the rest of the transcript is finished after stop, then the screen says so
    terminal.wait_for("STOPPED", 120)
    saved = terminal.wait_for("Saved", 10, "the Saved notification")
    assert "the transcript was" in saved, f"the live transcript was not ready at stop:\n{saved}"

    terminal.keys("Escape")
    terminal.wait_for(lambda s: "Sessions" in s and "Participants" in s, 20, "the study dashboard")
    terminal.wait_for(lambda s: re.search(r"\bS1\b.*transcribed", s) is not None, 20, "S1 transcribed")
    terminal.keys("v")
    screen = terminal.wait_for(lambda s: "segments ·" in s, 30, "the transcript review screen")
    # Whisper base hears espeak's "day centre" as "day center", "nace center" or "naysanter",
    # "their way" now and then as "that way": of the distinctive words, one may be missed
    shown = set(re.findall(r"[a-z]+", screen.lower()))
    missing = DISTINCTIVE - shown
    assert len(missing) <= 1 and "members" in shown, (
        f"spoken words missing from the review screen: {sorted(missing)}\n{screen}"
    )

    terminal.keys("C-q")
    # the shell prints this once the app's process has ended, and with it the vault's lock
    status = terminal.wait_exit(30)
    assert status == 0, f"the app exited with status {status}:\n{terminal.screen()}"

    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        session = sessions.get_session(v, "S1")
        events = timeline.events(v, "S1")
        info = recording_info(v, "S1")
    finally:
        v.close()
    assert session.status == sessions.TRANSCRIBED
    questions = [e for e in events if e.kind == timeline.QUESTION]
    assert len(questions) >= 2, events
    assert info is not None and info.seconds > 3.0, info
    # what was said, and who said it, is on disk only sealed
    from .test_plaintext_scan import scan

    assert scan(vault, {"name": "Mary Chan", "speech": "new members", "speech 2": "talk to anyone"}) == []


# Key combinations as the app writes them ("ctrl+s", "shift+tab", "super+c", and cut short in
# a narrow column, "ctrl+page…") are key names, whatever follows the "+"; "age1…" (the prefix
# of an age public key) and ".pub" (its file's suffix) are literal text the user pastes or picks.
KEY_COMBO = re.compile(r"\b(?:ctrl|shift|alt|meta|super)\+\S+", re.I)
LITERALS = re.compile(r"\bage1…|\.pub\b")


def english_on(screen: str) -> list[str]:
    """test_tui_chinese's check (its ALLOWED names and key names) on a captured screen."""
    return english(LITERALS.sub(" ", KEY_COMBO.sub(" ", screen)))


class Visit:
    """Every screen the test looks at, by name, with the English words on it."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.screens: list[tuple[str, str, list[str]]] = []

    def look(self, name: str, what: str | Callable[[str], bool], timeout: float = 10, why: str = "") -> str:
        screen = self.terminal.wait_for(what, timeout, why or name)
        time.sleep(0.15)  # let the frame that brought WHAT finish drawing
        screen = self.terminal.screen()
        self.screens.append((name, screen, english_on(screen)))
        return screen

    def gone(self, text: str, timeout: float) -> None:
        """Wait until TEXT has been off the screen for a second (a notification is redrawn on
        each new screen a moment after the screen itself)."""
        deadline = time.monotonic() + timeout
        since = time.monotonic()
        while time.monotonic() - since < 1.0:
            if text in self.terminal.screen():
                since = time.monotonic()
                if since > deadline:
                    raise AssertionError(f"{text!r} still on screen after {timeout:.0f} s:\n{self.terminal.last}")
            time.sleep(0.1)

    def key(self, *keys: str, literal: bool = False) -> None:
        """One key at a time, as a person types: a burst can reach a widget before the one
        focused by the key before it (a Select's list closing, say) has let go."""
        for k in keys:
            self.terminal.keys(k, literal=literal)
            time.sleep(0.08)

    def english(self) -> str:
        """What failed: each screen with English and its words, then the screen where each
        word first appeared (a notification stays on screen for several steps)."""
        listed, shown, seen = [], [], set()
        for name, screen, words in self.screens:
            if words:
                listed.append(f"  {name}: {' '.join(words)}")
            new = set(words) - seen
            if new:
                shown.append(f"── {name}, where first seen: {' '.join(sorted(new))}\n{screen.rstrip()}")
                seen |= new
        return "\n".join(listed) + ("\n\n" + "\n\n".join(shown) if shown else "")


def test_a_chinese_field_day_in_a_real_terminal_shows_no_english(
    terminal: Terminal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 15: a Chinese study's field day in the real `fieldscribe`, by keys in tmux at
    100×32 — unlock (a wrong passphrase first), dashboard, F1 help page by page, enrolment
    (eligibility refused, then met; consent item by item; the questionnaire with a wrong age,
    then right), the plan dialog, the interview recording from the virtual microphone with a
    note, the stop dialog, the participant page and study settings — shows no English word
    but names and key names on any screen."""
    # the interviewer's name is on consent records (the participant page): a Chinese name,
    # not the login that the test happens to run under
    monkeypatch.setenv("FIELDSCRIBE_INTERVIEWER", "张伟")
    vault = tmp_path / "vault"
    make_vault(vault, load_study(STUDY_ZH), session=False, name="陈美玲")
    sound = tmp_path / "sound.wav"
    sf.write(sound, speechlike(4.0), 16000, subtype="PCM_16")

    terminal.env["FIELDSCRIBE_LIVE"] = "0"  # transcripts are not the interface; no model to load
    command = app_command(terminal, vault, FIELDSCRIBE_UI_LANGUAGE="zh", FIELDSCRIBE_INTERVIEWER="张伟")
    terminal.start(command, 100, 32)
    visit = Visit(terminal)
    look, key = visit.look, visit.key
    started = time.monotonic()
    try:
        look("unlock", "解锁研究数据库", 30)
        key("wrong horse", literal=True)
        key("Enter")
        look("unlock, a wrong passphrase", "密码错误")
        key("C-u")  # clear whatever is left in the field
        key(PASSPHRASE, literal=True)
        key("Enter")
        look("dashboard", lambda s: "没有待处理事项" in s and "P1" in s, 30, "the dashboard with P1")

        key("F1")
        page = look("F1 help, page 1", lambda s: "按键" in s and "作用" in s, why="the help screen")
        for n in range(2, 12):  # page down to the end of the help text
            key("PageDown")
            time.sleep(0.3)
            if terminal.screen() == page:
                break
            page = look(f"F1 help, page {n}", lambda s: True)
        key("Escape")
        look("dashboard after help", lambda s: "按键" not in s and "没有待处理事项" in s)

        # enrol P2 by keys: the group list opens with Enter
        key("e")
        look("eligibility", "资格筛查")
        key("Enter")
        look("eligibility, the group list open", "工作人员")
        key("Down", "Enter")
        look("eligibility, group chosen", lambda s: "工作人员" not in s and "服务使用者" in s)
        key("C-n")  # nothing ticked yet: not eligible
        look("eligibility, not eligible", "不符合资格")
        key("Tab", "Tab")  # site, then the full name
        key("李华", literal=True)
        key("Tab", "Tab", "Space")  # contact, then the first criterion
        for _ in range(3):
            key("Tab", "Space")
        look("eligibility, criteria ticked", lambda s: s.count("✔") == 4, why="four ticks")
        key("C-n")
        look("consent, item 1", "第 1 条，共 4 条")
        # the refusal's notification covers the right of the screens for 8 s: let it go
        visit.gone("不符合资格", 12)
        look("consent, item 1, the notification gone", "第 1 条，共 4 条")
        for n in range(2, 5):
            key("y")
            look(f"consent, item {n}", f"第 {n} 条，共 4 条")
        key("y")
        look("consent, all answered", "所有条目都已回答")
        key("C-n")
        look("questionnaire", "基线问卷")
        key("400", literal=True)  # out of range: said at once, in Chinese
        look("questionnaire, a wrong age", "请填写 18 到 65")
        key("BSpace", "BSpace", "BSpace")
        key("45", literal=True)
        look("questionnaire, age corrected", lambda s: "请填写 18 到 65" not in s)
        key("Tab", "Enter")  # gender: open the list, take the first answer
        look("questionnaire, a list open", "不愿透露")
        key("Down", "Enter")
        look("questionnaire, answered", lambda s: "不愿透露" not in s and "女" in s)
        key("C-s")
        look("dashboard, P2 enrolled", lambda s: "已登记 P2" in s and "P2" in s, why="P2 enrolled")

        # plan an interview with P2 and open it
        key("n")
        look("plan dialog", "安排与 P2 的访谈")
        key("Enter")
        look("dashboard, S1 planned", lambda s: re.search(r"S1\s+个人访谈\s+1\s+P2\s+已安排", s) is not None)
        key("Tab")  # to the sessions table: its frame turns heavy when it has the focus
        look("dashboard, sessions focused", lambda s: re.search(r"┃ 访谈\s+类型", s) is not None)
        key("Enter")
        look("interview, ready", "按 R 开始录音")

        # record a few seconds from the virtual microphone
        key("r")
        look("interview, recording", "正在录音", 30)
        player = subprocess.Popen(["paplay", "-d", "vmic_in", str(sound)], env=terminal.env, stderr=subprocess.PIPE)
        try:
            meter = lambda s: any(line.startswith(" 麦克风") and "无声" not in line for line in s.splitlines())  # noqa: E731
            look("interview, recording sound", meter, 10, "the microphone level moving")
            key("m")
            look("note dialog", "现场备注")
            key("1")
            look("interview, a note taken", lambda s: re.search(r"\[0:00:\d\d\] 笑", s) is not None)
            assert player.wait(timeout=20) == 0, player.stderr.read()
        finally:
            if player.poll() is None:
                player.kill()
        key("s")
        look("stop dialog", "停止本次访谈的录音吗")
        key("y")
        look("interview, stopped", lambda s: "已停止" in s and "已保存" in s, 20)
        key("Escape")
        look("dashboard, S1 recorded", lambda s: re.search(r"S1\s+个人访谈\s+1\s+P2\s+已录音", s) is not None)

        key("p")
        look("participant page", lambda s: "fieldscribe — 参与者" in s and "知情同意" in s)
        key("Escape")
        look("dashboard after the participant", "已选：")
        key("g")
        look("study settings", "分析团队的密钥")
        key("Escape")
        look("dashboard after settings", "已选：")
        key("C-q")
        status = terminal.wait_exit(20)
        assert status == 0, f"the app exited with status {status}:\n{terminal.screen()}"
    except AssertionError as exc:
        found = visit.english()
        raise AssertionError(f"{exc}\n\nEnglish on the screens before it:\n{found}" if found else str(exc)) from None
    took = time.monotonic() - started

    # what the keys did is in the vault: P2 enrolled and consented, S1 recorded with a note
    v = Vault.open(vault)
    try:
        v.unlock(PASSPHRASE)
        session = sessions.get_session(v, "S1")
        events = timeline.events(v, "S1")
        info = recording_info(v, "S1")
    finally:
        v.close()
    assert tuple(session.participants) == ("P2",), session
    assert session.status == sessions.RECORDED, session.status
    assert [e.data.get("preset") for e in events if e.kind == timeline.NOTE] == ["laughs"], events
    assert info is not None and info.seconds > 2.0, info

    assert len(visit.screens) >= 30, [name for name, _, _ in visit.screens]
    assert took < 60, f"the field day took {took:.0f} s"
    found = visit.english()
    assert not found, f"English words on {sum(bool(w) for _, _, w in visit.screens)} screens:\n{found}"
