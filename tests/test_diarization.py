"""Who spoke when, measured: the shipped speaker model and clustering on conversations whose
turns are known (different espeak-ng voices, realistic pauses, a few overlaps; see
tests/conversation.py), scored with DER (0.25 s collar). Real models, real audio; no fakes."""

from __future__ import annotations

import numpy as np
import pytest

from fieldscribe.core.diarization.embedding import embed
from fieldscribe.core.diarization.pipeline import Turn, diarize, turns_from

from .conversation import INTERVIEW, VOICES, RefTurn, conversation, der, interview


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
