"""Make tests/data/legacy-v5-vault with the release before history ledgers (schema 5).

Run with the *old* source on the path, e.g.

    mkdir -p /tmp/prev && git archive 47e1f81 src | tar -x -C /tmp/prev
    PYTHONPATH=/tmp/prev/src .venv/bin/python tests/data/make_legacy_vault.py tests/data/legacy-v5-vault

It uses only what that release offered: enrolment, a consent history with a change of mind,
an imported recording with a timeline note and a finished transcript, a withdrawn
participant (whose interview became unreadable), and a failed unlock after the last anchor.
The passphrase is tests/conftest.py's PASSPHRASE; the key settings are its FAST_KDF.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

import numpy as np
import soundfile as sf

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.crypto import KdfParams
from fieldscribe.core.errors import WrongPassphrase
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import load_study
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import (
    begin_transcript,
    complete_transcript,
    store_segments,
)
from fieldscribe.core.vault import Vault

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"
FAST_KDF = KdfParams(memory_kib=8 * 1024, iterations=1, lanes=1)
ALL = {"participation": True, "audio_recording": True, "quotes": True, "withdrawal": True}


def main(out: Path) -> None:
    study = load_study(ROOT / "assets" / "guides" / "peer-support-daycare.en.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vault"
        vault, _ = Vault.create(path, PASSPHRASE, kdf=FAST_KDF)
        import_guide(vault, study)
        s = study.study
        p1 = participants.enrol(vault, s, group="service_user", name="Legacy Person",
                                eligibility=participants.all_eligible(s), baseline={"age": "40"})
        consent.record_consent(vault, s, p1, ALL)
        consent.record_consent(vault, s, p1, {"quotes": False})
        p2 = participants.enrol(vault, s, group="service_user", name="Leaving Person")
        consent.record_consent(vault, s, p2, ALL)
        s1 = sessions.create_session(vault, [p1])
        s2 = sessions.create_session(vault, [p2])
        wav = Path(tmp) / "interview.wav"
        t = np.arange(3 * 16000) / 16000
        sf.write(wav, (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16), 16000, subtype="PCM_16")
        import_file(vault, s1, wav)
        timeline.add_event(vault, s1, timeline.NOTE, 1.0, text="laughs", preset="laughs")
        run = begin_transcript(vault, s1, EngineSettings(model="tiny.en"), 3.0)
        key = sessions.session_key(vault, s1)
        segs = [Segment(0.0, 1.0, "Hello there."), Segment(1.0, 2.0, "It was fine."), Segment(2.0, 3.0, "Thanks.")]
        store_segments(vault, run, key, segs, [], 3.0)
        complete_transcript(vault, run)
        participants.withdraw(vault, p2, p2)
        assert sessions.get_session(vault, s2).status == sessions.WITHDRAWN
        vault.close()
        again = Vault.open(path)
        with suppress(WrongPassphrase):  # a failed unlock: the one entry allowed after the anchor
            again.unlock("not the passphrase")
        again.close()
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        shutil.copy2(path / "vault.db", out / "vault.db")
        (out / "blobs").mkdir()
        shutil.copy2(path / "blobs" / f"{s1}.audio", out / "blobs" / f"{s1}.audio")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
