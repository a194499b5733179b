"""The services seam on a real vault: what the app is shown (views, not core records) and an
interview driven through the services' Interview, with the real recorder on a clocked array."""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest

from fieldscribe.core import consent, participants, sessions, timeline
from fieldscribe.core.audio.recorder import RecorderConfig
from fieldscribe.services import FieldscribeError, InvalidInput, NotEligible, Services, views

from .audio_fakes import ArraySource, speechlike
from .conftest import PASSPHRASE
from .tui_helpers import make_vault


@pytest.fixture
def services(vault_path, study_en):
    make_vault(vault_path, study_en)
    svc = Services(
        vault_path,
        source_factory=lambda: ArraySource(speechlike(120), realtime=True),
        recorder_config=lambda: RecorderConfig(device=None, codec="flac"),
    )
    svc.unlock(PASSPHRASE)
    yield svc
    svc.close()


def _carer_session(svc: Services, study) -> str:
    pid = participants.enrol(
        svc.vault, study.study, group="carer", name="Wei Zhang", eligibility=participants.all_eligible(study.study)
    )
    consent.record_consent(svc.vault, study.study, pid, {c.id: True for c in study.study.consent})
    return svc.create_session([pid])


def test_a_carer_is_asked_the_carers_wording_of_each_question(services, study_en):
    sid = _carer_session(services, study_en)
    asked = services.questions(sid)
    first = asked[0]
    assert first.id == "q1" and first.domain_id == "peers"
    assert first.text.startswith("To begin, could you tell me what you know about the people the person you care for")
    assert first.probes and all(isinstance(p, str) for p in first.probes)
    # a service user's session (S1) gets the plain wording
    assert services.questions("S1")[0].text.startswith("To begin, could you tell me about the people you spend time")


def test_views_are_frozen_values_not_core_records(services):
    board = services.dashboard()
    session = services.session("S1")
    assert isinstance(board, views.Dashboard) and isinstance(session, views.SessionView)
    assert session.participants == ("P1",) and session.status == sessions.PLANNED
    with pytest.raises(dataclasses.FrozenInstanceError):
        session.status = "recorded"  # type: ignore[misc]


def test_the_enrolment_form_reads_the_audio_item_last_and_checks_answers(services, study_en):
    form = services.enrolment_form()
    assert [c.audio_recording for c in form.consent] == [False] * (len(form.consent) - 1) + [True]
    assert {g.value for g in form.groups} == {"service_user", "carer", "staff"}
    age = next(f for f in form.fields if f.id == "age")
    assert age.input == "integer" and "–" in age.label  # the range is shown with the label
    assert services.parse_answer("age", "42") == 42
    with pytest.raises(InvalidInput):
        services.enrol(
            group="service_user",
            name=None,
            site=None,
            contact=None,
            eligibility={c.id: True for c in form.inclusion} | {c.id: False for c in form.exclusion},
            baseline={},
            compensation=None,
            consent_decisions={},  # nothing read out: nothing stored
        )
    if form.exclusion:
        with pytest.raises(NotEligible):
            services.check_eligibility(
                {c.id: True for c in form.inclusion} | {c.id: i == 0 for i, c in enumerate(form.exclusion)}
            )


def test_an_interview_driven_through_the_services_stamps_every_mark(services):
    asked = services.questions("S1")
    levels: list[float] = []
    interview = services.start_interview("S1", on_level=levels.append)
    try:
        marks = [interview.ask(asked[0])]
        time.sleep(0.3)
        marks.append(interview.probe(asked[0], 2))
        at = interview.position
        marks.append(interview.note("long silence", at=at, preset="long pause"))
        marks.append(interview.flag())
        marks.append(interview.pause())
        marks.append(interview.resume())
        marks.append(interview.ask(asked[1]))
        time.sleep(0.3)
        assert interview.running
    finally:
        result = interview.stop()
    assert result.error is None and result.seconds > 0.4 and not result.transcript_ready
    assert levels and all(isinstance(db, float) for db in levels)
    assert [m.kind for m in marks] == ["question", "probe", "note", "flag", "pause", "resume", "question"]
    assert all(a.t <= b.t for a, b in itertools.pairwise(marks))
    stamped = [(e.kind, e.data) for e in timeline.events(services.vault, "S1") if e.kind != timeline.WARNING]
    assert services.session("S1").status == sessions.RECORDED
    assert stamped[0] == ("question", {"question": asked[0].id, "domain": asked[0].domain_id})
    assert ("probe", {"question": asked[0].id, "probe": 2}) in stamped
    assert ("note", {"text": "long silence", "preset": "long pause"}) in stamped
    assert [k for k, _ in stamped] == ["question", "probe", "note", "flag", "pause", "resume", "question"]


def test_an_interview_without_audio_consent_does_not_start(services, study_en):
    pid = participants.enrol(
        services.vault, study_en.study, group="service_user", eligibility=participants.all_eligible(study_en.study)
    )
    consent.record_consent(
        services.vault, study_en.study, pid, {c.id: not c.audio_recording for c in study_en.study.consent}
    )
    sid = services.create_session([pid])
    with pytest.raises(FieldscribeError) as refused:
        services.start_interview(sid)
    assert "audio" in str(refused.value).lower()
    assert services.session(sid).status == sessions.PLANNED


def test_close_waits_for_a_worker_still_inside_the_vault(services, monkeypatch):
    """Closing SQLite beneath a running worker crashed the app at exit (status 139): close()
    waits for calls in flight."""
    import threading

    from fieldscribe.core import final_pass

    entered, results = threading.Event(), []

    def slow_waiting(vault):
        entered.set()
        time.sleep(0.8)
        assert sessions.list_sessions(vault)  # still reads the vault after close() was asked
        return []

    monkeypatch.setattr(final_pass, "waiting", slow_waiting)
    worker = threading.Thread(target=lambda: results.append(services.final_passes()))
    worker.start()
    assert entered.wait(5)
    started = time.monotonic()
    services.close()
    worker.join(5)
    assert time.monotonic() - started >= 0.5 and results == [[]], "close() returned before the worker left the vault"
    assert not services.unlocked
