#!/usr/bin/env python3
"""Transcription accuracy on real recorded speech: fieldscribe's settings against plain
faster-whisper's defaults, and a sweep of the settings that matter.

The speech is tests/data/speech/{en,zh}: real recordings (no synthetic voices) with their
reference texts and licences (see the README there). Each language is measured two ways:
  short  every clip on its own (pooled: all errors over all reference words/characters);
  long   all clips of the language joined, with 0.8 s of silence between them, into one
         stream transcribed in one call — an interview is one long recording, and settings
         such as conditioning on the previous text only act across Whisper's 30 s windows;
  pauses the same stream with 12 s of quiet room noise (white noise at -55 dBFS) after every
         third clip: the long silences of an interview, where Whisper invents text.
For each installed model it runs, in one process, on the same audio:
  (a) plain faster-whisper, `model.transcribe(audio, language=...)` with its defaults;
  (b) fieldscribe's engine with the default settings (EngineSettings: what a transcript gets),
      followed by the guard, as the vault path runs it;
  and with --sweep, (b) with one setting changed at a time.
WER for English (lower case, punctuation and hesitations — uh, um, hmm — removed from both, as
Whisper's own English normaliser does; Whisper rarely writes them), CER for Mandarin
(after OpenCC Traditional→Simplified; punctuation and spaces removed). RTF = seconds of
compute per second of audio on this machine (models loaded before timing).

  .venv/bin/python scripts/bench_accuracy.py [--lang en zh] [--models tiny.en base] [--sweep]
      [--modes short long] [--vault]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.speech_set import DATA, RATE, Clip, errors, load_set, transcribe_fieldscribe, transcribe_plain  # noqa: E402  (after the path is set)

GAP_S = 0.8
PAUSE_S = 12.0


# -- the two paths -------------------------------------------------------------------------------
def plain(model_path: Path, lang: str) -> Callable[[np.ndarray], str]:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_path), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 2)
    return lambda audio: transcribe_plain(model, audio, lang)


def fieldscribe(model_path: Path, settings) -> Callable[[np.ndarray], str]:
    return lambda audio: transcribe_fieldscribe(model_path, settings, audio)


def measure(run: Callable[[np.ndarray], str], clips: list[Clip], lang: str, mode: str) -> dict:
    started = time.perf_counter()
    if mode == "short":
        errs = words = 0
        for c in clips:
            e, n = errors(c.text, run(c.audio), lang)
            errs, words = errs + e, words + n
    else:
        gap = np.zeros(int(GAP_S * RATE), np.float32)
        quiet = np.random.default_rng(7).normal(0, 10 ** (-55 / 20), int(PAUSE_S * RATE)).astype(np.float32)
        joined = np.concatenate(
            [x for i, c in enumerate(clips) for x in (c.audio, quiet if mode == "pauses" and i % 3 == 2 else gap)]
        )
        sep = "" if lang == "zh" else " "
        errs, words = errors(sep.join(c.text for c in clips), run(joined), lang)
    seconds = sum(len(c.audio) for c in clips) / RATE
    return {"rate": errs / max(words, 1), "rtf": (time.perf_counter() - started) / seconds}


def on_off(flag: bool) -> str:
    return "on" if flag else "off"


def sweep(base) -> list[tuple[str, object]]:
    """One change at a time from the defaults."""
    r = dataclasses.replace
    out = [
        (
            f"previous text as context {on_off(not base.condition_on_previous_text)}",
            r(base, condition_on_previous_text=not base.condition_on_previous_text),
        ),
        (f"vad {on_off(not base.vad)}", r(base, vad=not base.vad)),
        ("vad on, threshold 0.35", r(base, vad=True, vad_threshold=0.35)),
        ("vad on, speech pad 800 ms", r(base, vad=True, vad_speech_pad_ms=800)),
        ("vad on, min silence 500 ms", r(base, vad=True, vad_min_silence_ms=500)),
        ("beam 1", r(base, beam_size=1)),
        ("no temperature fallback", r(base, temperatures=(0.0,))),
        ("word timestamps off", r(base, word_timestamps=False)),
    ]
    if base.language == "zh":
        out.append(
            (
                "no Mandarin prompt" if base.default_zh_prompt else "Mandarin prompt",
                r(base, default_zh_prompt=not base.default_zh_prompt),
            )
        )
    return out


def vault_path_text(model: str, clips: list[Clip], lang: str) -> dict:
    """The whole vault path once, for the defaults: each clip imported as a session's sealed
    audio and transcribed by transcribe_session (pooled like 'short')."""
    import soundfile as sf

    from fieldscribe.core import consent, participants, sessions
    from fieldscribe.core.audio.importer import import_file
    from fieldscribe.core.batch_transcription import transcribe_session
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study
    from fieldscribe.core.transcripts import current_transcript, load_segments
    from fieldscribe.core.vault import Vault
    from tests.conftest import FAST_KDF, STUDY_EN, STUDY_ZH

    errs = words = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        v, _ = Vault.create(Path(tmp) / "vault", "bench passphrase", kdf=FAST_KDF)
        with v:
            study = load_study(STUDY_ZH if lang == "zh" else STUDY_EN)
            import_guide(v, study)
            pid = participants.enrol(
                v, study.study, group="service_user", eligibility=participants.all_eligible(study.study)
            )
            consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
            for i, c in enumerate(clips):
                wav = Path(tmp) / f"{i}.wav"
                sf.write(wav, c.audio, RATE, subtype="PCM_16")
                sid = sessions.create_session(v, [pid])
                import_file(v, sid, wav)
                transcribe_session(v, sid, model=model)
                text = " ".join(s.text for s in load_segments(v, current_transcript(v, sid)) if s.text)
                e, n = errors(c.text, text, lang)
                errs, words = errs + e, words + n
    seconds = sum(len(c.audio) for c in clips) / RATE
    return {"rate": errs / max(words, 1), "rtf": (time.perf_counter() - started) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", nargs="+", default=["en", "zh"])
    parser.add_argument("--models", nargs="+", default=None, help="default: every installed model fit for the language")
    parser.add_argument("--modes", nargs="+", default=["short", "long", "pauses"], choices=("short", "long", "pauses"))
    parser.add_argument("--sweep", action="store_true", help="also change one setting at a time")
    parser.add_argument(
        "--only", nargs="+", default=None, help="sweep: only the changes whose label contains one of these"
    )
    parser.add_argument("--vault", action="store_true", help="also run the whole vault path (import + transcribe)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from fieldscribe.core.transcription.engine import EngineSettings
    from fieldscribe.core.transcription.models import list_models, resolve_model

    installed = [m for m in list_models() if m.installed]
    print(f"fieldscribe accuracy benchmark — {os.cpu_count()} CPUs, int8; real speech from {DATA.relative_to(ROOT)}")
    for lang in args.lang:
        if not (DATA / lang / "manifest.jsonl").exists():
            print(f"\n{lang}: no speech set")
            continue
        clips = load_set(lang)
        seconds = sum(len(c.audio) for c in clips) / RATE
        metric = "CER" if lang == "zh" else "WER"
        print(
            f"\n{lang}: {len(clips)} clips, {seconds / 60:.1f} min, {len({c.speaker for c in clips})} speakers "
            f"({sum(len(c.audio) for c in clips if c.style == 'spontaneous') / RATE / 60:.1f} min spontaneous)"
        )
        names = args.models or [m.name for m in installed if lang == "en" or m.multilingual]
        for name in names:
            info = resolve_model(name)
            if lang != "en" and not info.multilingual:
                continue
            assert info.path is not None
            base = EngineSettings(model=name, language=lang, cpu_threads=os.cpu_count() or 2)
            rows: list[tuple[str, Callable[[np.ndarray], str]]] = [
                ("(a) plain faster-whisper, defaults", plain(info.path, lang)),
                ("(b) fieldscribe, defaults", fieldscribe(info.path, base)),
            ]
            if args.sweep:
                rows += [
                    (f"    (b) with {label}", fieldscribe(info.path, s))
                    for label, s in sweep(base)
                    if not args.only or any(o in label for o in args.only)
                ]
            fieldscribe(info.path, base)(clips[0].audio)  # load the model before timing
            header = "".join(f"{m + ' ' + metric:>12}{'RTF':>6}" for m in args.modes)
            print(f"\n  model {name}\n  {'path / settings':<44}{header}")
            results = {}
            for label, run in rows:
                cells = [measure(run, clips, lang, mode) for mode in args.modes]
                results[label] = cells
                print(f"  {label:<44}" + "".join(f"{c['rate']:>12.3f}{c['rtf']:>6.2f}" for c in cells), flush=True)
            if args.vault:
                r = vault_path_text(name, clips, lang)
                print(f"  {'(b) the vault path (import + transcribe)':<44}{r['rate']:>12.3f}{r['rtf']:>6.2f}  (short)")
            a, b = results["(a) plain faster-whisper, defaults"], results["(b) fieldscribe, defaults"]
            for mode, ca, cb in zip(args.modes, a, b, strict=True):
                verdict = "yes" if cb["rate"] <= ca["rate"] + 0.005 else "NO"
                print(
                    f"  {mode}: fieldscribe {metric} within +0.005 of plain: {verdict} ({cb['rate'] - ca['rate']:+.3f})"
                )


if __name__ == "__main__":
    main()
