"""Guards against Whisper's known failure modes on long interviews.

Whisper invents text in silence ("Thank you for watching", "字幕由Amara.org社区提供") and can
loop, repeating a phrase for minutes. We drop segments that are confidently non-speech,
drop known silence phrases when the model itself doubted there was speech, collapse a
phrase repeated many times in a row, and drop a segment that repeats the previous ones
verbatim. Everything removed or changed is *flagged*, never silently lost: the flags travel
with the segment (dropped ones are kept as flagged, empty-text segments for the reviewer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

NO_SPEECH_PROB = 0.6
LOW_LOGPROB = -1.0
MAX_COMPRESSION = 2.4
REPEAT_RUN = 3  # the same segment text this many times in a row is a loop

# Phrases Whisper is known to produce from silence or music (training-data subtitles).
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
    "subtitles by the amara.org community",
    "字幕由amara.org社区提供",
    "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
    "谢谢观看",
    "谢谢大家",
    "优优独播剧场——youku",
}


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


def collapse_repeats(text: str, min_repeats: int = 4) -> tuple[str, bool]:
    """'I think I think I think I think so' -> 'I think so' (a phrase of 1–8 words, or of
    1–8 characters for unspaced Chinese, repeated min_repeats+ times in a row)."""
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


def guard(segments: list[Segment], previous: Sequence[Heard] | None = None) -> list[Segment]:
    """Apply every rule; return segments in order with flags (dropped ones have empty text)."""
    out: list[Segment] = []
    history: list[Heard] = [s for s in (previous or []) if not s.dropped][-REPEAT_RUN:]
    for seg in segments:
        text = seg.text.strip()
        flags = list(seg.flags)
        if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOW_LOGPROB:
            flags.append("dropped:no_speech")
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
