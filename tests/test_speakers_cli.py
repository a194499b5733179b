"""The speakers and voice-profile commands: what an interviewer types, what they read back,
and one clear sentence for each mistake (real audio, real models, the real vault)."""

from __future__ import annotations

import soundfile as sf

from fieldscribe.core.transcripts import current_transcript, load_segments

from .conversation import INTERVIEW, VOICES, conversation
from .test_cli import Fs, fs  # noqa: F401 - the fixture

READING = [
    "My name is Alex and I will be asking the questions today.",
    "I work with the research team at the university, and I have done these interviews for two years.",
    "Everything you say stays confidential, and you can stop at any time without giving a reason.",
    "Before we start, I will read out a few sentences so the recorder learns my voice.",
]


def _wav(path, audio):
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path


def test_voice_profiles_from_a_file_listed_and_deleted(fs: Fs, tmp_path):  # noqa: F811
    assert "No voice profiles yet" in fs.ok("voice", "list").stdout
    alone, _ = conversation(READING, ["A"] * 4, {"A": VOICES[0]}, seed=5)
    wav = _wav(tmp_path / "reading.wav", alone)
    out = fs.ok("voice", "add", "Alex Morgan", str(wav)).stdout
    assert "Saved the voice profile of Alex Morgan" in out
    assert "Alex Morgan" in fs.ok("voice", "list").stdout
    short = _wav(tmp_path / "short.wav", alone[: 16000 * 4])
    r = fs("voice", "add", "Sam", str(short))
    assert r.exit_code != 0 and "needs at least 15 s" in r.stderr and "Sam" not in fs.ok("voice", "list").stdout
    r = fs("voice", "add", "  ", str(wav))
    assert r.exit_code != 0 and "Give the interviewer's name" in r.stderr
    assert "Nothing was deleted" in fs.ok("voice", "delete", "Alex Morgan", input="n\n").stdout
    assert "Deleted the voice profile of Alex Morgan" in fs.ok("voice", "delete", "Alex Morgan", "--yes").stdout
    r = fs("voice", "delete", "Alex Morgan", "--yes")
    assert r.exit_code != 0 and "no voice profile for 'Alex Morgan'" in r.stderr


def test_transcribe_finds_speakers_and_a_voice_is_named_from_the_command_line(fs: Fs, tmp_path):  # noqa: F811
    pid = fs.enrol()
    fs.ok("consent", pid, "--all")
    sid = fs.ok("session", "create", "--participant", pid).stdout.strip()
    audio, _ = conversation(INTERVIEW[:6], ["I", "P"] * 3, {"I": VOICES[0], "P": VOICES[1]}, seed=7)
    fs.ok("audio", "import", sid, str(_wav(tmp_path / "talk.wav", audio)))
    out = fs.ok("transcribe", sid, "--model", "tiny.en").stdout
    # no profile: the interviewer is a guess, and the output says so
    assert "2 voice(s)" in out and "a guess (no voice profile matched)" in out, out
    with fs.open() as vault:
        segs = load_segments(vault, current_transcript(vault, sid))
    participant_voice = next(s.voice for s in segs if s.speaker == pid)
    r = fs("speakers", sid, "--name", "zero=interviewer")
    assert r.exit_code != 0 and "is not VOICE=WHO" in r.stderr
    r = fs("speakers", sid, "--name", f"{participant_voice}=P77")
    assert r.exit_code != 0 and "'P77' is not in session" in r.stderr
    out = fs.ok("speakers", sid, "--name", f"{participant_voice}=interviewer").stdout
    assert f"Voice {participant_voice} is now interviewer" in out and "(named in review)" in out
    with fs.open() as vault:
        segs = load_segments(vault, current_transcript(vault, sid))
    assert all(s.speaker == "interviewer" for s in segs if s.voice == participant_voice)
    shown = fs.ok("transcript", "show", sid).stdout
    assert "Interviewer:" in shown
    # no audio yet: one sentence
    other = fs.ok("session", "create", "--participant", pid).stdout.strip()
    r = fs("speakers", other)
    assert r.exit_code != 0 and "has no audio" in r.stderr
