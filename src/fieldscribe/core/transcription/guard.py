"""Guards against Whisper's known failure modes on long interviews.

Whisper invents text in silence ("Thank you for watching", "字幕由Amara.org社区提供") and can
loop, repeating a phrase for minutes. We drop segments that are confidently non-speech,
drop the subtitle credits of its training data wherever they appear (nobody says them in an
interview), drop short polite phrases when the model itself doubted there was speech, drop a
segment that gives back the initial prompt (what Whisper does with speech it cannot make out),
collapse a phrase repeated many times in a row, and drop a segment that repeats the previous
ones verbatim. Everything removed or changed is *flagged*, never silently lost: the flags travel
with the segment (dropped ones are kept as flagged, empty-text segments for the reviewer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from typing import Protocol

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
# words the model itself found very unlikely, where it half thought there was no speech: what
# Whisper writes into the silence after the last word when no VAD cut it away ("摄影梯")
UNLIKELY_LOGPROB = -2.0
UNLIKELY_NO_SPEECH = 0.45
MAX_COMPRESSION = 2.4
REPEAT_RUN = 3  # the same segment text this many times in a row is a loop

# Phrases Whisper produces from silence or music that a person might also really say: dropped
# only when the model itself doubted there was speech.
SILENCE_PHRASES = {
    "thank you",
    "thank you.",
    "thanks for watching!",
    "thank you for watching.",
    "thank you for watching!",
    "thanks for watching.",
    "please subscribe.",
    "bye.",
    "you",
    "谢谢观看",
    "谢谢大家",
}
# Subtitle credits and channel plugs from Whisper's training data (Amara, YouTube, Youku …):
# never part of an interview, so dropped wherever they appear. Matched on the text folded by
# _fold (lower case, no spaces or punctuation).
BOILERPLATE = re.compile(
    r"amaraorg|subtitlesby|subtitledby|captionsby|transcribedby|字幕|点赞订阅|订阅转发|明镜|点点栏目|独播剧场|youku"
)
PROMPT_ECHO = 0.6  # this share of a segment found in one piece in the initial prompt: an echo
PROMPT_ECHO_MIN = 4  # characters; shorter segments ("好的") are too short to tell


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[tuple[str, float, float, float], ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def dropped(self) -> bool:
        return any(f.startswith("dropped:") for f in self.flags)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _fold(text: str) -> str:
    """Letters and digits only, lower case: 'Subtitles by the Amara.org community' ->
    'subtitlesbytheamaraorgcommunity'; Chinese punctuation goes too."""
    return "".join(c for c in text.lower() if unicodedata.category(c)[0] in "LN")


def echoes_prompt(text: str, prompt: str | None) -> bool:
    """Whether TEXT is (mostly) a piece of the initial prompt given back: on speech it cannot
    make out, Whisper continues its prompt ("作用简体中文和标点符号。" from "…使用简体中文和标点符号。")."""
    if not prompt:
        return False
    said, given = _fold(text), _fold(prompt)
    if len(said) < PROMPT_ECHO_MIN or not given:
        return False
    match = SequenceMatcher(None, said, given, autojunk=False).find_longest_match(0, len(said), 0, len(given))
    return match.size >= PROMPT_ECHO * len(said)


LOOP_REPEATS = 6  # people do say "no no no no" or "words words words words"; loops run longer


def collapse_repeats(text: str, min_repeats: int = LOOP_REPEATS) -> tuple[str, bool]:
    """'I think I think I think I think I think I think so' -> 'I think so' (a phrase of 1–8
    words, or of 1–8 characters for unspaced Chinese, repeated min_repeats+ times in a row).
    Four in a row was the rule once; on real speech it cut words people really said
    (scripts/bench_accuracy.py)."""
    changed = False
    # word phrases
    pattern = re.compile(r"(\b(?:\S+\s+){0,7}?\S+)(?:[\s,.;]+\1\b){" + str(min_repeats - 1) + ",}", re.IGNORECASE)
    new = pattern.sub(r"\1", text)
    changed |= new != text
    # character phrases (Chinese has no spaces)
    pattern_cjk = re.compile(r"([\u4e00-\u9fff，。、]{1,8}?)\1{" + str(min_repeats - 1) + ",}")
    newer = pattern_cjk.sub(r"\1", new)
    changed |= newer != new
    return newer, changed


class Heard(Protocol):
    """An earlier segment, as the repeat rule sees it: a fresh Segment or one read back from the store."""

    @property
    def text(self) -> str: ...
    @property
    def dropped(self) -> bool: ...


def guard(segments: list[Segment], previous: Sequence[Heard] | None = None, prompt: str | None = None) -> list[Segment]:
    """Apply every rule; return segments in order with flags (dropped ones have empty text).
    PROMPT is the initial prompt Whisper was given, if any."""
    out: list[Segment] = []
    history: list[Heard] = [s for s in (previous or []) if not s.dropped][-REPEAT_RUN:]
    for seg in segments:
        text = seg.text.strip()
        flags = list(seg.flags)
        if (seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB) or (
            seg.no_speech_prob > UNLIKELY_NO_SPEECH and seg.avg_logprob < UNLIKELY_LOGPROB
        ):
            flags.append("dropped:no_speech")
        elif BOILERPLATE.search(_fold(text)):
            flags.append("dropped:boilerplate")
        elif echoes_prompt(text, prompt):
            flags.append("dropped:prompt_echo")
        elif _norm(text) in SILENCE_PHRASES and (seg.no_speech_prob > 0.3 or seg.avg_logprob < -0.7):
            flags.append("dropped:silence_phrase")
        else:
            collapsed, changed = collapse_repeats(text)
            if changed:
                flags.append("repetition_collapsed")
                text = collapsed
            elif seg.compression_ratio > MAX_COMPRESSION:
                flags.append("suspect:repetitive")
            recent = [_norm(s.text) for s in history[-(REPEAT_RUN - 1) :]]
            if len(recent) == REPEAT_RUN - 1 and all(r == _norm(text) for r in recent) and text:
                flags.append("dropped:repeated_segment")
        if any(f.startswith("dropped:") for f in flags):
            out.append(replace(seg, text="", words=(), flags=tuple(flags)))
            continue
        kept = replace(seg, text=text, flags=tuple(flags))
        out.append(kept)
        history.append(kept)
    return out
