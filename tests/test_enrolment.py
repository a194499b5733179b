"""Enrolment, consent and sessions in the core: what the field day relies on."""

from __future__ import annotations

import pytest

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.errors import (
    ConsentMissing,
    InvalidAnswer,
    InvalidInput,
    InvalidTransition,
    NotEligible,
    UnknownParticipant,
    UnknownSession,
)
from fieldscribe.core.guides import current_guide, import_guide, list_guides


def test_pseudonyms_are_sequential_and_stable(vault, study_en):
    s = study_en.study
    ids = [participants.enrol(vault, s, group="service_user") for _ in range(3)]
    assert ids == ["P1", "P2", "P3"]
    assert [p.id for p in participants.list_participants(vault)] == ids
    assert participants.normalise_pseudonym(" p2 ") == "P2"
    assert participants.normalise_pseudonym("3") == "P3"
    with pytest.raises(InvalidInput, match="pseudonyms look like"):
        participants.normalise_pseudonym("Bob")


def test_exclusion_blocks_enrolment_and_stores_nothing(vault, study_en):
    s = study_en.study
    answers = participants.all_eligible(s)
    excl = s.eligibility.exclusion[0]
    answers[excl.id] = True
    with pytest.raises(NotEligible, match="exclusion criterion applies"):
        participants.enrol(vault, s, group="service_user", name="Excluded", eligibility=answers)
    unmet = participants.all_eligible(s)
    unmet[s.eligibility.inclusion[0].id] = False
    with pytest.raises(NotEligible, match="inclusion criterion not met"):
        participants.enrol(vault, s, group="service_user", eligibility=unmet)
    assert participants.list_participants(vault) == []
    assert participants.enrol(vault, s, group="service_user", eligibility=participants.all_eligible(s)) == "P1"


def test_unanswered_or_unknown_criteria_are_refused(vault, study_en):
    s = study_en.study
    partial = participants.all_eligible(s)
    partial.pop(s.eligibility.inclusion[-1].id)
    with pytest.raises(InvalidInput, match="not answered"):
        participants.enrol(vault, s, group="service_user", eligibility=partial)
    with pytest.raises(InvalidInput, match="Unknown eligibility criterion"):
        participants.enrol(vault, s, group="service_user", eligibility={**participants.all_eligible(s), "tall": True})


def test_bad_answers_and_groups_store_nothing(vault, study_en):
    s = study_en.study
    with pytest.raises(InvalidAnswer):
        participants.enrol(vault, s, group="service_user", baseline={"age": "200"})
    with pytest.raises(InvalidInput, match="Unknown group"):
        participants.enrol(vault, s, group="astronauts")
    assert participants.list_participants(vault) == []


def test_participant_record_round_trip(vault, study_en):
    s = study_en.study
    pid = participants.enrol(
        vault,
        s,
        group="service_user",
        name="Chan Tai Man",
        site="Riverside",
        contact="5555 0000",
        eligibility=participants.all_eligible(s),
        baseline={"age": "41", "gender": "male"},
        compensation="HK$100 voucher",
    )
    participants.update(vault, s, pid, baseline={"years_attending": "4"}, identity={"contact": "5555 1111"})
    p = participants.get_participant(vault, pid)
    assert p.identity == {"name": "Chan Tai Man", "contact": "5555 1111"}
    assert p.baseline == {"age": 41, "gender": "male", "years_attending": 4}
    assert p.eligibility["screened"] is True
    assert p.compensation["given"] == "HK$100 voucher"
    assert p.site == "Riverside"
    with pytest.raises(UnknownParticipant):
        participants.get_participant(vault, "P9")


def test_consent_history_keeps_every_decision(vault, study_en):
    s = study_en.study
    pid = participants.enrol(vault, s, group="service_user")
    consent.record_consent(vault, s, pid, {c.id: True for c in s.consent}, taken_by="Interviewer A")
    assert consent.consent_complete(vault, s, pid)
    consent.record_consent(vault, s, pid, {"quotes": False}, taken_by="Interviewer B")
    assert not consent.consent_complete(vault, s, pid)
    history = consent.consent_history(vault, pid)
    assert [(d.item_id, d.given) for d in history][-1] == ("quotes", False)
    assert len(history) == len(s.consent) + 1
    assert consent.current_consent(vault, pid)["participation"].taken_by == "Interviewer A"
    with pytest.raises(InvalidInput, match="Unknown consent item"):
        consent.record_consent(vault, s, pid, {"pizza": True})


def test_recording_is_impossible_without_audio_consent(vault, study_en):
    s = study_en.study
    a = participants.enrol(vault, s, group="service_user")
    b = participants.enrol(vault, s, group="service_user")
    consent.record_consent(vault, s, a, {c.id: True for c in s.consent})
    consent.record_consent(vault, s, b, {c.id: c.id != "audio_recording" for c in s.consent})
    solo = sessions.create_session(vault, [b])
    group = sessions.create_session(vault, [a, b])
    for sid in (solo, group):
        with pytest.raises(ConsentMissing, match=f"missing for {b}"):
            sessions.start_recording(vault, sid)
        assert sessions.get_session(vault, sid).status == sessions.PLANNED
    # audio consent given later, then withdrawn again: the latest decision counts
    consent.record_consent(vault, s, b, {"audio_recording": True})
    assert sessions.start_recording(vault, solo).status == sessions.RECORDING
    consent.record_consent(vault, s, b, {"audio_recording": False})
    with pytest.raises(ConsentMissing):
        sessions.start_recording(vault, group)


def test_session_lifecycle_and_waves(vault, study_en):
    s = study_en.study
    pid = participants.enrol(vault, s, group="service_user")
    consent.record_consent(vault, s, pid, {c.id: True for c in s.consent})
    w1 = sessions.create_session(vault, [pid])
    w2 = sessions.create_session(vault, [pid], wave=2)
    assert [(x.id, x.wave, x.kind) for x in sessions.list_sessions(vault)] == [
        (w1, 1, "interview"),
        (w2, 2, "interview"),
    ]
    with pytest.raises(InvalidTransition, match="cannot become reviewed"):
        sessions.set_status(vault, w1, sessions.REVIEWED)
    sessions.start_recording(vault, w1)
    for state in (sessions.RECORDED, sessions.TRANSCRIBED, sessions.REVIEWED, sessions.EXPORTED):
        assert sessions.set_status(vault, w1, state).status == state
    with pytest.raises(UnknownSession):
        sessions.get_session(vault, "S99")
    with pytest.raises(InvalidInput):
        sessions.create_session(vault, [pid], wave=0)
    with pytest.raises(InvalidInput, match="listed twice"):
        sessions.create_session(vault, [pid, pid])
    with pytest.raises(InvalidInput, match="at least one participant"):
        sessions.create_session(vault, [])


def test_sessions_record_the_guide_version_they_used(vault, study_en, study_zh):
    s = study_en.study
    pid = participants.enrol(vault, s, group="service_user")
    first = sessions.create_session(vault, [pid])
    import_guide(vault, study_zh)
    second = sessions.create_session(vault, [pid], wave=2)
    third = sessions.create_session(vault, [pid], wave=3, guide_ref="en")
    assert sessions.get_session(vault, first).guide_sha256 == study_en.sha256
    assert sessions.get_session(vault, second).guide_sha256 == study_zh.sha256
    assert sessions.get_session(vault, third).guide_sha256 == study_en.sha256
    assert current_guide(vault).sha256 == study_zh.sha256
    # importing the same file again does not create a new version
    _, new = import_guide(vault, study_zh)
    assert not new and len(list_guides(vault)) == 2
