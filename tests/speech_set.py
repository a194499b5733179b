"""The real-speech set in tests/data/speech and how transcripts are scored against it (shared by
tests/test_real_speech.py and scripts/bench_accuracy.py, so both measure the same way)."""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "speech"
RATE = 16000
# hesitations Whisper rarely writes; removed from both sides, as Whisper's English normaliser does
HESITATIONS = {"uh", "um", "uhm", "umm", "hm", "hmm", "mm", "mhm", "er", "erm", "ah"}
# one spelling for words written two ways (the references and Whisper disagree on these)
SPELLINGS = {"all right": "alright", "okay": "ok", "gonna": "going to", "wanna": "want to"}


@dataclasses.dataclass
class Clip:
    name: str
    audio: np.ndarray  # float32, 16 kHz mono
    text: str
    speaker: str
    style: str


def load_set(lang: str) -> list[Clip]:
    import soundfile as sf

    clips = []
    for line in (DATA / lang / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        audio, rate = sf.read(DATA / lang / d["file"], dtype="float32", always_2d=True)
        assert rate == RATE, (d["file"], rate)
        clips.append(Clip(d["file"], audio.mean(axis=1), d["text"], d["speaker"], d["style"]))
    return clips


def normalise(text: str, lang: str) -> str:
    """English: lower case, no punctuation or hesitations. Mandarin: Simplified characters,
    letters and digits only."""
    if lang == "zh":
        from fieldscribe.core.transcription.chinese import to_simplified

        return "".join(c for c in to_simplified(text) if unicodedata.category(c)[0] in "LN")
    text = text.lower().replace("-", " ").replace("’", "'")
    kept = "".join(c if unicodedata.category(c)[0] in "LN" or c in " '" else " " for c in text)
    words = (w.strip("'") for w in kept.split())
    text = " ".join(w for w in words if w and w not in HESITATIONS)
    for variant, spelling in SPELLINGS.items():
        text = f" {text} ".replace(f" {variant} ", f" {spelling} ").strip()
    return text


def errors(reference: str, hypothesis: str, lang: str) -> tuple[int, int]:
    """(edit operations, reference length) in words (en) or characters (zh)."""
    import jiwer

    ref, hyp = normalise(reference, lang), normalise(hypothesis, lang)
    if lang == "zh":
        ref, hyp = " ".join(ref), " ".join(hyp)  # characters as words
    if not ref:
        return len(hyp.split()), 0
    out = jiwer.process_words(ref, hyp or "")
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def error_rate(pairs: list[tuple[str, str]], lang: str) -> float:
    """Pooled over (reference, hypothesis) pairs: all errors over all reference words/characters."""
    counted = [errors(r, h, lang) for r, h in pairs]
    return sum(e for e, _ in counted) / max(1, sum(n for _, n in counted))


def transcribe_plain(model, audio: np.ndarray, lang: str) -> str:
    """faster-whisper with its own defaults, as a new user runs it (seeded like fieldscribe's
    engine, so the comparison carries no sampling noise)."""
    from fieldscribe.core.transcription.engine import seed_sampling

    seed_sampling()
    segments, _ = model.transcribe(audio, language=lang)
    return " ".join(s.text.strip() for s in segments)


def transcribe_fieldscribe(model_path: Path, settings, audio: np.ndarray) -> str:
    """fieldscribe's engine and guard, one segment at a time, as commit_segment runs them."""
    from fieldscribe.core.transcription.engine import transcribe_array
    from fieldscribe.core.transcription.guard import guard

    kept: list = []
    for seg in transcribe_array(audio, model_path, settings):
        kept += guard([seg], kept, settings.prompt())
    return " ".join(s.text for s in kept if s.text)
