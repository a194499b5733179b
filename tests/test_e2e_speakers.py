"""Who said what, end to end through the real program: the interviewer records a voice profile
on the (virtual) microphone, an interview between two espeak-ng voices is recorded on it,
transcribed by Whisper, its speakers found, reviewed and exported — and the DOCX the analyst
opens alternates "Interviewer:" and "P1:" turns with the right words under each."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .conftest import PASSPHRASE
from .conversation import INTERVIEW, VOICES, conversation
from .test_e2e_record import play, prepared_vault

pytestmark = pytest.mark.slow

FS = str(Path(sys.executable).parent / "fieldscribe")
READING = [
    "My name is Alex and I will be asking the questions today.",
    "I work with the research team at the university, and I have done these interviews for two years.",
    "Everything you say stays confidential, and you can stop at any time without giving a reason.",
    "Before we start, I will read out a few sentences so the recorder learns my voice.",
    "The weather is mild today and the bus was on time.",
]


def _wav(path: Path, audio: np.ndarray) -> float:
    sf.write(path, np.clip(audio, -1, 1), 16000, subtype="PCM_16")
    return len(audio) / 16000


def _fs(env: dict, vault: Path, *args: str, timeout: float = 600) -> str:
    r = subprocess.run(
        [FS, "--vault", str(vault), *args],
        env={**env, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
    return r.stdout


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_a_recorded_interview_exports_as_interviewer_and_participant_turns(virtual_mic, tmp_path):
    from docx import Document

    env = virtual_mic
    vault = tmp_path / "vault"
    sid = prepared_vault(vault)

    # 1. the interviewer's guided reading, through the microphone
    alone, _ = conversation(READING, ["Alex"] * len(READING), {"Alex": VOICES[0]}, seed=5)
    reading = tmp_path / "reading.wav"
    seconds = _wav(reading, alone)
    proc = subprocess.Popen(
        [FS, "--vault", str(vault), "voice", "record", "Alex Morgan", "--device", "pulse"]
        + ["--seconds", f"{seconds + 1.5:.1f}"],
        env={**env, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write("y\n")
    proc.stdin.flush()
    time.sleep(1.0)  # the microphone opens after "Ready"
    play(env, "vmic_in", reading)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert "Saved the voice profile of Alex Morgan" in out
    reading.unlink()
    assert "Alex Morgan" in _fs(env, vault, "voice", "list")

    # 2. the interview, recorded on the same microphone
    lines = INTERVIEW[:8]
    audio, ref = conversation(lines, ["Interviewer", "P1"] * 4, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=7)
    talk = tmp_path / "talk.wav"
    duration = _wav(talk, audio)
    rec = subprocess.Popen(
        [FS, "--vault", str(vault), "record", sid, "--device", "pulse", "--seconds", f"{duration + 3:.1f}"],
        env={**env, "FIELDSCRIBE_PASSPHRASE": PASSPHRASE},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert rec.stderr is not None
    line = rec.stderr.readline()
    assert line.startswith("Recording"), line + rec.stderr.read()
    play(env, "vmic_in", talk)
    out, err = rec.communicate(timeout=120)
    assert rec.returncode == 0, err
    talk.unlink()

    # 3. transcribed, speakers found: the interviewer by the profile
    out = _fs(env, vault, "transcribe", sid, "--model", "tiny.en")
    assert "2 voice(s)" in out and "recognised by a voice profile" in out, out
    assert "Interviewer" in out and "P1" in out

    # 4. reviewed and exported to the team
    _fs(env, vault, "redact", sid, "--accept-all")
    _fs(env, vault, "transcript", "review", sid, "--done")
    key = tmp_path / "k" / "team"
    _fs(env, vault, "bundle", "keygen", "--out", str(key))
    bundle = _fs(env, vault, "export", "--sessions", sid, "--to", str(tmp_path / "o"), "--recipient", f"{key}.pub")
    opened = tmp_path / "opened"
    _fs(env, vault, "bundle", "open", bundle.strip(), "--identity", str(key), "--out", str(opened))

    # the interviewer's name and voice profile never leave the laptop
    for f in opened.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert b"Alex" not in data and b"Morgan" not in data and b"voice_profile" not in data, f

    # 5. the analyst's DOCX: turns, alternating, each under the right speaker
    (docx,) = opened.rglob("*.docx")
    turns = []
    for p in Document(str(docx)).paragraphs:
        m = re.match(r"\[(\d\d:\d\d:\d\d)\] (Interviewer|P\d+): (.*)", p.text)
        if m:
            turns.append((m.group(2), m.group(3)))
    print("\n".join(f"{who}: {text}" for who, text in turns))
    labels = [who for who, _ in turns]
    assert set(labels) == {"Interviewer", "P1"}
    assert all(a != b for a, b in itertools.pairwise(labels)), labels  # turns alternate
    assert len(turns) >= len(ref) - 1  # about one turn per line said
    right = 0
    for who, text in turns:
        said = max(ref, key=lambda r: len(_words(r.text) & _words(text)))
        right += said.speaker == who
    assert right >= len(turns) - 1, turns  # the right words under each speaker
