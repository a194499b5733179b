#!/usr/bin/env python3
"""Transcription cost of fieldscribe's encrypted path against plain faster-whisper.

In one run, on the same audio, model, beam size and VAD settings:
  (a) plain faster-whisper transcribing a WAV file straight from disk (the baseline);
  (b) fieldscribe: the same audio sealed in a vault, decrypted chunk by chunk into memory,
      transcribed, guarded, attributed and stored as sealed segments.
Each runs in its own process (so peak memory is its own), twice, interleaved; the faster run
of each counts. Prints wall time, real-time factor, peak RSS, WER (CER for Chinese) against
the reference, and the ratio (b)/(a) — the target is ≤ 1.05.

With --live-minutes N it also records N minutes in real time through the recorder with live
transcription on and reports the time from stop to a complete transcript (target < 15 s
for 10 minutes on a 2-core machine).

  .venv/bin/python scripts/bench_transcribe.py                         # English, espeak-ng
  .venv/bin/python scripts/bench_transcribe.py --audio zh.wav --reference zh.txt --language zh
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_english(folder: Path, minutes: float) -> tuple[Path, str]:
    text = (ROOT / "assets" / "bench" / "interview-en.txt").read_text().strip()
    raw, wav = folder / "en-raw.wav", folder / "en.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    import soundfile as sf

    one = sf.info(str(wav)).duration
    reps = max(1, round(minutes * 60 / one))
    if reps > 1:
        subprocess.run(["sox", *[str(wav)] * reps, str(folder / "en-long.wav")], check=True)
        wav = folder / "en-long.wav"
    return wav, " ".join([text] * reps)


def error_rate(reference: str, hypothesis: str, language: str) -> float:
    import jiwer

    if language == "zh":
        from fieldscribe.core.transcription.chinese import to_simplified

        strip = lambda s: "".join(ch for ch in to_simplified(s) if ch.isalnum())  # noqa: E731
        return jiwer.cer(strip(reference), strip(hypothesis))
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
    fix = lambda s: norm(s).replace("centre", "center")  # noqa: E731
    return jiwer.wer(fix(reference), fix(hypothesis))


def worker_plain(args) -> dict:
    from faster_whisper import WhisperModel

    from fieldscribe.core.transcription.chinese import ZH_PROMPT, to_simplified
    from fieldscribe.core.transcription.models import resolve_model

    path = resolve_model(args.model).path
    start = time.perf_counter()
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=os.cpu_count() or 2)
    segments, _ = model.transcribe(
        args.audio,
        language=args.language,
        beam_size=5,
        vad_filter=True,
        word_timestamps=True,
        initial_prompt=ZH_PROMPT if args.language == "zh" else None,
        condition_on_previous_text=False,
    )
    text = " ".join(s.text.strip() for s in segments)
    wall = time.perf_counter() - start
    if args.language == "zh":
        text = to_simplified(text)
    return {"wall": wall, "text": text}


def worker_vault(args) -> dict:
    from fieldscribe.core import consent, participants, sessions
    from fieldscribe.core.audio.importer import import_file
    from fieldscribe.core.batch_transcription import transcribe_session
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.study import load_study
    from fieldscribe.core.transcripts import load_segments
    from fieldscribe.core.vault import Vault

    guide = ROOT / "assets" / "guides" / f"peer-support-daycare.{args.language}.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        vault, _ = Vault.create(Path(tmp) / "vault", "benchmark")
        with vault:
            sf = load_study(guide)
            import_guide(vault, sf)
            pid = participants.enrol(vault, sf.study, group="service_user")
            consent.record_consent(vault, sf.study, pid, {c.id: True for c in sf.study.consent})
            sid = sessions.create_session(vault, [pid])
            import_file(vault, sid, Path(args.audio))
            start = time.perf_counter()
            t = transcribe_session(vault, sid, model=args.model, language=args.language)
            wall = time.perf_counter() - start
            text = " ".join(s.text for s in load_segments(vault, t) if s.text)
    return {"wall": wall, "text": text}


def worker_live(args) -> dict:
    import soundfile as sf_mod

    from fieldscribe.core import consent, participants, sessions
    from fieldscribe.core.audio.recorder import RecorderConfig
    from fieldscribe.core.guides import import_guide
    from fieldscribe.core.recording import begin_recording
    from fieldscribe.core.study import load_study
    from fieldscribe.core.transcripts import current_transcript, load_segments
    from fieldscribe.core.vault import Vault
    from tests.audio_fakes import ArraySource

    pcm, _ = sf_mod.read(args.audio, dtype="int16", always_2d=True)
    need = int(args.live_minutes * 60 * 16000)
    import numpy as np

    pcm = np.tile(pcm, (-(-need // len(pcm)), 1))[:need]
    guide = ROOT / "assets" / "guides" / f"peer-support-daycare.{args.language}.yaml"
    with tempfile.TemporaryDirectory() as tmp:
        vault, _ = Vault.create(Path(tmp) / "vault", "benchmark")
        with vault:
            sf = load_study(guide)
            import_guide(vault, sf)
            pid = participants.enrol(vault, sf.study, group="service_user")
            consent.record_consent(vault, sf.study, pid, {c.id: True for c in sf.study.consent})
            sid = sessions.create_session(vault, [pid])
            source = ArraySource(pcm, realtime=True, block=4000)
            run = begin_recording(vault, sid, RecorderConfig(), source=source, live=True, live_model=args.model)
            source.done.wait(args.live_minutes * 60 + 60)
            info = run.stop()
            lost = sum(w.seconds for w in run.warnings if w.kind == "lost_audio")
            t = current_transcript(vault, sid)
            n = len([s for s in load_segments(vault, t) if s.text])
    return {
        "finish": run.finish_seconds,
        "seconds": info.seconds,
        "lost": lost,
        "segments": n,
        "windows": run.live.windows,
    }


def run_worker(kind: str, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--audio",
        str(args.audio),
        "--language",
        args.language,
        "--model",
        args.model,
        "--live-minutes",
        str(args.live_minutes),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{kind} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--language", default="en", choices=["en", "zh"])
    parser.add_argument("--model", default=None)
    parser.add_argument("--minutes", type=float, default=2.0, help="length of the generated English recording")
    parser.add_argument("--live-minutes", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--worker", choices=["plain", "vault", "live"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.model = args.model or ("tiny.en" if args.language == "en" else "base")
    os.environ.setdefault("FIELDSCRIBE_MODELS_DIR", str(Path(tempfile.gettempdir()) / "fieldscribe-bench-models"))

    if args.worker:
        result = {"plain": worker_plain, "vault": worker_vault, "live": worker_live}[args.worker](args)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result, ensure_ascii=False))
        return

    tmp = Path(tempfile.mkdtemp(prefix="fs-bench-"))
    try:
        if args.audio is None:
            args.audio, reference = make_english(tmp, args.minutes)
            source = f"espeak-ng English, {args.minutes:g} min"
        else:
            reference = args.reference.read_text(encoding="utf-8").strip() if args.reference else ""
            source = str(args.audio)
        import soundfile as sf

        info = sf.info(str(args.audio))
        if info.samplerate != 16000 or info.channels != 1:
            wav = tmp / "input16k.wav"
            subprocess.run(["sox", str(args.audio), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
            args.audio = wav
        duration = sf.info(str(args.audio)).duration
        print(
            f"fieldscribe transcription benchmark — {os.cpu_count()} CPUs; {source}; {duration:.1f} s; "
            f"model {args.model}, beam 5, VAD on, int8"
        )
        results: dict[str, list[dict]] = {"plain": [], "vault": []}
        # a warm-up so that neither side pays for a cold page cache or the model join
        run_worker("plain", args)
        for _ in range(args.repeat):
            for kind in ("plain", "vault"):
                results[kind].append(run_worker(kind, args))
        metric = "CER" if args.language == "zh" else "WER"
        best = {k: min(v, key=lambda r: r["wall"]) for k, v in results.items()}
        print(f"{'path':<44}{'wall s':>8}{'RTF':>7}{'peak MB':>9}{metric:>7}")
        labels = {
            "plain": "(a) plain faster-whisper, WAV on disk",
            "vault": "(b) fieldscribe, sealed vault → sealed segs",
        }
        for k, r in best.items():
            err = f"{error_rate(reference, r['text'], args.language):.3f}" if reference else "—"
            print(f"{labels[k]:<44}{r['wall']:>8.2f}{r['wall'] / duration:>7.3f}{r['peak_rss_mb']:>9.0f}{err:>7}")
        print(
            f"ratio (b)/(a) wall time: {best['vault']['wall'] / best['plain']['wall']:.3f}  (target ≤ 1.05; "
            f"all runs a={[round(r['wall'], 2) for r in results['plain']]} b={[round(r['wall'], 2) for r in results['vault']]})"
        )
        if args.live_minutes:
            live = run_worker("live", args)
            print(
                f"live: {live['seconds'] / 60:.1f} min recorded in real time with live transcription "
                f"({live['windows']} windows, {live['segments']} segments, {live['lost']:.1f} s audio lost); "
                f"stop → complete transcript in {live['finish']:.1f} s (target < 15 s)"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
