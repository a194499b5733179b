"""Transcription of real recorded speech (tests/data/speech): fieldscribe's settings must not
make Whisper worse than it is with its own defaults, on the same model and the same audio —
clip by clip and as one long recording — and the whole vault path must give what the engine
gives. scripts/bench_accuracy.py measures the full set and the settings; this checks the claim
on part of it, quickly."""

from __future__ import annotations

import numpy as np
import pytest

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.models import resolve_model
from fieldscribe.core.transcripts import current_transcript, load_segments

from .speech_set import RATE, Clip, error_rate, load_set, transcribe_fieldscribe, transcribe_plain

TOLERANCE = 0.005  # the bar: no worse than plain faster-whisper by more than this


@pytest.fixture(scope="module")
def english() -> list[Clip]:
    """The spontaneous monologues, the read passages and the speech: about two minutes, 5 speakers."""
    clips = load_set("en")
    return [c for c in clips if c.style == "spontaneous" or c.audio.size / RATE >= 9]


@pytest.fixture(scope="module")
def plain_model():
    from faster_whisper import WhisperModel

    def load(name: str):
        return WhisperModel(str(resolve_model(name).path), device="cpu", compute_type="int8", cpu_threads=2)

    return load


def _ours(name: str, audio: np.ndarray, lang: str) -> str:
    # what a transcript gets: the default settings
    return transcribe_fieldscribe(
        resolve_model(name).path, EngineSettings(model=name, language=lang, cpu_threads=2), audio
    )


def _joined(clips: list[Clip]) -> np.ndarray:
    gap = np.zeros(int(0.8 * RATE), np.float32)
    return np.concatenate([x for c in clips for x in (c.audio, gap)])


def test_english_clip_by_clip_is_no_worse_than_plain_faster_whisper(english, plain_model):
    model = plain_model("tiny.en")
    plain = error_rate([(c.text, transcribe_plain(model, c.audio, "en")) for c in english], "en")
    ours = error_rate([(c.text, _ours("tiny.en", c.audio, "en")) for c in english], "en")
    assert ours <= plain + TOLERANCE, f"WER {ours:.3f} against plain faster-whisper's {plain:.3f}"
    assert ours < 0.2


def test_english_as_one_long_recording_is_no_worse_than_plain_faster_whisper(english, plain_model):
    audio, reference = _joined(english), " ".join(c.text for c in english)
    plain = error_rate([(reference, transcribe_plain(plain_model("tiny.en"), audio, "en"))], "en")
    ours = error_rate([(reference, _ours("tiny.en", audio, "en"))], "en")
    assert ours <= plain + TOLERANCE, f"WER {ours:.3f} against plain faster-whisper's {plain:.3f}"


def test_mandarin_is_no_worse_than_plain_faster_whisper(plain_model):
    """Only 8 s of real Mandarin could be found (tests/data/speech/README.md): a smoke test."""
    clips = load_set("zh")
    model = plain_model("base")
    plain = error_rate([(c.text, transcribe_plain(model, c.audio, "zh")) for c in clips], "zh")
    ours = error_rate([(c.text, _ours("base", c.audio, "zh")) for c in clips], "zh")
    assert ours <= plain + TOLERANCE and ours < 0.25, (ours, plain)


def test_the_vault_path_gives_what_the_engine_gives(vault, study_en, english, tmp_path):
    """Imported into the vault, sealed, decrypted and transcribed: the same words."""
    import soundfile as sf

    study = study_en
    pid = participants.enrol(
        vault, study.study, group="service_user", eligibility=participants.all_eligible(study.study)
    )
    consent.record_consent(vault, study.study, pid, {c.id: True for c in study.study.consent})
    sid = sessions.create_session(vault, [pid])
    clip = max(english, key=lambda c: c.audio.size)
    wav = tmp_path / "clip.wav"
    sf.write(wav, clip.audio, RATE, subtype="PCM_16")
    import_file(vault, sid, wav)
    transcribe_session(vault, sid, model="tiny.en")
    stored = " ".join(s.text for s in load_segments(vault, current_transcript(vault, sid)) if s.text)
    pcm = sf.read(wav, dtype="float32")[0]  # what the vault holds: the clip as 16-bit samples
    assert stored == _ours("tiny.en", pcm, "en")
