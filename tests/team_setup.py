"""Laptops of one study team for tests: real vaults (the cheap test KDF), a lead identity whose
receipt key signs the team file, join requests approved and joined. Shared by the hand-over
tests; tests/test_team.py has the same steps inline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.deid.lists import add_participant_identifiers
from fieldscribe.core.deid.review import decide, mark_reviewed
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import StudyFile, parse_study
from fieldscribe.core.sync.membership import approve, join, make_join_request
from fieldscribe.core.sync.trust import receipt_key_hex
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE

SITES = ("harbour_view", "riverside", "hillside")


def team_study(study: StudyFile, identity: Path, hand_over: str | None = None) -> StudyFile:
    """The study file listing the team's receipt key (and, when given, `team: hand_over:`)."""
    text = study.text.rstrip("\n") + f"\nexport:\n  receipt_keys: [{receipt_key_hex(identity)}]\n"
    if hand_over:
        text += f"team:\n  hand_over: {hand_over}\n"
    return parse_study(text)


def laptops(
    tmp_path: Path, study: StudyFile, names: tuple[str, ...], members: int, hand_over: str | None = None
) -> tuple[Path, list[Vault]]:
    """(the lead's identity, vaults NAMES): the first MEMBERS of them joined the team; the rest
    have the same study file but are not in the team file."""
    identity, _recipient = keygen(tmp_path / "lead" / "team.key")
    keyed = team_study(study, identity, hand_over)
    vaults = []
    for name in names:
        v, _ = Vault.create(tmp_path / f"laptop-{name}", PASSPHRASE, kdf=FAST_KDF)
        import_guide(v, keyed)
        vaults.append(v)
    team_path = tmp_path / "lead" / "TEAM.json"
    for i, v in enumerate(vaults[:members]):
        approve(make_join_request(v, f"Interviewer {names[i].upper()}", SITES[i % 3]), team_path, identity)
    data = team_path.read_bytes()
    for v in vaults[:members]:
        join(v, data)
    return identity, vaults


def full_participant(v: Vault, study: StudyFile, name: str = "Hope Mensah") -> str:
    """A participant with every kind of record: identity, screening, baseline, compensation,
    a note, an identifier, and a consent history of two decisions on one item."""
    s = study.study
    pid = participants.enrol(
        v,
        s,
        group="service_user",
        name=name,
        site="harbour_view",
        contact="07700 900461",
        notes="met at the ferry",
        eligibility=participants.all_eligible(s),
        baseline={"age": "44", "gender": "female"},
        compensation="£20 voucher",
    )
    consent.record_consent(v, s, pid, {c.id: True for c in s.consent})
    consent.record_consent(v, s, pid, {"quotes": False}, notes={"quotes": "changed her mind"})
    add_participant_identifiers(v, pid, ["Mary Ofori=sister"])
    participants.add_note(v, pid, "prefers mornings")
    return pid


def transcribed(v: Vault, pid: str, lines: list[str], tmp: Path, *, wave: int = 1, review: bool = True) -> str:
    """A one-to-one session of PID with imported audio and a finished transcript of LINES
    (reviewed with every suggestion accepted, unless REVIEW is false)."""
    sid = sessions.create_session(v, [pid], wave=wave)
    wav = tmp / f"{v.device_id[:6]}-{sid}.wav"
    sf.write(wav, (np.sin(np.arange(48000) / 16000 * 2 * np.pi * 220) * 8000).astype(np.int16), 16000)
    import_file(v, sid, wav)
    wav.unlink()
    t = begin_transcript(v, sid, EngineSettings(model="test", language="en"), 15.0)
    segs = [Segment(i * 4.0, i * 4.0 + 3.0, line) for i, line in enumerate(lines)]
    store_segments(v, t, sessions.session_key(v, sid), segs, [], 15.0)
    complete_transcript(v, t)
    if review:
        decide(v, sid, accept_all=True)
        mark_reviewed(v, sid)
    return sid
