"""The sealed audio file: a header, then length-prefixed AES-GCM records, one per ~1 s chunk.

    b"FSAUDIO1" | u16 header length | header JSON (session, codec, rate, channels — no audio)
    then for each chunk:  u32 length | sealed( u64 start frame | u32 frames | codec payload )

Each record is sealed with the session key; its associated data names the vault, the
session, the chunk's index and the audio format, so a flipped byte, two chunks swapped, a
chunk copied from another session or an edited header all fail authentication at a known
position. Every append is followed by fsync: after a crash or power cut the file holds every
chunk written before it, plus at most one torn record at the end, which recovery cuts off.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..crypto import AuthenticationFailed, open_sealed, seal
from ..errors import FieldscribeError

MAGIC = b"FSAUDIO1"
_LEN = struct.Struct(">I")
_HDR_LEN = struct.Struct(">H")
_CHUNK = struct.Struct(">QI")
MIN_RECORD = 1 + 12 + 16 + _CHUNK.size
MAX_RECORD = 64 * 1024 * 1024

AadFn = Callable[..., bytes]


class ChunkTampered(FieldscribeError):
    def __init__(self, session_id: str, index: int, seconds: float) -> None:
        self.index = index
        mm, ss = divmod(int(seconds), 60)
        super().__init__(
            f"Audio chunk {index} of session {session_id} (at {mm}:{ss:02d}) failed authentication: it was "
            "altered, reordered or copied from another recording; restore the vault from a backup."
        )


class AudioFileDamaged(FieldscribeError):
    pass


@dataclass(frozen=True)
class AudioFormat:
    codec: str
    rate: int
    channels: int


@dataclass(frozen=True)
class Chunk:
    index: int
    start_frame: int
    frames: int
    payload: bytes


@dataclass(frozen=True)
class ScanResult:
    chunks: int
    frames: int
    good_bytes: int  # length of the intact prefix of the file
    torn_bytes: int  # bytes after it (a torn final record)


def _aad(aad: AadFn, session_id: str, index: int, fmt: AudioFormat) -> bytes:
    return aad("audio", session_id, str(index), fmt.codec, str(fmt.rate), str(fmt.channels))


def _header(session_id: str, fmt: AudioFormat) -> bytes:
    body = json.dumps(
        {"session": session_id, "codec": fmt.codec, "rate": fmt.rate, "channels": fmt.channels},
        separators=(",", ":"),
    ).encode()
    return MAGIC + _HDR_LEN.pack(len(body)) + body


def read_header(path: Path) -> tuple[str, AudioFormat, int]:
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + _HDR_LEN.size)
        if len(head) < len(MAGIC) + _HDR_LEN.size or not head.startswith(MAGIC):
            raise AudioFileDamaged(f"{path.name} is not a fieldscribe audio file (bad header).")
        (n,) = _HDR_LEN.unpack(head[len(MAGIC) :])
        body = f.read(n)
    if len(body) != n:
        raise AudioFileDamaged(f"{path.name} has a truncated header.")
    info = json.loads(body)
    return info["session"], AudioFormat(info["codec"], int(info["rate"]), int(info["channels"])), len(head) + n


class ChunkWriter:
    """Appends sealed chunks to a session's audio file; used by the recorder's worker thread
    only (it never touches SQLite)."""

    def __init__(
        self,
        path: Path,
        session_id: str,
        fmt: AudioFormat,
        key: bytes,
        aad: AadFn,
        next_index: int = 0,
        next_frame: int = 0,
    ) -> None:
        self.path = path
        self.session_id = session_id
        self.format = fmt
        self._key = key
        self._aad = aad
        self.next_index = next_index
        self.next_frame = next_frame
        new = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if new:
            os.write(self._fd, _header(session_id, fmt))
            os.fsync(self._fd)
            _fsync_dir(path.parent)

    def append(self, frames: int, payload: bytes) -> Chunk:
        chunk = Chunk(self.next_index, self.next_frame, frames, payload)
        plaintext = _CHUNK.pack(chunk.start_frame, frames) + payload
        sealed = seal(self._key, plaintext, _aad(self._aad, self.session_id, chunk.index, self.format))
        # one write() per record: a crash tears at most this record
        os.write(self._fd, _LEN.pack(len(sealed)) + sealed)
        os.fsync(self._fd)
        self.next_index += 1
        self.next_frame += frames
        return chunk

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _records(path: Path) -> Iterator[tuple[int, int, bytes | None]]:
    """Yield (offset, record_end, sealed or None if torn) for each record in the file."""
    _sid, _fmt, offset = read_header(path)
    with open(path, "rb") as f:
        f.seek(offset)
        while True:
            head = f.read(_LEN.size)
            if not head:
                return
            if len(head) < _LEN.size:
                yield offset, offset + len(head), None
                return
            (n,) = _LEN.unpack(head)
            if n < MIN_RECORD or n > MAX_RECORD:
                yield offset, offset + _LEN.size, None
                return
            body = f.read(n)
            if len(body) < n:
                yield offset, offset + _LEN.size + len(body), None
                return
            yield offset, offset + _LEN.size + n, body
            offset += _LEN.size + n


def iter_chunks(
    path: Path, session_id: str, key: bytes, aad: AadFn, *, allow_torn_tail: bool = True, start_index: int = 0
) -> Iterator[Chunk]:
    """Decrypt chunks in order, verifying each one's position; raise ChunkTampered on the
    first chunk that does not authenticate (except a torn final record, which is skipped
    when allowed — that is what a crash leaves behind)."""
    sid, fmt, _ = read_header(path)
    if sid != session_id:
        raise ChunkTampered(session_id, 0, 0.0)
    frame = 0
    records = list(_records(path))
    for index, (_off, _end, sealed) in enumerate(records):
        last = index == len(records) - 1
        if sealed is None:
            if allow_torn_tail and last:
                return
            raise ChunkTampered(session_id, index, frame / fmt.rate)
        try:
            plain = open_sealed(key, sealed, _aad(aad, session_id, index, fmt))
        except AuthenticationFailed:
            if allow_torn_tail and last and _looks_torn(sealed):
                return
            raise ChunkTampered(session_id, index, frame / fmt.rate) from None
        start, frames = _CHUNK.unpack_from(plain)
        if start != frame:
            raise ChunkTampered(session_id, index, frame / fmt.rate)
        if index >= start_index:
            yield Chunk(index, start, frames, plain[_CHUNK.size :])
        frame += frames


def count_records(path: Path) -> int:
    """How many whole records the file holds, read from the length prefixes alone (no
    decryption): compared with the chunk count sealed when the recording ended, it finds a
    file cut at a chunk boundary, which every remaining chunk would still authenticate."""
    return sum(1 for _off, _end, sealed in _records(path) if sealed is not None)


def _looks_torn(sealed: bytes) -> bool:
    """A record whose tail is zero-filled is what a power cut leaves when the file size was
    updated before the data blocks reached the disk."""
    return sealed[-16:] == bytes(16)


def scan(path: Path, session_id: str, key: bytes, aad: AadFn) -> ScanResult:
    """Count the intact chunks and find where a torn tail starts."""
    chunks = frames = 0
    good_end = read_header(path)[2]
    for chunk in iter_chunks(path, session_id, key, aad, allow_torn_tail=True):
        chunks += 1
        frames += chunk.frames
    for index, (_off, end, _sealed) in enumerate(_records(path)):
        if index == chunks:
            break
        good_end = end
    size = path.stat().st_size
    return ScanResult(chunks=chunks, frames=frames, good_bytes=good_end, torn_bytes=size - good_end)


def truncate_torn_tail(path: Path, result: ScanResult) -> None:
    if result.torn_bytes:
        with open(path, "r+b") as f:
            f.truncate(result.good_bytes)
            f.flush()
            os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make a new file's name durable (POSIX needs the folder synced; Windows cannot open a
    folder this way, and NTFS journals the name itself)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ChunkTail:
    """Reads chunks as a recorder appends them (for live transcription): remembers where it
    stopped, verifies each chunk's position, and leaves a record that is still being written."""

    def __init__(self, path: Path, session_id: str, key: bytes, aad: AadFn, start_index: int = 0) -> None:
        self.path = path
        self.session_id = session_id
        self._key = key
        self._aad = aad
        self._offset: int | None = None
        self._format: AudioFormat | None = None
        self._skip = start_index
        self.next_index = 0
        self.next_frame = 0

    @property
    def format(self) -> AudioFormat | None:
        return self._format

    def read_new(self) -> list[Chunk]:
        if self._offset is None:
            if not self.path.exists():
                return []
            _sid, self._format, self._offset = read_header(self.path)
        assert self._format is not None
        out = []
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            while True:
                head = f.read(_LEN.size)
                if len(head) < _LEN.size:
                    break
                (n,) = _LEN.unpack(head)
                body = f.read(n)
                if len(body) < n:
                    break  # still being written
                try:
                    plain = open_sealed(
                        self._key, body, _aad(self._aad, self.session_id, self.next_index, self._format)
                    )
                except AuthenticationFailed:
                    raise ChunkTampered(self.session_id, self.next_index, self.next_frame / self._format.rate) from None
                start, frames = _CHUNK.unpack_from(plain)
                if start != self.next_frame:
                    raise ChunkTampered(self.session_id, self.next_index, self.next_frame / self._format.rate)
                if self.next_index >= self._skip:
                    out.append(Chunk(self.next_index, start, frames, plain[_CHUNK.size :]))
                self.next_index += 1
                self.next_frame += frames
                self._offset += _LEN.size + n
        return out
