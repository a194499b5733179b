"""Services for the rest of the field day: planning with date, site and wave, notes on a
participant, the consent summary to print, and the laptop's battery and disk.

Every method returns a frozen view defined here (never a core object) and raises the core's
typed errors, whose ``str()`` is the sentence to show. The interview's own clock (time on the
current question, the domain's budget) lives on :class:`~.interview.Interview`, which reports
it as a :class:`QuestionTiming`.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..core import participants, sessions
from ..core.errors import InvalidInput
from ..core.guides import current_guide, load_guide
from ..core.study import Study
from .calls import ServiceBase, counted

# -- views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteChoice:
    id: str
    name: str


@dataclass(frozen=True)
class PlanningForm:
    """What the "plan an interview" form offers for these participants."""

    participants: tuple[str, ...]
    wave: int  # suggested: one past the highest wave of their sessions that were not cancelled
    date: str  # suggested: today, ISO (YYYY-MM-DD)
    sites: tuple[SiteChoice, ...]  # the study's sites, in the study file's order
    site: str | None  # suggested: the (first) participant's enrolment site, when it is one of them


@dataclass(frozen=True)
class PlannedSession:
    id: str
    kind: str  # interview | focus_group
    wave: int
    status: str
    participants: tuple[str, ...]
    date: str | None  # ISO date it is planned for
    site_id: str | None
    site_name: str | None  # from the session's own study file


@dataclass(frozen=True)
class ParticipantNoteView:
    text: str
    at: str  # ISO time written
    by: str  # who wrote it


@dataclass(frozen=True)
class ConsentLineView:
    item_id: str
    text: str  # in the study's language
    decision: Literal["given", "refused", "not recorded"]
    date: str | None  # YYYY-MM-DD
    taken_by: str | None


@dataclass(frozen=True)
class ConsentSummaryView:
    """The participant's copy as shown on screen: pseudonym only, no name."""

    pseudonym: str
    study_title: str
    ethics_reference: str
    language: str
    items: tuple[ConsentLineView, ...]


@dataclass(frozen=True)
class LaptopStatus:
    """Disk and battery, for the dashboard and the interview screen (poll every minute or so)."""

    level: Literal["ok", "warning", "critical"]  # the worse of the two
    disk_line: str  # "Disk: 1.2 GB free — about 10 h of recording left"
    battery_line: str  # "Battery 80%, on mains" / "Battery: not reported on this computer"
    warnings: tuple[str, ...]  # lines to show prominently, worst first (empty when all is well)
    disk_free_bytes: int
    recording_seconds_left: float
    battery_percent: float | None  # None: not reported
    on_mains: bool | None
    disk_level: Literal["ok", "warning", "critical"] = "ok"
    battery_level: Literal["ok", "warning", "critical"] = "ok"


@dataclass(frozen=True)
class QuestionTiming:
    """Time on the current question and its domain (seconds on the recording's clock)."""

    question_id: str
    domain_id: str
    question_s: float  # on this question, every visit added up
    domain_s: float  # on this domain, every visit added up
    domain_budget_s: float | None  # the study file's budget_minutes for the domain, in seconds

    @property
    def over_budget(self) -> bool:
        """The gentle cue: the domain has run past its budget."""
        return self.domain_budget_s is not None and self.domain_s > self.domain_budget_s

    @property
    def budget_left_s(self) -> float | None:
        return None if self.domain_budget_s is None else self.domain_budget_s - self.domain_s


# -- the services ------------------------------------------------------------------------------


class FieldDay(ServiceBase):
    """Planning, notes and the laptop's own state (mixed into :class:`~.app_services.Services`)."""

    vault_path: Path  # set by Services

    def _current_study(self) -> Study:
        return current_guide(self.vault).study

    # -- planning ---------------------------------------------------------------------------------
    def next_wave(self, pids: list[str]) -> int:
        """The wave to suggest: one past the highest wave of any of them (1 for new people)."""
        if not pids:
            raise InvalidInput("Choose at least one participant to plan a session with.")
        return max(sessions.next_wave(self.vault, pid) for pid in pids)

    def planning_form(self, pids: list[str]) -> PlanningForm:
        """Suggestions for planning a session with PIDS: the next wave, today, their site."""
        active = tuple(participants.require_active(self.vault, p) for p in pids)
        study = self._current_study()
        site = None
        if active:
            enrolled = next(p.site for p in participants.list_participants(self.vault) if p.id == active[0])
            try:
                site = sessions.resolve_site(study, enrolled)
            except InvalidInput:
                site = None  # enrolled at a place the study file does not list: no suggestion
        return PlanningForm(
            participants=active,
            wave=self.next_wave(list(active)),
            date=dt.date.today().isoformat(),
            sites=tuple(SiteChoice(s.id, s.name) for s in study.study.sites),
            site=site,
        )

    @counted
    def plan_session(
        self, pids: list[str], *, wave: int | None = None, date: str | None = None, site: str | None = None
    ) -> PlannedSession:
        """Plan an interview (one participant) or focus group (several). WAVE defaults to the
        suggested next wave; DATE is ISO (YYYY-MM-DD); SITE is a site id or name of the study.
        Refused in one sentence (InvalidInput) for a bad date, unknown site or wave below 1."""
        chosen = wave if wave is not None else self.next_wave(pids)
        sid = sessions.create_session(self.vault, pids, wave=chosen, date=date, site=site)
        return self.session_plan(sid)

    def session_plan(self, sid: str) -> PlannedSession:
        """A session with its planned date and site (None for either when not given)."""
        s = sessions.get_session(self.vault, sid)
        plan = sessions.session_plan(self.vault, s.id)
        name = None
        if plan.site is not None:
            sites = {x.id: x.name for x in load_guide(self.vault, s.guide_sha256).study.study.sites}
            name = sites.get(plan.site, plan.site)
        return PlannedSession(s.id, s.kind, s.wave, s.status, s.participants, plan.date, plan.site, name)

    # -- notes on a participant -------------------------------------------------------------------
    @counted
    def add_participant_note(self, pid: str, text: str) -> ParticipantNoteView:
        """A quick note on a participant, sealed under their key (gone if they withdraw; never exported)."""
        n = participants.add_note(self.vault, pid, text)
        return ParticipantNoteView(n.text, n.at, n.by)

    @counted
    def participant_notes(self, pid: str) -> tuple[ParticipantNoteView, ...]:
        """Their notes, oldest first (none for someone who withdrew)."""
        return tuple(ParticipantNoteView(n.text, n.at, n.by) for n in participants.participant_notes(self.vault, pid))

    # -- the consent summary ----------------------------------------------------------------------
    @counted
    def consent_summary(self, pid: str) -> ConsentSummaryView:
        """The participant's consent as their copy shows it (to show on screen)."""
        from ..core.consent_summary import consent_summary

        s = consent_summary(self.vault, pid)
        items = tuple(
            ConsentLineView(
                line.item_id,
                line.text,
                "not recorded" if line.given is None else "given" if line.given else "refused",
                line.date,
                line.taken_by,
            )
            for line in s.lines
        )
        return ConsentSummaryView(s.pseudonym, s.study_title, s.ethics_reference, s.language, items)

    @counted
    def write_consent_summary(self, pid: str, path: str | os.PathLike[str]) -> Path:
        """Write the participant's copy to PATH (.pdf, .html or .txt by its suffix) and nothing
        else. NoSummaryFont (one sentence) when no font on this laptop has the characters a PDF
        needs: offer .html then."""
        from ..core.consent_summary import consent_summary, write_summary

        return write_summary(consent_summary(self.vault, pid), path)

    # -- the laptop -------------------------------------------------------------------------------
    def laptop_status(self) -> LaptopStatus:
        """Free disk where the vault lives (as hours of recording left) and the battery where
        the operating system reports it. Works locked too: it reads no vault data."""
        from ..core.laptop import laptop_state

        st = laptop_state(self.vault_path)
        return LaptopStatus(
            st.level,
            st.disk_line,
            st.battery_line,
            st.warnings,
            st.disk_free_bytes,
            st.recording_seconds_left,
            st.battery.percent,
            st.battery.on_mains,
            st.disk_level,
            st.battery_level,
        )
