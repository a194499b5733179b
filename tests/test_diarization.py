"""Who spoke when, measured: the shipped speaker model and clustering on conversations whose
turns are known (different espeak-ng voices, realistic pauses, a few overlaps; see
tests/conversation.py), scored with DER (0.25 s collar). Real models, real audio; no fakes."""

from __future__ import annotations

import numpy as np
import pytest

from fieldscribe.core.diarization.attribution import Word, attribute, attribute_two_channels, channel_voices
from fieldscribe.core.diarization.embedding import embed
from fieldscribe.core.diarization.pipeline import Turn, diarize, turns_from

from .conversation import INTERVIEW, VOICES, RefTurn, conversation, der, interview, speak


def hypothesis(turns: list[Turn]) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, f"voice{t.voice}") for t in turns]


@pytest.fixture(scope="module")
def one_to_one():
    return interview(seed=0)


def test_der_is_zero_for_the_reference_and_a_half_for_one_voice_over_two():
    ref = [RefTurn(0, 10, "a", ""), RefTurn(10, 20, "b", "")]
    assert der(ref, [(0, 10, "x"), (10, 20, "y")]) == 0.0
    assert der(ref, [(0, 10, "y"), (10, 20, "x")]) == 0.0  # names do not matter, voices do
    assert der(ref, [(0, 20, "x")]) == pytest.approx(0.5, abs=0.03)
    assert der(ref, []) == pytest.approx(1.0)


def test_a_one_to_one_interview_is_two_voices_with_der_under_ten_percent(one_to_one):
    audio, ref = one_to_one
    for voices in (2, None):  # told there are two, and left to count them
        turns = diarize(audio, voices=voices)
        assert len({t.voice for t in turns}) == 2
        assert der(ref, hypothesis(turns)) < 0.10, voices
    # turns alternate as the speakers did: most reference turns are covered by one voice
    covered = 0
    for r in ref:
        inside = [t for t in turns if t.start < r.end - 0.3 and t.end > r.start + 0.3]
        covered += len({t.voice for t in inside}) == 1
    assert covered / len(ref) > 0.8


def test_three_voices_are_counted_and_told_apart():
    lines = INTERVIEW[:9]
    speakers = ["Interviewer", "P1", "P2"] * 3
    audio, ref = conversation(lines, speakers, {"Interviewer": VOICES[0], "P1": VOICES[1], "P2": VOICES[2]}, seed=1)
    turns = diarize(audio)
    assert len({t.voice for t in turns}) == 3
    assert der(ref, hypothesis(turns)) < 0.10


def test_one_voice_alone_is_one_voice():
    audio, ref = conversation(INTERVIEW[:4], ["P1"] * 4, {"P1": VOICES[1]}, seed=2)
    turns = diarize(audio)
    assert {t.voice for t in turns} == {0}
    assert der(ref, hypothesis(turns)) < 0.10


def test_silence_has_no_turns():
    rng = np.random.default_rng(0)
    assert diarize(rng.normal(0, 0.002, 16000 * 20).astype(np.float32)) == []


def test_windows_of_one_voice_are_closer_than_windows_of_two():
    from fieldscribe.core.diarization.cluster import separation
    from fieldscribe.core.diarization.pipeline import speech_regions, windows_of

    audio, ref = conversation(INTERVIEW[:8], ["A", "B"] * 4, {"A": VOICES[0], "B": VOICES[2]}, seed=3)
    windows = windows_of(speech_regions(audio))
    x = embed(audio, windows)
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    truth = np.array(
        [max(ref, key=lambda r: min(r.end, e) - max(r.start, s)).speaker == "B" for s, e in windows]
    ).astype(int)
    assert separation(x, truth) > 0.11  # the voices' own groups are well apart
    assert separation(x, np.arange(len(x)) % 2) < 0.02  # an arbitrary split is not


def test_a_blip_inside_a_turn_takes_the_turns_voice():
    regions = [(0.0, 6.0)]
    windows = [(0.0, 1.5), (0.75, 2.25), (1.5, 3.0), (2.25, 3.75), (3.0, 4.5), (4.5, 6.0)]
    labels = np.array([0, 0, 1, 0, 0, 1])  # one odd window mid-turn, then a real change
    turns = turns_from(regions, windows, labels)
    voices = [t.voice for t in turns]
    assert voices[0] == 0 and voices[-1] == 1
    assert all(t.duration >= 0.3 for t in turns)


def _words_of(reference: list[RefTurn]) -> list[Word]:
    """Each reference turn's words spread evenly over it: word timings for the channel tests."""
    out = []
    for r in reference:
        said = r.text.split()
        step = (r.end - r.start) / len(said)
        out += [Word(r.start + i * step, r.start + (i + 1) * step, " " + w) for i, w in enumerate(said)]
    return out


def test_whisper_words_split_into_turns_of_the_right_voice(one_to_one):
    """Real Whisper words on the interview, split by the diarized turns: each reference line's
    words land in turns of one voice, the voices alternate, and no turn straddles two lines of
    different speakers."""
    from fieldscribe.core.transcription.engine import EngineSettings, transcribe_array
    from fieldscribe.core.transcription.models import resolve_model

    audio, ref = one_to_one
    audio, ref = audio[: 16000 * 60], [r for r in ref if r.end < 60]  # the first minute
    segments = list(
        transcribe_array(
            audio, resolve_model("tiny.en").path, EngineSettings(model="tiny.en", language="en", cpu_threads=2)
        )
    )
    words = [Word(s, e, w) for seg in segments for (w, s, e, _p) in seg.words]
    assert len(words) > 50
    spoken = attribute(words, diarize(audio, voices=2))
    assert len(spoken) >= len(ref) - 2  # about one spoken turn per line said
    speaker_of_voice: dict[int, str] = {}
    right = 0
    for turn in spoken:
        middle = (turn.start + turn.end) / 2
        said_by = min(
            ref, key=lambda r: 0 if r.start <= middle <= r.end else min(abs(r.start - middle), abs(r.end - middle))
        )
        speaker_of_voice.setdefault(turn.voice, said_by.speaker)
        right += speaker_of_voice[turn.voice] == said_by.speaker
    assert right / len(spoken) > 0.9
    assert len(set(speaker_of_voice.values())) == 2


def test_two_lapel_microphones_decide_by_channel_and_diarization_fills_in():
    audio_a, ref = conversation(INTERVIEW[:8], ["A", "B"] * 4, {"A": VOICES[0], "B": VOICES[1]}, seed=4)
    # rebuild each voice on its own channel: the wearer loud, the other 20 dB down (crosstalk)
    a = np.zeros_like(audio_a)
    b = np.zeros_like(audio_a)
    for r in ref:
        said = speak(r.text, VOICES[0] if r.speaker == "A" else VOICES[1])
        s = int(r.start * 16000)
        (a if r.speaker == "A" else b)[s : s + len(said)] += said[: len(a) - s]
    stereo = np.stack([a + 0.1 * b, b + 0.1 * a], axis=1).astype(np.float32)
    words = _words_of(ref)
    channels = channel_voices(stereo, words)
    truth = [0 if r.speaker == "A" else 1 for r in ref for _ in r.text.split()]
    decided = [(c, t) for c, t in zip(channels, truth, strict=True) if c is not None]
    assert len(decided) / len(words) > 0.8  # most words are decided by the channels alone
    assert all(c == t for c, t in decided)
    turns = attribute_two_channels(stereo, words, diarize(stereo.mean(axis=1), voices=2))
    assert [t.voice for t in turns] == [0, 1] * 4  # one turn per line, the channels' voices
    with pytest.raises(ValueError, match="two channels"):
        channel_voices(stereo[:, :1], words)


def test_an_interviewers_profile_names_their_voice_and_stays_sealed(vault, vault_path, one_to_one):
    from fieldscribe.core.diarization.pipeline import diarize_voices
    from fieldscribe.core.diarization.profiles import (
        delete_profile,
        enrol_profile,
        interviewer_voice,
        list_profiles,
        load_profile,
    )
    from fieldscribe.core.errors import InvalidInput

    # the guided recording: the interviewer alone, other sentences than in the interview
    prompt = [
        "My name is Alex and I will be asking the questions today.",
        "I work with the research team at the university, and I have done these interviews for two years.",
        "Everything you say stays confidential, and you can stop at any time without giving a reason.",
        "Before we start, I will read out a few sentences so the recorder learns my voice.",
    ]
    alone, _ = conversation(prompt, ["Alex"] * len(prompt), {"Alex": VOICES[0]}, seed=5)
    with pytest.raises(InvalidInput, match="needs at least"):
        enrol_profile(vault, "Alex Morgan", alone[: 16000 * 5])
    saved = enrol_profile(vault, "Alex Morgan", alone)
    assert saved.speech_s >= 15 and [p.name for p in list_profiles(vault)] == ["Alex Morgan"]

    audio, ref = one_to_one
    found = diarize_voices(audio, voices=2)
    voice = interviewer_voice(found.centroids, load_profile(vault, "Alex Morgan"))
    assert voice is not None
    theirs = [t for t in found.turns if t.voice == voice]
    said_by_interviewer = sum(
        1 for t in theirs for r in ref if r.speaker == "Interviewer" and min(r.end, t.end) - max(r.start, t.start) > 0.5
    )
    said_by_p1 = sum(
        1 for t in theirs for r in ref if r.speaker == "P1" and min(r.end, t.end) - max(r.start, t.start) > 0.5
    )
    assert said_by_interviewer > 5 * max(1, said_by_p1)

    # sealed: neither the name nor the numbers are on disk in the clear
    vault.db.conn.commit()
    disk = b"".join(p.read_bytes() for p in vault_path.rglob("*") if p.is_file())
    assert b"Alex" not in disk and b"Morgan" not in disk
    assert delete_profile(vault, "Alex Morgan") and list_profiles(vault) == []
    assert not delete_profile(vault, "Alex Morgan")
    with pytest.raises(InvalidInput, match="no voice profile"):
        load_profile(vault, "Alex Morgan")


def test_focus_group_voices_are_named_from_two_k_marks_and_the_third_stays_unnamed():
    from fieldscribe.core.diarization.attribution import names_from_marks

    lines = INTERVIEW[:9]
    speakers = ["Interviewer", "P1", "P2"] * 3
    audio, ref = conversation(lines, speakers, {"Interviewer": VOICES[0], "P1": VOICES[1], "P2": VOICES[2]}, seed=1)
    turns = diarize(audio)
    # the interviewer pressed K as P1 began, and again as P2 began (a second after each start)
    p1 = next(r for r in ref if r.speaker == "P1")
    p2 = next(r for r in ref if r.speaker == "P2")
    names = names_from_marks(turns, [(p1.start + 1.0, "P1"), (p2.start + 1.0, "P2")])
    assert sorted(names.values()) == ["P1", "P2"]
    unnamed = {t.voice for t in turns} - set(names)
    assert len(unnamed) == 1  # the interviewer, until someone names that voice
    for voice, name in names.items():  # every turn of a named voice is mostly that person's
        for t in (t for t in turns if t.voice == voice and t.duration > 1):
            most = max(ref, key=lambda r: min(r.end, t.end) - max(r.start, t.start))
            assert most.speaker == name, (t, most)


def test_a_recording_that_starts_stops_a_diarization_at_once(one_to_one):
    """The app diarizes in the background only between interviews: a recording that starts
    sets the cancel, and the run ends within a batch of windows, with nothing to keep."""
    import threading

    from fieldscribe.core.diarization.pipeline import diarize_voices

    audio, _ref = one_to_one
    cancel = threading.Event()
    cancel.set()
    found = diarize_voices(audio, voices=2, cancel=cancel)
    assert found.turns == [] and found.centroids == {}
