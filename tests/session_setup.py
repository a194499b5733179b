"""Sessions for tests that need real audio in the vault: participants enrolled and consented,
a session planned for them, and AUDIO sealed into it through the real importer (a WAV written to
the test's folder and deleted at once, as an interviewer would after `audio import`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file


def imported_session(vault, study, tmp_path: Path, audio: np.ndarray, n: int = 1) -> tuple[str, list[str]]:
    """(session id, pseudonyms) of a session of N new participants holding AUDIO (16 kHz, mono
    or one column per channel)."""
    pids = []
    for _ in range(n):
        pid = participants.enrol(vault, study, group="service_user")
        consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
        pids.append(pid)
    sid = sessions.create_session(vault, pids)
    wav = tmp_path / f"{sid}.wav"
    sf.write(wav, audio, 16000, subtype="PCM_16")
    import_file(vault, sid, wav, channels=audio.ndim if audio.ndim == 1 else audio.shape[1])
    wav.unlink()
    return sid, pids
