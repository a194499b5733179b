"""Per-chunk audio codecs.

Every chunk is a complete little file of its own (a FLAC or an Ogg Opus stream in memory),
so any chunk decodes without the ones before it: a file cut anywhere still yields every
whole chunk before the cut. libsndfile's encoders seek back to finish headers, which is why
we encode into a BytesIO and never into a growing file.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

CODECS = {
    # lossless archive copy: ~1.2 MiB per minute of 16 kHz mono speech
    "flac": ("FLAC", "PCM_16"),
    # ~5–10× smaller, lossy; for long studies on small disks
    "opus": ("OGG", "OPUS"),
}
OPUS_RATES = {8000, 12000, 16000, 24000, 48000}


def check_codec(codec: str, rate: int) -> None:
    from ..errors import InvalidInput

    if codec not in CODECS:
        raise InvalidInput(f"Unknown audio codec {codec!r}; use {' or '.join(CODECS)}.")
    if codec == "opus" and rate not in OPUS_RATES:
        raise InvalidInput(f"Opus cannot encode {rate} Hz; use one of {sorted(OPUS_RATES)} Hz or FLAC.")


def encode(pcm: np.ndarray, rate: int, codec: str) -> bytes:
    """Encode int16 frames (shape (n,) or (n, channels)) as one self-contained chunk."""
    fmt, subtype = CODECS[codec]
    buf = io.BytesIO()
    sf.write(buf, pcm, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def decode(payload: bytes, channels: int) -> np.ndarray:
    """Decode one chunk to int16 frames of shape (n, channels)."""
    data, _rate = sf.read(io.BytesIO(payload), dtype="int16", always_2d=True)
    if data.shape[1] != channels:
        raise ValueError(f"chunk has {data.shape[1]} channels, expected {channels}")
    return data  # type: ignore[no-any-return]  # soundfile is untyped
