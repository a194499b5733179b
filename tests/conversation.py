"""Conversations with known speaker turns, for the diarization tests and benchmark.

Each voice is a different espeak-ng voice (male US, female British, a Scottish voice …); turns
alternate at realistic lengths with pauses, and a few overlap a little, as people do. The
reference is where each voice's audio was placed, so DER can be scored exactly. Made on the
fly (a few seconds with espeak-ng and sox), so the repository carries no audio for it."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000
VOICES = ("en-us+m3", "en-gb+f3", "en-gb-scotland+m1", "en-us+f4")
INTERVIEW = [
    "Thank you for coming in today. Could you tell me how you first heard about the day centre?",
    "A nurse on the ward told me about it, but it took me months before I dared to walk in.",
    "What was it like, the first time you came?",
    "Honestly it was frightening. I sat near the door and did not speak to anyone for an hour.",
    "And what changed after that?",
    "One of the peer workers asked me to help with the tea, and slowly I started talking to people.",
    "How would you describe the other members now?",
    "Some of them are my closest friends. We meet on Tuesdays even when the centre is closed.",
    "Is there anything the staff could do differently?",
    "They could listen more before they decide things for us. We know what helps.",
    "Thank you, that is really helpful. Is there anything else you want to add?",
    "Only that I hope the centre stays open. It gave me back a reason to get up in the morning.",
]


@dataclass(frozen=True)
class RefTurn:
    start: float
    end: float
    speaker: str
    text: str


def speak(text: str, voice: str) -> np.ndarray:
    """TEXT read by an espeak-ng VOICE, 16 kHz mono float, silence trimmed."""
    assert shutil.which("espeak-ng") and shutil.which("sox"), "scripts/virtual-mic start installs espeak-ng and sox"
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "155", "--stdout", text], capture_output=True, check=True)
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "float", "-b", "32", "-c", "1", "-"],
        input=wav.stdout,
        capture_output=True,
        check=True,
    ).stdout
    audio = np.frombuffer(raw, dtype=np.float32).copy()
    voiced = np.flatnonzero(np.abs(audio) > 1e-3)
    return audio[voiced[0] : voiced[-1] + 1] if len(voiced) else audio


def conversation(
    lines: list[str], speakers: list[str], voices: dict[str, str], *, seed: int = 0, overlap_every: int = 7
) -> tuple[np.ndarray, list[RefTurn]]:
    """LINES said in turn by SPEAKERS (one name per line) in their VOICES: pauses of 0.3–1.2 s,
    and every OVERLAP_EVERY-th turn starting 0.5 s before the previous one ends."""
    rng = random.Random(seed)
    audio = np.zeros(int(0.5 * RATE), dtype=np.float32)
    turns: list[RefTurn] = []
    for i, (line, who) in enumerate(zip(lines, speakers, strict=True)):
        said = speak(line, voices[who]) * (0.7 if i % 2 else 0.85)
        gap = -0.5 if overlap_every and i % overlap_every == overlap_every - 1 else rng.uniform(0.3, 1.2)
        start = len(audio) / RATE + gap if turns else 0.5
        s = int(start * RATE)
        if s + len(said) > len(audio):
            audio = np.concatenate([audio, np.zeros(s + len(said) - len(audio), dtype=np.float32)])
        audio[s : s + len(said)] += said
        turns.append(RefTurn(start, start + len(said) / RATE, who, line))
    audio = np.concatenate([audio, np.zeros(RATE // 2, dtype=np.float32)])
    audio += np.random.default_rng(seed).normal(0, 0.002, len(audio)).astype(np.float32)  # a quiet room
    return audio, turns


def interview(seed: int = 0) -> tuple[np.ndarray, list[RefTurn]]:
    """A one-to-one interview, interviewer and P1 alternating (twice through the guide)."""
    lines = INTERVIEW * 2
    speakers = ["Interviewer" if i % 2 == 0 else "P1" for i in range(len(lines))]
    return conversation(lines, speakers, {"Interviewer": VOICES[0], "P1": VOICES[1]}, seed=seed)


INTERVIEW_ZH = [
    "谢谢你今天过来。你能说说你是怎么知道日间中心的吗？",
    "病房里的一位护士告诉我的，可是过了好几个月我才敢走进去。",
    "第一次来的时候是什么感觉？",
    "说实话很害怕。我坐在门口，一个小时没有跟任何人说话。",
    "后来发生了什么变化？",
    "有一位朋辈工作者请我帮忙泡茶，我慢慢开始跟别人聊天。",
    "你现在怎么看其他的会员？",
    "有些人是我最好的朋友。中心不开门的时候，我们星期二也会见面。",
    "工作人员有什么可以做得不一样的吗？",
    "他们替我们做决定之前，可以多听听我们的想法。我们知道什么对自己有帮助。",
    "谢谢你，这些很有帮助。你还有什么想补充的吗？",
    "我只希望中心能一直开下去。它让我重新有了每天早上起床的理由。",
]
VOICES_ZH = ("cmn+m3", "cmn+f3")


def interview_zh(seed: int = 0) -> tuple[np.ndarray, list[RefTurn]]:
    """A one-to-one interview in Mandarin (espeak-ng's cmn voice, a male and a female variant)."""
    lines = INTERVIEW_ZH * 2
    speakers = ["Interviewer" if i % 2 == 0 else "P1" for i in range(len(lines))]
    return conversation(lines, speakers, {"Interviewer": VOICES_ZH[0], "P1": VOICES_ZH[1]}, seed=seed)


SPEECH_EN = Path(__file__).parent / "data" / "speech" / "en"


def real_pieces(speaker: str, *, shortest: float = 1.5, longest: float = 7.0) -> list[np.ndarray]:
    """A real person's recorded speech (tests/data/speech/en, by its manifest's speaker label)
    cut at their pauses into pieces of SHORTEST..LONGEST seconds, each brought to the same
    loudness (so the level does not tell voices apart; the room and microphone still may)."""
    import soundfile as sf

    from fieldscribe.core.diarization.pipeline import speech_regions

    clips = [json.loads(line) for line in (SPEECH_EN / "manifest.jsonl").read_text().splitlines() if line]
    pieces: list[np.ndarray] = []
    for clip in (c for c in clips if c["speaker"] == speaker):
        audio, rate = sf.read(SPEECH_EN / clip["file"], dtype="float32")
        assert rate == RATE
        start = None
        for s, e in speech_regions(audio):
            start = s if start is None else start
            if e - start >= shortest:
                pieces.append(audio[int(start * RATE) : int(min(e, start + longest) * RATE)])
                start = None
    return [p * (0.1 / max(float(np.sqrt(np.mean(p**2))), 1e-6)) for p in pieces]


def real_voices(
    speakers: list[str], turns: int, *, seed: int = 0, overlap_every: int = 7
) -> tuple[np.ndarray, list[RefTurn]]:
    """A conversation of real recorded voices: pieces of each SPEAKER's real speech taken in
    turn (TURNS pieces in all), with pauses of 0.3–1.2 s and every OVERLAP_EVERY-th turn
    starting 0.5 s early. Real voices, made-up turn-taking: the reference is exact."""
    rng = random.Random(seed)
    pools = {who: real_pieces(who) for who in speakers}
    order = [speakers[i % len(speakers)] for i in range(turns)]
    audio = np.zeros(int(0.5 * RATE), dtype=np.float32)
    ref: list[RefTurn] = []
    used = dict.fromkeys(speakers, 0)
    for i, who in enumerate(order):
        said = pools[who][used[who] % len(pools[who])]
        used[who] += 1
        gap = -0.5 if overlap_every and i % overlap_every == overlap_every - 1 else rng.uniform(0.3, 1.2)
        start = len(audio) / RATE + gap if ref else 0.5
        s = int(start * RATE)
        if s + len(said) > len(audio):
            audio = np.concatenate([audio, np.zeros(s + len(said) - len(audio), dtype=np.float32)])
        audio[s : s + len(said)] += said
        ref.append(RefTurn(start, start + len(said) / RATE, who, ""))
    audio = np.concatenate([audio, np.zeros(RATE // 2, dtype=np.float32)])
    audio += np.random.default_rng(seed).normal(0, 0.002, len(audio)).astype(np.float32)
    return audio, ref


def der(
    reference: list[RefTurn],
    hypothesis: list[tuple[float, float, str]],
    collar: float = 0.25,
    *,
    named: bool = False,
) -> float:
    """Diarization error rate: (missed + false alarm + confused speech) / reference speech,
    on a 10 ms grid, ignoring COLLAR seconds either side of each reference boundary, with the
    hypothesis voices mapped to reference speakers the way that agrees most (the best
    one-to-one mapping, found exactly). NAMED: the hypothesis already names reference
    speakers (an interviewer's profile named a voice), so no mapping is sought."""
    errors, total = der_counts(reference, hypothesis, collar, named=named)
    return errors / total if total else 0.0


def der_counts(
    reference: list[RefTurn],
    hypothesis: list[tuple[float, float, str]],
    collar: float = 0.25,
    *,
    named: bool = False,
) -> tuple[float, float]:
    """:func:`der` as (erroneous seconds, scored reference seconds), to pool recordings."""
    step = 0.01
    end = max([t.end for t in reference] + [e for _, e, _ in hypothesis]) + 1
    n = int(end / step)
    ref_names = sorted({t.speaker for t in reference})
    hyp_names = sorted({h for _, _, h in hypothesis})
    if named:  # the same names in the same columns; a name the reference lacks matches nobody
        hyp_names = ref_names + sorted(set(hyp_names) - set(ref_names))
    ref = np.zeros((n, len(ref_names)), dtype=bool)
    hyp = np.zeros((n, max(1, len(hyp_names))), dtype=bool)
    scored = np.ones(n, dtype=bool)
    for t in reference:
        ref[round(t.start / step) : round(t.end / step), ref_names.index(t.speaker)] = True
        for edge in (t.start, t.end):
            scored[max(0, round((edge - collar) / step)) : round((edge + collar) / step)] = False
    for s, e, h in hypothesis:
        hyp[round(s / step) : round(e / step), hyp_names.index(h)] = True
    ref, hyp = ref[scored], hyp[scored]
    n_ref, n_hyp = ref.sum(1), hyp.sum(1)
    total = int(n_ref.sum())
    agree = (ref[:, :, None] & hyp[:, None, :]).sum(0)  # [ref speaker, hyp voice] frames
    if named:
        best_correct = int(sum(agree[r, r] for r in range(len(ref_names))))
    else:
        best_correct = _best_assignment(agree)
    errors = int(np.maximum(0, n_ref - n_hyp).sum() + np.maximum(0, n_hyp - n_ref).sum())
    errors += int(np.minimum(n_ref, n_hyp).sum()) - best_correct
    return errors * step, total * step


def _best_assignment(agree: np.ndarray) -> int:
    """The largest sum of AGREE[r, h] over one-to-one pairs (reference speakers to hypothesis
    voices), exact: dynamic programming over the sets of voices already taken."""
    n_ref, n_hyp = agree.shape
    if n_hyp > n_ref:  # pair the other way round: fewer rows, smaller table
        return _best_assignment(agree.T)
    # now n_hyp <= n_ref: assign each hypothesis voice a distinct reference speaker
    best: dict[int, int] = {0: 0}
    for h in range(n_hyp):
        nxt: dict[int, int] = {}
        for taken, value in best.items():
            nxt[taken] = max(nxt.get(taken, 0), value)  # this voice matches nobody
            for r in range(n_ref):
                if not taken >> r & 1:
                    key = taken | 1 << r
                    nxt[key] = max(nxt.get(key, 0), value + int(agree[r, h]))
        best = nxt
    return max(best.values())
