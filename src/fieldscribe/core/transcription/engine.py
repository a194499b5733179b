"""faster-whisper behind one small interface: float32 audio in memory in, segments out.

Audio is handed over as a numpy array, never as a file: faster-whisper accepts arrays at
16 kHz, so decrypted speech exists only in this process's memory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .chinese import ZH_PROMPT, to_simplified
from .guard import Segment

SAMPLE_RATE = 16000


# faster-whisper's own temperature fallback: a window whose text compresses too well (a loop)
# or whose words are unlikely is decoded again, warmer
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass(frozen=True)
class EngineSettings:
    """How Whisper is run. Every field is stored with the transcript it made (transcripts.settings)."""

    model: str = "base"
    language: str = "en"
    beam_size: int = 5
    # Silero VAD off: on real speech it cut soft, whispered and creaky words and raised the WER
    # (scripts/bench_accuracy.py, README); silences are left to the guard and to Whisper's own
    # no-speech test
    vad: bool = False
    initial_prompt: str | None = None
    cpu_threads: int = 0  # 0: all cores
    word_timestamps: bool = True
    # each 30 s window is decoded with the text before it as context
    condition_on_previous_text: bool = False
    # Mandarin without a study prompt gets ZH_PROMPT: off, since Whisper gave the prompt back as
    # text on speech it could not make out, and it cost accuracy (README); OpenCC makes the
    # characters Simplified either way
    default_zh_prompt: bool = False
    temperatures: tuple[float, ...] = FALLBACK_TEMPERATURES
    # Silero VAD (faster-whisper's defaults: 0.5, 2000 ms, 400 ms)
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 2000
    vad_speech_pad_ms: int = 400

    def prompt(self) -> str | None:
        if self.initial_prompt:
            return self.initial_prompt
        return ZH_PROMPT if self.language == "zh" and self.default_zh_prompt else None

    def vad_parameters(self) -> dict[str, float | int]:
        return {
            "threshold": self.vad_threshold,
            "min_silence_duration_ms": self.vad_min_silence_ms,
            "speech_pad_ms": self.vad_speech_pad_ms,
        }


# onnxruntime (faster-whisper's Silero VAD runs on it) writes a device id and a telemetry
# database under $XDG_CACHE_HOME/Microsoft/DeveloperTools (~/.cache/…) as soon as it is
# imported, and queues events for upload. The app promises that nothing leaves the laptop,
# so telemetry is off before onnxruntime can be imported: the variable is read once, when its
# environment is created, and disable_telemetry_events() afterwards is too late for the files.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"


def disable_onnxruntime_telemetry() -> None:
    """Turn onnxruntime's telemetry off before any inference session exists.

    Setting ORT_DISABLE_TELEMETRY (done when this module is imported, and again here in
    case something cleared it) stops the device id, the database and the uploader on Linux
    and macOS; disable_telemetry_events() covers Windows' ETW provider and any later
    re-enabling. Called before the Whisper model (and with it the VAD) is first used."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime

    onnxruntime.disable_telemetry_events()


@lru_cache(maxsize=2)
def load_model(path: str, cpu_threads: int) -> Any:  # a faster_whisper.WhisperModel (untyped)
    disable_onnxruntime_telemetry()
    from faster_whisper import WhisperModel

    threads = cpu_threads or (os.cpu_count() or 2)
    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)


def seed_sampling(seed: int = 0) -> None:
    """Whisper samples (temperature > 0) when a window fails its checks; seeding CTranslate2's
    generator makes the same audio and model give the same transcript on every run — a study's
    transcripts can be reproduced, and two settings compared without sampling noise."""
    import ctranslate2

    ctranslate2.set_random_seed(seed)


def transcribe_array(
    audio: np.ndarray,
    model_path: Path,
    settings: EngineSettings,
    *,
    offset: float = 0.0,
    cancel: threading.Event | None = None,
    on_raw: Callable[[float], None] | None = None,
) -> Iterator[Segment]:
    """Yield segments as Whisper produces them (a generator: cancel between segments).

    `offset` shifts timestamps so a slice of a session reports session time."""
    model = load_model(str(model_path), settings.cpu_threads)
    seed_sampling()
    segments, _info = model.transcribe(
        audio,
        language=settings.language,
        beam_size=settings.beam_size,
        vad_filter=settings.vad,
        vad_parameters=settings.vad_parameters() if settings.vad else None,
        initial_prompt=settings.prompt(),
        word_timestamps=settings.word_timestamps,
        condition_on_previous_text=settings.condition_on_previous_text,
        temperature=list(settings.temperatures),
    )
    zh = settings.language == "zh"
    for s in segments:
        if cancel is not None and cancel.is_set():
            return
        text = to_simplified(s.text) if zh else s.text
        words = tuple(
            (
                to_simplified(w.word) if zh else w.word,
                round(w.start + offset, 3),
                round(w.end + offset, 3),
                round(w.probability, 3),
            )
            for w in (s.words or [])
        )
        seg = Segment(
            start=round(s.start + offset, 3),
            end=round(s.end + offset, 3),
            text=text.strip(),
            words=words,
            avg_logprob=round(s.avg_logprob, 4),
            no_speech_prob=round(s.no_speech_prob, 4),
            compression_ratio=round(s.compression_ratio, 3),
        )
        if on_raw:
            on_raw(seg.end)
        yield seg
