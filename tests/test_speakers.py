"""Speaker turns in a session's transcripts: real audio (espeak-ng voices) sealed in the vault,
real Whisper words, the shipped speaker model; the voices named by a profile, by a guess, by K
marks and by lapel microphone, and the reviewer's names kept."""

from __future__ import annotations

import numpy as np
import pytest

from fieldscribe.core import ledger, participants, sessions, speakers, timeline
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.diarization.profiles import enrol_profile
from fieldscribe.core.errors import HistoryTampered, InvalidInput
from fieldscribe.core.transcripts import current_transcript, load_segments

from .conversation import INTERVIEW, VOICES, RefTurn, conversation, speak
from .session_setup import imported_session
from .vault_access import reopen, sql

PROMPT = [
    "My name is Alex and I will be asking the questions today.",
    "I work with the research team at the university, and I have done these interviews for two years.",
    "Everything you say stays confidential, and you can stop at any time without giving a reason.",
    "Before we start, I will read out a few sentences so the recorder learns my voice.",
]


@pytest.fixture(scope="module")
def talk() -> tuple[np.ndarray, list[RefTurn]]:
    lines = INTERVIEW[:8]
    return conversation(lines, ["Interviewer", "P1"] * 4, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=7)


@pytest.fixture(scope="module")
def alone() -> np.ndarray:
    audio, _ = conversation(PROMPT, ["Alex"] * len(PROMPT), {"Alex": VOICES[0]}, seed=5)
    return audio


def _said_by(ref: list[RefTurn], start: float, end: float) -> str:
    return max(ref, key=lambda r: min(r.end, end) - max(r.start, start)).speaker


def test_a_profile_names_the_interviewer_and_segments_split_at_every_change(vault, study_en, tmp_path, talk, alone):
    audio, ref = talk
    enrol_profile(vault, "Alex Morgan", alone)
    sid, (pid,) = imported_session(vault, study_en.study, tmp_path, audio)
    transcribe_session(vault, sid, model="tiny.en")
    assert speakers.waiting(vault) == [sid]
    found = speakers.run(vault, sid)
    assert found is not None and found.interviewer == speakers.FOUND_BY_PROFILE and not found.guessed
    assert speakers.waiting(vault) == []
    segs = [s for s in load_segments(vault, current_transcript(vault, sid)) if s.text]
    # every segment is one voice, named, and the one who said it
    right = sum((s.speaker == "interviewer") == (_said_by(ref, s.start, s.end) == "Interviewer") for s in segs)
    assert right / len(segs) > 0.9
    assert {s.speaker for s in segs} == {"interviewer", pid}
    assert {s.label for s in segs} == {"Interviewer", pid}
    # turns alternate as the speakers did: one run of a speaker per line said, give or take
    runs = [s.speaker for i, s in enumerate(segs) if i == 0 or segs[i - 1].speaker != s.speaker]
    assert len(runs) >= len(ref) - 1
    assert [s.idx for s in load_segments(vault, current_transcript(vault, sid))] == list(range(len(segs)))
    # a second run changes nothing: the version is labelled
    assert speakers.run(vault, sid) is not None and speakers.waiting(vault) == []


def test_without_a_profile_the_interviewer_is_guessed_from_the_question_marks(vault, study_en, tmp_path, talk):
    audio, ref = talk
    sid, (_pid,) = imported_session(vault, study_en.study, tmp_path, audio)
    asked = [r for r in ref if r.speaker == "Interviewer"]
    # the interviewer pressed the question key as they began each question; the participant
    # (voice 1) spoke first here, so "the first voice heard" would be wrong
    for i, r in enumerate(asked):
        timeline.add_event(vault, sid, timeline.QUESTION, r.start + 0.2, question=f"q{i + 1}", domain="d1")
    transcribe_session(vault, sid, model="tiny.en")
    found = speakers.run(vault, sid)
    assert found is not None and found.interviewer == speakers.FOUND_BY_GUESS and found.guessed
    segs = [s for s in load_segments(vault, current_transcript(vault, sid)) if s.text]
    right = sum((s.speaker == "interviewer") == (_said_by(ref, s.start, s.end) == "Interviewer") for s in segs)
    assert right / len(segs) > 0.9


def test_the_reviewers_name_for_a_voice_reaches_every_segment_and_the_next_version(vault, study_en, tmp_path, talk):
    audio, _ref = talk
    sid, (pid,) = imported_session(vault, study_en.study, tmp_path, audio)
    transcribe_session(vault, sid, model="tiny.en")
    found = speakers.run(vault, sid)
    assert found is not None
    segs = load_segments(vault, current_transcript(vault, sid))
    wrong_voice = next(s.voice for s in segs if s.speaker == pid)
    # say the guess was wrong: the participant's voice is named the interviewer, and back
    changed = speakers.name_voice(vault, sid, wrong_voice, "interviewer")
    assert changed > 0
    after = load_segments(vault, current_transcript(vault, sid))
    assert all(s.speaker == "interviewer" for s in after if s.voice == wrong_voice)
    # the other voice keeps its name: two voices may be one person
    assert [s.speaker for s in after if s.voice != wrong_voice] == [s.speaker for s in segs if s.voice != wrong_voice]
    with pytest.raises(InvalidInput, match="not in session"):
        speakers.name_voice(vault, sid, wrong_voice, "P99")
    with pytest.raises(InvalidInput, match="no voice 7"):
        speakers.name_voice(vault, sid, 7, pid)
    # a better transcript later (another version) is labelled with the reviewer's names
    transcribe_session(vault, sid, model="base")
    assert speakers.waiting(vault) == [sid]
    speakers.run(vault, sid)
    newer = load_segments(vault, current_transcript(vault, sid))
    assert all(s.speaker == "interviewer" for s in newer if s.voice == wrong_voice)


def test_speakers_are_sealed_and_covered_by_the_sessions_history(vault, vault_path, study_en, tmp_path, talk, alone):
    audio, _ = talk
    enrol_profile(vault, "Alex Morgan", alone)
    sid, _ = imported_session(vault, study_en.study, tmp_path, audio)
    transcribe_session(vault, sid, model="tiny.en")
    speakers.run(vault, sid)
    vault.db.conn.commit()
    disk = b"".join(p.read_bytes() for p in vault_path.rglob("*") if p.is_file())
    assert b"\"interviewer\"" not in disk and b"Alex" not in disk
    # an intruder with the vault closed puts back an older document (here: none); on the next
    # unlock the session's history notices, and names what changed
    sealed = vault.db.execute("SELECT speakers FROM sessions WHERE id = ?", (sid,)).fetchone()[0]
    vault.close()
    sql(vault_path, "UPDATE sessions SET speakers = NULL WHERE id = ?", sid)
    again = reopen(vault_path)
    with pytest.raises(HistoryTampered, match="speakers found in"):
        ledger.check_session(again, sid)
    again.close()
    sql(vault_path, "UPDATE sessions SET speakers = ? WHERE id = ?", sealed, sid)
    again = reopen(vault_path)
    ledger.check_session(again, sid)
    again.close()


def test_a_transcript_under_review_is_labelled_but_never_split(vault, study_en, tmp_path, talk):
    from fieldscribe.core.editing import edit_segment

    audio, _ = talk
    sid, (pid,) = imported_session(vault, study_en.study, tmp_path, audio)
    transcribe_session(vault, sid, model="tiny.en")
    before = load_segments(vault, current_transcript(vault, sid))
    edit_segment(vault, sid, 0, speaker=pid)  # the reviewer has begun, and said who speaks first
    speakers.run(vault, sid)
    after = load_segments(vault, current_transcript(vault, sid))
    assert [(s.start, s.end, s.text) for s in after] == [(s.start, s.end, s.text) for s in before]
    assert after[0].speaker == pid  # a person's choice stands
    assert all(s.voice is not None for s in after if s.text)
    assert all(s.words == b.words for s, b in zip(after, before, strict=True))


def test_two_lapel_microphones_attribute_by_channel(vault, study_en, tmp_path):
    lines = INTERVIEW[:6]
    _, ref = conversation(lines, ["Interviewer", "P1"] * 3, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=4)
    n = int((ref[-1].end + 0.5) * 16000)
    a, b = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
    for r in ref:
        said = speak(r.text, VOICES[0] if r.speaker == "Interviewer" else VOICES[1])
        s = int(r.start * 16000)
        (a if r.speaker == "Interviewer" else b)[s : s + len(said)] += said[: n - s]
    stereo = np.stack([a + 0.1 * b, b + 0.1 * a], axis=1) * 0.8
    sid, (_pid,) = imported_session(vault, study_en.study, tmp_path, stereo)
    transcribe_session(vault, sid, model="tiny.en")
    found = speakers.run(vault, sid)
    assert found is not None and found.channels == 2
    segs = [s for s in load_segments(vault, current_transcript(vault, sid)) if s.text]
    # voice = channel: the interviewer's lapel microphone is channel 0
    right = sum((s.voice == 0) == (_said_by(ref, s.start, s.end) == "Interviewer") for s in segs)
    assert right == len(segs)


def test_a_focus_group_names_voices_from_k_marks_and_leaves_the_rest_for_the_reviewer(vault, study_en, tmp_path):
    lines = INTERVIEW[:9]
    order = ["Interviewer", "P1", "P2"] * 3
    voices = {"Interviewer": VOICES[0], "P1": VOICES[1], "P2": VOICES[2]}
    audio, ref = conversation(lines, order, voices, seed=1)
    sid, pids = imported_session(vault, study_en.study, tmp_path, audio, n=2)
    p1 = next(r for r in ref if r.speaker == "P1")
    p2 = next(r for r in ref if r.speaker == "P2")
    timeline.add_event(vault, sid, timeline.SPEAKER, p1.start + 1.0, participant=pids[0])
    timeline.add_event(vault, sid, timeline.SPEAKER, p2.start + 1.0, participant=pids[1])
    transcribe_session(vault, sid, model="tiny.en")
    found = speakers.run(vault, sid)
    assert found is not None and found.voices == 3
    segs = [s for s in load_segments(vault, current_transcript(vault, sid)) if s.text]
    truth = {"P1": pids[0], "P2": pids[1]}
    named = [s for s in segs if s.speaker]
    assert {s.speaker for s in named} == set(pids)
    assert all(truth[_said_by(ref, s.start, s.end)] == s.speaker for s in named)
    unnamed = [s for s in segs if not s.speaker]
    assert unnamed and {s.label for s in unnamed} == {f"Speaker {chr(65 + unnamed[0].voice)}"}
    assert all(_said_by(ref, s.start, s.end) == "Interviewer" for s in unnamed)
    # the reviewer names that voice once, for all its segments
    speakers.name_voice(vault, sid, unnamed[0].voice, "interviewer")
    segs = [s for s in load_segments(vault, current_transcript(vault, sid)) if s.text]
    assert all(s.speaker for s in segs)


def test_speakers_need_a_stopped_recording(vault, study_en):
    pid = participants.enrol(vault, study_en.study, group="service_user")
    sid = sessions.create_session(vault, [pid])
    with pytest.raises(InvalidInput, match="no audio"):
        speakers.find(vault, sid)
    assert speakers.load(vault, sid) is None
