"""The demo vault behind the README's run command: the bundled study with a few fictional
participants, so a newcomer sees a realistic field day without entering anything.
All names here are invented."""

from __future__ import annotations

from pathlib import Path

from . import consent, participants, sessions
from .guides import import_guide
from .study import StudyFile
from .vault import Vault

DEMO_PEOPLE = [
    # name, site, group, baseline, consent (audio?)
    (
        "Demo Person One",
        "Harbour View Day Centre",
        "service_user",
        {"age": 42, "gender": "female", "years_attending": 3},
        True,
    ),
    (
        "Demo Person Two",
        "Riverside Day Centre",
        "service_user",
        {"age": 35, "gender": "male", "years_attending": 2},
        False,
    ),
    (
        "Demo Person Three",
        "Harbour View Day Centre",
        "service_user",
        {"age": 58, "gender": "female", "years_attending": 9},
        True,
    ),
]


def build_demo(path: Path, passphrase: str, studies: list[StudyFile]) -> bool:
    """Create the demo vault if it is not there yet; return whether it was created."""
    if (path / "vault.db").exists():
        return False
    vault, _recovery = Vault.create(path, passphrase)
    with vault:
        # the newest import is the current guide: import the first study last
        for sf in reversed(studies):
            import_guide(vault, sf)
        study = studies[0].study
        pids = []
        for name, site, group, baseline, audio in DEMO_PEOPLE:
            known = {k: v for k, v in baseline.items() if any(f.id == k for f in study.questionnaire)}
            pid = participants.enrol(
                vault,
                study,
                group=group,
                name=name,
                site=site,
                eligibility=participants.all_eligible(study),
                baseline=known,
            )
            decisions = {c.id: True for c in study.consent}
            decisions[study.audio_consent_item.id] = audio
            consent.record_consent(vault, study, pid, decisions, taken_by="demo")
            pids.append(pid)
        sessions.create_session(vault, [pids[0]])
        sessions.create_session(vault, [pids[0], pids[2]])
    return True
