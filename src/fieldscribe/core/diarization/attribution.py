"""Words to voices: turns that never straddle two voices.

Whisper's segments follow pauses, not speakers, so one segment can hold the end of a question
and the start of its answer. Each word (Whisper's word timestamps) takes the voice of the turn
it overlaps most; consecutive words of one voice make one spoken turn. A word heard while two
voices speak is marked as overlap. With two lapel microphones the louder channel says whose
word it is — exact and cheap — and diarization decides only where both are silent or both
speak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embedding import RATE
from .pipeline import Turn

CHANNEL_MARGIN_DB = 6.0  # one microphone this much louder than the other: that wearer speaks


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SpokenTurn:
    start: float
    end: float
    voice: int | None  # None: no turn covers these words (diarization heard no voice there)
    text: str
    overlap: bool  # another voice spoke during part of it


def voice_of(word: Word, turns: list[Turn]) -> tuple[int | None, bool]:
    """The voice whose turn overlaps WORD most (the nearest turn when none overlaps, within
    0.5 s), and whether a second voice overlaps the word too."""
    overlaps: dict[int, float] = {}
    for t in turns:
        shared = min(word.end, t.end) - max(word.start, t.start)
        if shared > 0:
            overlaps[t.voice] = overlaps.get(t.voice, 0.0) + shared
    if overlaps:
        best = max(overlaps, key=lambda v: overlaps[v])
        length = max(word.end - word.start, 1e-3)
        others = [v for v, s in overlaps.items() if v != best and s / length > 0.3]
        return best, bool(others)
    centre = (word.start + word.end) / 2
    nearest = min(turns, key=lambda t: abs((t.start + t.end) / 2 - centre), default=None)
    if nearest is not None and min(abs(nearest.start - centre), abs(nearest.end - centre)) <= 0.5:
        return nearest.voice, False
    return None, False


def spoken_turns(words: list[Word], voices: list[tuple[int | None, bool]]) -> list[SpokenTurn]:
    """Consecutive words of one voice as one turn (VOICES: one (voice, overlap) per word)."""
    out: list[SpokenTurn] = []
    for word, (voice, overlap) in zip(words, voices, strict=True):
        if out and out[-1].voice == voice:
            last = out[-1]
            out[-1] = SpokenTurn(last.start, word.end, voice, _joined(last.text, word.text), last.overlap or overlap)
        else:
            out.append(SpokenTurn(word.start, word.end, voice, word.text.strip(), overlap))
    return out


def attribute(words: list[Word], turns: list[Turn]) -> list[SpokenTurn]:
    """WORDS split into spoken turns by the diarized TURNS."""
    return spoken_turns(words, [voice_of(w, turns) for w in words])


def channel_voices(stereo: np.ndarray, words: list[Word], margin_db: float = CHANNEL_MARGIN_DB) -> list[int | None]:
    """For a two-channel recording (one lapel microphone per speaker): per word, the channel
    (0 or 1) at least MARGIN_DB louder than the other, or None where neither is (both silent,
    or both speaking) — for diarization to decide."""
    if stereo.ndim != 2 or stereo.shape[1] != 2:
        raise ValueError("channel_voices needs audio with exactly two channels")
    out: list[int | None] = []
    for w in words:
        part = stereo[int(w.start * RATE) : max(int(w.end * RATE), int(w.start * RATE) + 1)].astype(np.float64)
        energy = 10 * np.log10(np.maximum((part**2).mean(axis=0), 1e-12))
        if energy[0] - energy[1] >= margin_db:
            out.append(0)
        elif energy[1] - energy[0] >= margin_db:
            out.append(1)
        else:
            out.append(None)
    return out


def attribute_two_channels(stereo: np.ndarray, words: list[Word], turns: list[Turn]) -> list[SpokenTurn]:
    """Channels first, diarization (TURNS of the mixed audio) where the channels cannot tell.
    Voice 0 and 1 are the channels; diarized voices are mapped onto them by where they agree."""
    by_channel = channel_voices(stereo, words)
    diarized = [voice_of(w, turns) for w in words]
    agree: dict[tuple[int, int], int] = {}
    for channel, (voice, _) in zip(by_channel, diarized, strict=True):
        if channel is not None and voice is not None:
            agree[(voice, channel)] = agree.get((voice, channel), 0) + 1
    mapping: dict[int, int] = {}
    for (voice, channel), _count in sorted(agree.items(), key=lambda kv: -kv[1]):
        if voice not in mapping and channel not in mapping.values():
            mapping[voice] = channel
    voices: list[tuple[int | None, bool]] = []
    for channel, (voice, overlap) in zip(by_channel, diarized, strict=True):
        if channel is not None:
            voices.append((channel, overlap))
        else:
            voices.append((mapping.get(voice) if voice is not None else None, overlap))
    return spoken_turns(words, voices)


def _joined(left: str, right: str) -> str:
    """Whisper's words carry their own leading space in English and none in Chinese."""
    return left + right


def names_from_marks(turns: list[Turn], marks: list[tuple[float, str]], *, window_s: float = 2.0) -> dict[int, str]:
    """Name voices from the interviewer's "who is speaking" marks (K during a focus group):
    each mark at time T names the voice that speaks most from just before T to WINDOW_S after
    (K is pressed while the person speaks; a longer window reaches the next speaker). A voice
    named by several marks takes the name most of them gave; a name goes to one voice only
    (the one it fits best); voices nobody marked stay unnamed ("Speaker A" until the
    reviewer names them)."""
    votes: dict[int, dict[str, float]] = {}
    for at, name in marks:
        spoken: dict[int, float] = {}
        for t in turns:
            shared = min(t.end, at + window_s) - max(t.start, at - 0.5)
            if shared > 0:
                spoken[t.voice] = spoken.get(t.voice, 0.0) + shared
        if spoken:
            voice = max(spoken, key=lambda v: spoken[v])
            votes.setdefault(voice, {})[name] = votes.get(voice, {}).get(name, 0.0) + spoken[voice]
    named: dict[int, str] = {}
    taken: set[str] = set()
    ranked = sorted(
        ((score, voice, name) for voice, by_name in votes.items() for name, score in by_name.items()), reverse=True
    )
    for _score, voice, name in ranked:
        if voice not in named and name not in taken:
            named[voice] = name
            taken.add(name)
    return named
