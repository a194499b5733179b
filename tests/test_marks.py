"""Marks placed after the fact on an imported recording (real espeak-ng voices, real Whisper
words, the shipped speaker model): the transcript's questions, notes and group speakers follow
them exactly as they follow live marks, taking one back undoes it, the session's history covers
them, and every mistake is one sentence."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fieldscribe.core import ledger, marking, sessions, speakers, timeline
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.errors import InvalidInput
from fieldscribe.core.transcripts import StoredSegment, current_transcript, load_segments

from .conversation import INTERVIEW, VOICES, RefTurn, conversation
from .session_setup import imported_session


@pytest.fixture(scope="module")
def talk() -> tuple[np.ndarray, list[RefTurn]]:
    lines = INTERVIEW[:8]
    return conversation(lines, ["Interviewer", "P1"] * 4, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=7)


def _segments(vault, sid: str) -> list[StoredSegment]:
    return [s for s in load_segments(vault, current_transcript(vault, sid)) if s.text]


def _question_at(segs: list[StoredSegment], t: float) -> str | None:
    return next(s.question for s in segs if s.start <= t < s.end + 0.3)


def test_marks_after_transcription_code_the_transcript_as_live_ones(vault, study_en, tmp_path, talk):
    audio, ref = talk
    sid, _ = imported_session(vault, study_en.study, tmp_path, audio)
    transcribe_session(vault, sid, model="tiny.en")
    speakers.run(vault, sid)
    before = _segments(vault, sid)
    assert {s.question for s in before} == {None}  # a handheld recording: no guide marks

    asked = [r for r in ref if r.speaker == "Interviewer"]
    answers = [r for r in ref if r.speaker == "P1"]
    for r, q in zip(asked, ["q1", "q2", "q3", "q4"], strict=True):
        marking.add_mark(vault, sid, timeline.QUESTION, r.start, question=q)
    marking.add_mark(vault, sid, timeline.NOTE, answers[1].start + 1.0, text="long pause before answering")
    marking.add_mark(vault, sid, timeline.FLAG, answers[1].start + 1.5)
    marking.add_mark(vault, sid, timeline.PROBE, answers[2].start + 0.5, probe=2)

    segs = _segments(vault, sid)
    # each line said is coded to the question asked before it, the answer included
    for r, q in zip(asked, ["q1", "q2", "q3", "q4"], strict=True):
        assert _question_at(segs, (r.start + r.end) / 2) == q
    for r, q in zip(answers, ["q1", "q2", "q3", "q4"], strict=True):
        assert _question_at(segs, (r.start + r.end) / 2) == q
    assert {s.domain for s in segs if s.question in ("q3", "q4")} == {"mutual_help"}
    # the note and the flag sit on what was being said; the probe belongs to q3
    notes = [(n["kind"], s.question) for s in segs for n in s.notes]
    assert sorted(notes) == [("flag", "q2"), ("note", "q2"), ("probe", "q3")]
    probe = next(n for s in segs for n in s.notes if n["kind"] == "probe")
    assert probe["probe"] == 2
    # the words, the speakers and the split into turns are as they were
    assert [(s.text, s.speaker, s.voice) for s in segs] == [(s.text, s.speaker, s.voice) for s in before]

    # taking back q2 puts its lines under q1 again
    q2 = next(e for e in marking.marks(vault, sid) if e.data.get("question") == "q2" and e.kind == timeline.QUESTION)
    marking.remove_mark(vault, sid, q2.seq)
    segs = _segments(vault, sid)
    assert _question_at(segs, (answers[1].start + answers[1].end) / 2) == "q1"
    assert [e.kind for e in marking.marks(vault, sid)].count(timeline.QUESTION) == 3

    # every change is in the session's history and the audit log, never the note's words
    ledger.check_session(vault, sid)
    entries = [e for e in vault.audit.entries() if e.action.startswith("timeline.")]
    assert [e.action for e in entries].count("timeline.mark") == 7
    assert [e.action for e in entries].count("timeline.unmark") == 1
    assert not [e for e in entries if "long pause" in repr(e) or "q2" in repr(e.details)]


def test_marks_placed_before_transcribing_are_used_by_it(vault, study_en, tmp_path, talk):
    audio, ref = talk
    sid, _ = imported_session(vault, study_en.study, tmp_path, audio)
    marking.add_mark(vault, sid, timeline.QUESTION, 0, question="q5")
    marking.add_mark(vault, sid, timeline.QUESTION, ref[4].start, question="Q6")  # ids in any case
    transcribe_session(vault, sid, model="tiny.en")
    segs = _segments(vault, sid)
    assert _question_at(segs, (ref[1].start + ref[1].end) / 2) == "q5"
    assert _question_at(segs, (ref[5].start + ref[5].end) / 2) == "q6"


def test_k_marks_after_the_fact_name_a_groups_voices(vault, study_en, tmp_path):
    lines = INTERVIEW[:9]
    who = ["Interviewer", "A", "Interviewer", "B", "Interviewer", "A", "Interviewer", "B", "Interviewer"]
    audio, ref = conversation(lines, who, {"Interviewer": VOICES[0], "A": VOICES[1], "B": VOICES[2]}, seed=3)
    sid, (p1, p2) = imported_session(vault, study_en.study, tmp_path, audio, n=2)
    transcribe_session(vault, sid, model="tiny.en")
    found = speakers.run(vault, sid)
    assert found is not None
    for r in ref:
        if r.speaker in ("A", "B"):
            marking.add_mark(
                vault, sid, timeline.SPEAKER, r.start + 0.3, participant=(p1 if r.speaker == "A" else p2).lower()
            )
    segs = _segments(vault, sid)
    said = {r.text: r.speaker for r in ref}
    named = {p1: "A", p2: "B"}
    # the K marks name the group's two voices: nearly every word under a pseudonym is theirs
    # (a one-word piece at a change of voice may go to the neighbour, as diarization places it)
    right = wrong = 0
    for s in segs:
        line = max(ref, key=lambda r: min(r.end, s.end) - max(r.start, s.start))
        if s.speaker in named:
            words = len(s.text.split())
            right, wrong = (right + words, wrong) if named[s.speaker] == said[line.text] else (right, wrong + words)
    assert right > 0.9 * (right + wrong), (right, wrong)
    assert {p1, p2} <= {s.speaker for s in segs}
    # without the marks, nobody is named but the interviewer
    for e in marking.marks(vault, sid):
        marking.remove_mark(vault, sid, e.seq)
    assert {s.speaker for s in _segments(vault, sid)} <= {"interviewer", None}


def test_each_mistake_is_one_sentence_and_changes_nothing(vault, study_en, tmp_path, talk):
    audio, _ref = talk
    sid, (pid,) = imported_session(vault, study_en.study, tmp_path, audio[: 16000 * 20])
    empty = sessions.create_session(vault, [pid])
    cases = [
        ((empty, timeline.QUESTION, 1.0), {"question": "q1"}, "has no recording yet"),
        ((sid, timeline.QUESTION, 25.0), {"question": "q1"}, "past the end of the recording"),
        ((sid, timeline.QUESTION, 1.0), {"question": "q99"}, "not a question of this session's guide"),
        ((sid, timeline.QUESTION, 1.0), {}, "Say which question"),
        ((sid, timeline.PROBE, 1.0), {"probe": 1}, "No question has begun"),
        ((sid, timeline.PROBE, 1.0), {"question": "q1", "probe": 9}, "has probes 1 to 3"),
        ((sid, timeline.NOTE, 1.0), {"text": "  \x07\x1b\t "}, "The note is empty"),
        ((sid, timeline.NOTE, 1.0), {"text": "x" * 1001}, "keep it under 1000"),
        ((sid, timeline.NOTE, 1.0), {"text": "hm", "preset": "shouting"}, "not a quick note"),
        ((sid, timeline.SPEAKER, 1.0), {"participant": pid}, "one-to-one session"),
        ((sid, timeline.PAUSE, 1.0), {}, "is not a mark"),
        ((sid, timeline.QUESTION, float("nan")), {"question": "q1"}, "position on the recording"),
    ]
    for args, given, words in cases:
        with pytest.raises(InvalidInput, match=words) as err:
            marking.add_mark(vault, *args, **given)
        assert "\n" not in str(err.value) and str(err.value).endswith(".")
    with pytest.raises(InvalidInput, match="has no mark 4"):
        marking.remove_mark(vault, sid, 4)
    assert marking.marks(vault, sid) == []
    # a note's control characters are not kept
    e = marking.add_mark(vault, sid, timeline.NOTE, 2.0, text="tearful\x1b[31m  again")
    assert e.data["text"] == "tearful [31m again"
    for text in ["12:30", "1:02:03", "750", "0:07.5"]:
        assert marking.parse_time(text) >= 0
    assert marking.parse_time("1:02:03") == 3723
    for bad in ["", "12:xx", "-1", "1:2:3:4", "nan", "inf"]:
        with pytest.raises(InvalidInput, match="is not a time"):
            marking.parse_time(bad)


# -- without Whisper: segments stored by hand on an imported recording ------------------------------
def _stored(vault, study, tmp_path: Path, texts: list[str], seconds: float = 20.0) -> tuple[str, str]:
    """A one-to-one session with SECONDS of imported audio and a finished transcript of TEXTS,
    one 2 s segment each from 0 s, 3 s, 6 s …"""
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments

    from .audio_fakes import speechlike

    sid, (pid,) = imported_session(vault, study, tmp_path, speechlike(seconds))
    t = begin_transcript(vault, sid, EngineSettings(model="test"), seconds)
    segs = [Segment(i * 3.0, i * 3.0 + 2.0, text) for i, text in enumerate(texts)]
    store_segments(vault, t, sessions.session_key(vault, sid), segs, [], seconds)
    complete_transcript(vault, t)
    return sid, pid


def test_a_mark_after_export_sends_the_session_back_to_be_exported_again(vault, study_en, tmp_path):
    from fieldscribe.core.deid.review import decide, is_reviewed, mark_reviewed
    from fieldscribe.core.sync.purge import purgeable

    sid, _ = _stored(vault, study_en.study, tmp_path, ["Hello.", "We met at lunch.", "Yes."])
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    for path in ([sessions.EXPORTED], [sessions.EXPORTED, sessions.SYNCED, sessions.RECEIVED]):
        for status in path:
            sessions.set_status(vault, sid, status)
        marking.add_mark(vault, sid, timeline.NOTE, 4.0, text="quiet voice")
        # the team does not have the note yet: not "exported", not purgeable, but still reviewed
        assert sessions.get_session(vault, sid).status == sessions.REVIEWED
        assert sid not in purgeable(vault) and is_reviewed(vault, sid)
    sessions.set_status(vault, sid, sessions.EXPORTED)
    marking.remove_mark(vault, sid, marking.marks(vault, sid)[0].seq)
    assert sessions.get_session(vault, sid).status == sessions.REVIEWED


def test_marks_after_the_last_words_belong_to_the_last_segment(vault, study_en, tmp_path):
    sid, _ = _stored(vault, study_en.study, tmp_path, ["Hello.", "Goodbye then."])  # words end at 5 s of 20
    marking.add_mark(vault, sid, timeline.FLAG, 20.0, text="left in tears")
    marking.add_mark(vault, sid, timeline.NOTE, 12.0, text="long silence")
    segs = _segments(vault, sid)
    assert [n["text"] for n in segs[-1].notes] == ["long silence", "left in tears"]
    # and a note placed before transcribing, after the last words, lands there too
    sid2, _ = _stored(vault, study_en.study, tmp_path, ["Hello."])
    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.guard import Segment
    from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments

    marking.add_mark(vault, sid2, timeline.NOTE, 15.0, text="door slammed")
    t = begin_transcript(vault, sid2, EngineSettings(model="test2"), 20.0)
    store_segments(
        vault, t, sessions.session_key(vault, sid2), [Segment(0.0, 2.0, "Hello again.")], marking.marks(vault, sid2), 20
    )
    complete_transcript(vault, t)
    assert [n["text"] for n in _segments(vault, sid2)[-1].notes] == ["door slammed"]


def test_a_probe_keeps_its_own_question_in_the_export(vault, study_en, tmp_path):
    from fieldscribe.core.deid.review import decide, mark_reviewed
    from fieldscribe.core.export import formats
    from fieldscribe.core.export.content import gather

    sid, _ = _stored(vault, study_en.study, tmp_path, ["Tell me about the people.", "Who helped you?"])
    marking.add_mark(vault, sid, timeline.QUESTION, 0.0, question="q1")
    # q3 is asked and its first probe follows within the same segment, still coded q1
    marking.add_mark(vault, sid, timeline.PROBE, 3.5, question="q3", probe=1)
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    txt = formats.to_txt(gather(vault, [sid]).sessions[0])
    probe = next(q for _d, q in study_en.study.questions() if q.id == "q3").probes[0]
    assert f"[Probe 00:00:03, q3] {probe}" in txt, txt


def test_control_characters_in_notes_never_reach_the_documents(vault, study_en, tmp_path):
    from fieldscribe.core.deid.review import decide, mark_reviewed
    from fieldscribe.core.export.content import gather
    from fieldscribe.core.export.exporter import build_files

    sid, _ = _stored(vault, study_en.study, tmp_path, ["Hello.", "Bye."])
    # a live note typed at the recorder's prompt goes through the timeline itself
    timeline.add_event(vault, sid, timeline.NOTE, 1.0, text="bell\x07 rang\x1b[2J", preset=None)
    marking.add_mark(vault, sid, timeline.FLAG, 4.0, text="upset\u2028again")
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    files = build_files(gather(vault, [sid]))  # DOCX and .qdpx are XML: one control character broke them
    txt = files[f"transcripts/{sid}.txt"].decode()
    assert "bell rang [2J" in txt and "upset again" in txt
    texts = []
    for name, data in files.items():
        if name.endswith((".docx", ".qdpx")):  # zip archives: look inside
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                texts += [z.read(n) for n in z.namelist() if n.endswith((".xml", ".rels", ".qde", ".txt"))]
        else:
            texts.append(data)
    assert not any(b in data for data in texts for b in (b"\x07", b"\x1b"))


def test_several_marks_at_once_are_all_or_nothing_and_numbers_are_never_reused(vault, study_en, tmp_path):
    sid, _ = _stored(vault, study_en.study, tmp_path, ["Hello.", "Bye."])
    with pytest.raises(InvalidInput, match="one-to-one session"):
        marking.add_marks(vault, sid, 1.0, [("question", {"question": "q1"}), ("speaker", {"participant": "P1"})])
    assert marking.marks(vault, sid) == []
    first = marking.add_mark(vault, sid, timeline.NOTE, 1.0, text="one")
    marking.remove_mark(vault, sid, first.seq)
    second = marking.add_mark(vault, sid, timeline.NOTE, 1.0, text="two")
    assert second.seq != first.seq
    with pytest.raises(InvalidInput, match=f"no mark {first.seq}"):
        marking.remove_mark(vault, sid, first.seq)  # an old list's number takes back nothing
    assert [e.data["text"] for e in marking.marks(vault, sid)] == ["two"]
    ledger.check_session(vault, sid)
    for bad in ["1:75", "1_0", "1e3", "0:60", "1:00:61"]:
        with pytest.raises(InvalidInput, match="not a time"):
            marking.parse_time(bad)


def test_marks_placed_out_of_order_are_read_in_time_order(vault, study_en, tmp_path):
    sid, _ = _stored(vault, study_en.study, tmp_path, ["Tell me.", "About people.", "And help?", "Yes."])
    marking.add_mark(vault, sid, timeline.QUESTION, 6.0, question="q3")  # the later question first
    marking.add_mark(vault, sid, timeline.QUESTION, 0.0, question="q1")
    marking.add_mark(vault, sid, timeline.PROBE, 7.0, probe=2)  # a probe of the question current then
    assert [s.question for s in _segments(vault, sid)] == ["q1", "q1", "q3", "q3"]
    assert [n["question"] for s in _segments(vault, sid) for n in s.notes] == ["q3"]
