"""From audio to speaker turns: speech regions, windows, fingerprints, voices, turns."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

import numpy as np

from .cluster import in_order, kmeans, spectral
from .embedding import RATE, embed

WINDOW_S = 1.5  # long enough for a stable fingerprint, short enough for quick turns
STEP_S = 0.75
FRAME_S = 0.05  # turns are decided on this grid
MIN_WINDOW_S = 0.4  # a region shorter than this has too little voice to say whose it is
MIN_TURN_S = 0.3  # a shorter run between two of the same voice is taken as that voice


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    voice: int  # 0, 1, … in order of first appearance

    @property
    def duration(self) -> float:
        return self.end - self.start


def speech_regions(audio: np.ndarray) -> list[tuple[float, float]]:
    """Where someone speaks (Silero VAD, as faster-whisper ships it), pauses of 0.3 s apart."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=60, min_speech_duration_ms=150)
    return [(r["start"] / RATE, r["end"] / RATE) for r in get_speech_timestamps(audio, options, sampling_rate=RATE)]


def windows_of(regions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """1.5 s windows every 0.75 s inside each region; a short region is one window of its own."""
    out: list[tuple[float, float]] = []
    for start, end in regions:
        if end - start < MIN_WINDOW_S:
            continue
        if end - start <= WINDOW_S:
            out.append((start, end))
            continue
        t = start
        while t + WINDOW_S < end:
            out.append((t, t + WINDOW_S))
            t += STEP_S
        out.append((end - WINDOW_S, end))
    return out


@dataclass(frozen=True)
class Diarization:
    turns: list[Turn]
    centroids: dict[int, np.ndarray]  # each voice's mean fingerprint (to match a voice profile)


def diarize(audio: np.ndarray, *, voices: int | None = None, max_voices: int = 8, threads: int = 1) -> list[Turn]:
    """Speaker turns of AUDIO (16 kHz mono float). VOICES: how many speak, when known (2 in a
    one-to-one interview); otherwise it is estimated, up to MAX_VOICES."""
    return diarize_voices(audio, voices=voices, max_voices=max_voices, threads=threads).turns


def diarize_voices(
    audio: np.ndarray,
    *,
    voices: int | None = None,
    max_voices: int = 8,
    threads: int = 1,
    cancel: threading.Event | None = None,
) -> Diarization:
    """:func:`diarize`, with each voice's mean fingerprint. CANCEL (set by a recording that
    starts) stops it within a batch of windows; what it returns then is not to be kept."""
    regions = speech_regions(audio)
    windows = windows_of(regions)
    if not windows:
        return Diarization([], {})
    fingerprints = embed(audio, windows, threads=threads, cancel=cancel)
    if cancel is not None and cancel.is_set():
        return Diarization([], {})
    labels = kmeans(fingerprints, voices) if voices else spectral(fingerprints, max_voices)
    turns = turns_from(regions, windows, labels)
    # turns number voices by first appearance: map each window group to its turn's number
    centres = np.array([(s + e) / 2 for s, e in windows])
    number: dict[int, int] = {}
    for t in turns:
        nearest = int(np.abs(centres - (t.start + t.end) / 2).argmin())
        number.setdefault(int(labels[nearest]), t.voice)
    centroids = {number[g]: fingerprints[labels == g].mean(axis=0) for g in number}
    turns = refine_changes(audio, turns, centroids, threads=threads, cancel=cancel)
    return segmented(audio, Diarization(turns, centroids), threads=threads, cancel=cancel)


def segmented(
    audio: np.ndarray, found: Diarization, *, threads: int = 1, cancel: threading.Event | None = None
) -> Diarization:
    """FOUND with its turns redrawn by the segmentation model where it can be trusted
    (:mod:`.segmentation`): changes to the frame, short turns, speech the VAD missed."""
    from . import segmentation

    if not found.turns or len(found.centroids) < 2:
        return found  # one voice: nothing to tell apart
    voices = sorted(found.centroids)
    grid = np.full(int(np.ceil(len(audio) / RATE / segmentation.GRID_S)) + 1, -1)
    for t in found.turns:
        grid[int(t.start / segmentation.GRID_S) : int(np.ceil(t.end / segmentation.GRID_S))] = voices.index(t.voice)
    labels, _speech = segmentation.relabel(
        audio, grid, np.stack([found.centroids[v] for v in voices]), threads=threads, cancel=cancel
    )
    runs = segmentation.runs(labels)
    if not runs:
        return found
    order = in_order(np.array([voices[v] for _s, _e, v in runs], dtype=int))
    renumber = {voices[v]: int(n) for (_s, _e, v), n in zip(runs, order, strict=True)}
    turns = [Turn(s, e, renumber[voices[v]]) for s, e, v in runs]
    centroids = {renumber[v]: c for v, c in found.centroids.items() if v in renumber}
    return Diarization(turns, centroids)


CHANGE_REACH_S = 0.75  # a change found on 1.5 s windows is this far from the true one at most
CHANGE_WINDOW_S = 0.6
CHANGE_STEP_S = 0.1


def refine_changes(
    audio: np.ndarray,
    turns: list[Turn],
    centroids: dict[int, np.ndarray],
    *,
    threads: int = 1,
    cancel: threading.Event | None = None,
) -> list[Turn]:
    """Move each change of voice to where it happens. Windows of 1.5 s every 0.75 s place a
    change only to within half a window; here short windows (0.6 s every 0.1 s) around it are
    compared with the two voices' centres only — a choice between two known voices, which a
    short window can make where it could not name a voice on its own — and the change goes
    where the evidence before it is most the first voice's and after it the second's."""
    out = [[t.start, t.end, t.voice] for t in turns]
    unit = {v: c / max(float(np.linalg.norm(c)), 1e-9) for v, c in centroids.items()}
    for left, right in itertools.pairwise(out):
        if left[2] == right[2] or abs(left[1] - right[0]) > 1e-6 or left[2] not in unit or right[2] not in unit:
            continue  # a pause between them already marks the change
        if cancel is not None and cancel.is_set():
            break
        lo = max(left[0], left[1] - CHANGE_REACH_S)
        hi = min(right[1], right[0] + CHANGE_REACH_S)
        centres = np.arange(lo, hi, CHANGE_STEP_S)
        if len(centres) < 3:
            continue
        half = CHANGE_WINDOW_S / 2
        x = embed(audio, [(max(0.0, c - half), c + half) for c in centres], threads=threads)
        evidence = x @ unit[int(left[2])] - x @ unit[int(right[2])]  # > 0: the first voice
        before = np.cumsum(evidence)[:-1]
        after = evidence.sum() - before
        k = int(np.argmax(before - after)) + 1  # the change falls between centres k-1 and k
        change = round(float((centres[k - 1] + centres[k]) / 2), 3)
        left[1] = right[0] = change
    return [Turn(round(s, 3), round(e, 3), int(v)) for s, e, v in out if e - s >= FRAME_S]


def turns_from(
    regions: list[tuple[float, float]], windows: list[tuple[float, float]], labels: np.ndarray
) -> list[Turn]:
    """Each 50 ms of speech takes the voice of the window whose centre is nearest; runs of one
    voice become turns, and a run too short to be a turn joins its neighbours' voice."""
    centres = np.array([(s + e) / 2 for s, e in windows])
    turns: list[Turn] = []
    for start, end in regions:
        frames = np.arange(start, end, FRAME_S)
        if len(frames) == 0:
            continue
        nearest = np.abs(frames[:, None] + FRAME_S / 2 - centres[None, :]).argmin(1)
        voice = labels[nearest]
        runs: list[list[float]] = []  # [start, end, voice]
        for t, v in zip(frames, voice, strict=True):
            if runs and runs[-1][2] == v:
                runs[-1][1] = min(t + FRAME_S, end)
            else:
                runs.append([t, min(t + FRAME_S, end), int(v)])
        merged: list[list[float]] = []
        for run in runs:
            if merged and run[1] - run[0] < MIN_TURN_S:
                merged[-1][1] = run[1]  # too short to be a turn of its own
            elif merged and merged[-1][2] == run[2]:
                merged[-1][1] = run[1]
            else:
                merged.append(run)
        turns += [Turn(round(s, 3), round(e, 3), int(v)) for s, e, v in merged]
    voices = in_order(np.array([t.voice for t in turns], dtype=int))  # voice 0 speaks first
    return [Turn(t.start, t.end, int(v)) for t, v in zip(turns, voices, strict=True)]
