"""The session state machine: every status change goes through ``sessions.set_status``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldscribe.core import consent, ledger, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.errors import InvalidInput, InvalidTransition

SRC = Path(__file__).resolve().parents[1] / "src" / "fieldscribe"
RAW_STATUS_UPDATE = re.compile(r"UPDATE\s+sessions\s+SET\s+status", re.IGNORECASE)


def test_only_the_state_machine_writes_a_session_status():
    writers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if RAW_STATUS_UPDATE.search(path.read_text(encoding="utf-8"))
    )
    assert writers == ["core/sessions.py"]


def consented_session(vault, study) -> str:
    pid = participants.enrol(vault, study, group="service_user")
    consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
    return sessions.create_session(vault, [pid])


def session_status_entries(vault, sid):
    return [e for e in vault.audit.entries() if e.action == "session.status" and e.subject == sid]


def test_an_illegal_transition_is_refused_in_one_sentence_and_changes_nothing(vault, study_en):
    sid = consented_session(vault, study_en.study)
    with pytest.raises(InvalidTransition) as refused:
        sessions.set_status(vault, sid, sessions.EXPORTED)
    message = str(refused.value)
    assert message == f"Session {sid} is planned; it cannot become exported from there."
    assert "\n" not in message and message.count(". ") == 0
    assert sessions.get_session(vault, sid).status == sessions.PLANNED
    assert session_status_entries(vault, sid) == []
    with pytest.raises(InvalidTransition, match="cannot become nonsense"):
        sessions.set_status(vault, sid, "nonsense")


def test_a_session_ends_only_as_its_key_is_destroyed(vault, study_en):
    sid = consented_session(vault, study_en.study)
    with pytest.raises(InvalidTransition, match="only once its key is destroyed"):
        sessions.set_status(vault, sid, sessions.WITHDRAWN)
    assert sessions.get_session(vault, sid).status == sessions.PLANNED
    assert ledger.verify_all(vault) == []


def test_a_failed_import_goes_back_to_planned_through_the_state_machine(vault, study_en, tmp_path):
    sid = consented_session(vault, study_en.study)
    junk = tmp_path / "junk.m4a"
    junk.write_bytes(b"definitely not audio" * 50)
    with pytest.raises(InvalidInput):
        import_file(vault, sid, junk)
    assert sessions.get_session(vault, sid).status == sessions.PLANNED
    last = session_status_entries(vault, sid)[-1]
    assert (last.details["old"], last.details["new"], last.details["reason"]) == (
        sessions.RECORDING,
        sessions.PLANNED,
        "the import failed",
    )
    assert ledger.verify_all(vault) == []


def test_withdrawal_ends_each_session_once_through_the_state_machine(vault, study_en):
    s = study_en.study
    sid = consented_session(vault, s)
    pid = sessions.get_session(vault, sid).participants[0]
    assert sessions.withdraw_participant(vault, pid, pid) == [sid]
    assert sessions.get_session(vault, sid).status == sessions.WITHDRAWN
    (ended,) = session_status_entries(vault, sid)
    assert ended.details["new"] == sessions.WITHDRAWN and ended.details["ledger"] == {f"session/{sid}": None}
    drops = [e for e in vault.audit.entries() if (e.details.get("ledger") or {}).get(f"session/{sid}", "kept") is None]
    assert drops == [ended]
    (gone,) = [e for e in vault.audit.entries() if e.action == "participant.withdraw"]
    assert gone.subject == pid and gone.details["sessions_shredded"] == [sid]
    assert ledger.verify_all(vault) == []


def test_a_planned_session_can_be_cancelled_but_never_one_with_audio(vault, study_en, tmp_path):
    from .audio_fakes import speechlike

    sid = consented_session(vault, study_en.study)
    assert sessions.cancel_session(vault, sid).status == sessions.CANCELLED
    last = session_status_entries(vault, sid)[-1]
    assert (last.details["old"], last.details["new"]) == (sessions.PLANNED, sessions.CANCELLED)
    with pytest.raises(InvalidTransition):
        sessions.start_recording(vault, sid)  # nothing more happens to it
    with pytest.raises(InvalidTransition, match="only a planned session with no audio"):
        sessions.cancel_session(vault, sid)
    recorded = consented_session(vault, study_en.study)
    wav = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(wav, speechlike(2.0), 16000, subtype="PCM_16")
    import_file(vault, recorded, wav)
    with pytest.raises(InvalidTransition, match="only a planned session with no audio"):
        sessions.cancel_session(vault, recorded)
    assert sessions.get_session(vault, recorded).status == sessions.RECORDED
    assert ledger.verify_all(vault) == []
