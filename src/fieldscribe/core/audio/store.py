"""Reading sealed audio back: decrypted chunk by chunk into memory, never to a file —
except the explicit, audited plaintext export a person asks for."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import ledger, sessions
from ..errors import AudioTruncated, InvalidInput, RecordTampered
from ..recordings import audio_path, recording_info
from ..vault import Vault
from . import codec
from .chunkfile import count_records, iter_chunks, read_header


def _require_audio(vault: Vault, session_id: str) -> tuple[str, Path]:
    """The session's audio file, once it is known to be whole: every chunk authenticates on
    its own, so a file cut at a chunk boundary is found by comparing the number of records
    with the count sealed in the session's history when the recording ended. A recording
    still running (or interrupted, before recovery) has no final count yet."""
    sid = sessions.get_session(vault, session_id).id
    path = audio_path(vault, sid)
    info = recording_info(vault, sid)
    if info is None or not path.exists():
        raise InvalidInput(f"Session {sid} has no audio yet; record it or use `fieldscribe audio import`.")
    if info.state != "recording":
        ledger.check_session(vault, sid)
        found = count_records(path)
        if found != info.chunks:
            raise AudioTruncated(sid, found, info.chunks)
    return sid, path


def verify_audio(vault: Vault) -> list[str]:
    """Every finished recording's file against the chunk count sealed when it ended (length
    prefixes only, no decryption): one sentence per file cut short, for `audit verify`."""
    findings = []
    rows = vault.db.execute(
        "SELECT session_id FROM recordings WHERE state NOT IN ('recording', 'purged') ORDER BY session_id"
    ).fetchall()
    for (sid,) in rows:
        if not audio_path(vault, sid).exists():
            findings.append(f"The audio file of {sid} is missing.")
            continue
        try:
            _require_audio(vault, sid)
        except RecordTampered as exc:
            findings.append(str(exc))
    return findings


def audio_format(vault: Vault, session_id: str) -> tuple[int, int]:
    _sid, path = _require_audio(vault, session_id)
    _s, fmt, _ = read_header(path)
    return fmt.rate, fmt.channels


def iter_audio(vault: Vault, session_id: str, start: float = 0.0, end: float | None = None) -> Iterator[np.ndarray]:
    """Yield int16 blocks (n, channels) covering [start, end) seconds, one chunk at a time."""
    sid, path = _require_audio(vault, session_id)
    _s, fmt, _ = read_header(path)
    key = sessions.session_key(vault, sid)
    first = int(start * fmt.rate)
    last = None if end is None else int(end * fmt.rate)
    for chunk in iter_chunks(path, sid, key, vault.aad):
        c0, c1 = chunk.start_frame, chunk.start_frame + chunk.frames
        if c1 <= first:
            continue
        if last is not None and c0 >= last:
            return
        pcm = codec.decode(chunk.payload, fmt.channels)
        lo = max(0, first - c0)
        hi = len(pcm) if last is None else min(len(pcm), last - c0)
        yield pcm[lo:hi]


def read_audio(
    vault: Vault,
    session_id: str,
    start: float = 0.0,
    end: float | None = None,
    *,
    as_float: bool = False,
    mono: bool = False,
) -> tuple[np.ndarray, int]:
    """The decrypted audio of a range, in memory: int16 (n, ch), or float32 for Whisper."""
    rate, channels = audio_format(vault, session_id)
    blocks = list(iter_audio(vault, session_id, start, end))
    pcm = np.concatenate(blocks) if blocks else np.empty((0, channels), dtype=np.int16)
    if mono and pcm.shape[1] > 1:
        pcm = pcm.mean(axis=1, keepdims=True).astype(np.int16)
    if as_float:
        return (pcm.astype(np.float32) / 32768.0), rate
    return pcm, rate


def export_wav(vault: Vault, session_id: str, out: Path) -> float:
    """Write a plaintext WAV on purpose; audited, because it leaves the encryption behind.

    The interview in the clear is readable by its owner only: the file is created 0600 with
    O_EXCL (never readable by others, not even while it is written, and never replacing an
    existing file), folders made for it are 0700, and a failure part-way removes the partial
    file. A path where nothing can be written (/proc/self/x, a read-only disk) is one sentence."""
    import soundfile as sf

    rate, channels = audio_format(vault, session_id)  # no audio: refused before anything is created
    sid = sessions.get_session(vault, session_id).id
    out = Path(out)
    try:
        _private_folders(out.parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(out, flags, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{out} already exists; choose a new file name.") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise  # the CLI's disk-full sentence
        raise InvalidInput(
            f"The audio cannot be written to {out} ({exc.strerror}); choose a file in a folder you can write to."
        ) from None
    frames = 0
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            sf.SoundFile(raw, "w", samplerate=rate, channels=channels, subtype="PCM_16", format="WAV") as f,
        ):
            for block in iter_audio(vault, sid):
                f.write(block)
                frames += len(block)
    except BaseException:
        out.unlink(missing_ok=True)  # half an interview in the clear is still an interview in the clear
        raise
    # the file name is not logged: people name files after participants. Sealing the history
    # here makes the entry part of it: cutting it off the log is then caught.
    ledger.update_session(vault, sid, "audio.export_plaintext", sid, seconds=round(frames / rate, 1))
    return frames / rate


def _private_folders(folder: Path) -> None:
    """Create FOLDER and any missing parents as 0700 (mkdir(parents=True) gives parents the
    default mode); folders that already exist are the user's and are left as they are."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700)
