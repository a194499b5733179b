"""Voice fingerprints: CAM++ embeddings of short windows of speech, through onnxruntime."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np

MODEL = Path(__file__).with_name("campplus_cn_en_common.onnx")
RATE = 16000
DIM = 192
BATCH = 16  # windows of equal length per model call


@functools.cache
def onnx_session(model: Path, threads: int) -> Any:
    """One CPU session per model and thread count, made on first use (onnxruntime loads when
    it is first needed, not at start-up)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


_lock = threading.Lock()


def fbank(samples: np.ndarray) -> np.ndarray:
    """80 Kaldi log-mel filterbanks per 10 ms frame (25 ms windows), as the model was trained
    on, minus their mean over the window (so the recording's level does not matter)."""
    import kaldi_native_fbank as knf

    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.frame_opts.samp_freq = RATE
    options.mel_opts.num_bins = 80
    computer = knf.OnlineFbank(options)
    computer.accept_waveform(RATE, samples.astype(np.float32).tolist())
    computer.input_finished()
    feats: np.ndarray = np.array([computer.get_frame(i) for i in range(computer.num_frames_ready)], dtype=np.float32)
    centred: np.ndarray = feats - feats.mean(axis=0, keepdims=True)
    return centred


def embed(
    audio: np.ndarray,
    windows: list[tuple[float, float]],
    *,
    threads: int = 1,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Unit-length embeddings [len(windows), 192] of AUDIO (16 kHz mono float) cut at WINDOWS
    (start, end) in seconds. Windows of one length are batched. Once CANCEL is set the
    remaining windows are left as zeros (the caller throws the result away)."""
    if not windows:
        return np.zeros((0, DIM), dtype=np.float32)
    feats = [fbank(audio[int(s * RATE) : int(e * RATE)]) for s, e in windows]
    out = np.zeros((len(feats), DIM), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for i, f in enumerate(feats):
        by_length.setdefault(len(f), []).append(i)
    session = onnx_session(MODEL, threads)
    with _lock:  # one model call at a time per process: the laptop has two cores
        for indices in by_length.values():
            for at in range(0, len(indices), BATCH):
                if cancel is not None and cancel.is_set():
                    break
                chunk = indices[at : at + BATCH]
                out[chunk] = session.run(None, {"feats": np.stack([feats[i] for i in chunk])})[0]
    unit: np.ndarray = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return unit
