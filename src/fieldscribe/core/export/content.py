"""What an export contains, gathered once from the vault: reviewed, de-identified segments
and generalised case attributes. Every format is rendered from this and nothing else, so no
format can reach past de-identification."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import participants, sessions
from ..deid.review import active_members, deidentified_segments
from ..guides import load_guide
from ..study import ChoiceField, NumberField, Study
from ..transcripts import StoredSegment
from ..vault import Vault

AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 74), (75, 120))


def age_band(age: int) -> str:
    for lo, hi in AGE_BANDS:
        if lo <= age <= hi:
            return f"{lo}–{hi}" if hi < 120 else f"{lo}+"
    return "under 18" if age < 18 else "unknown"


def generalise(study: Study, baseline: dict[str, Any]) -> dict[str, str]:
    """Exportable answers only: ages as bands, numbers as they are, choices as their label,
    free text only where the study marked it exportable (it is still generalised by people)."""
    out: dict[str, str] = {}
    for f in study.questionnaire:
        if not f.exportable or f.id not in baseline:
            continue
        value = baseline[f.id]
        if isinstance(f, NumberField):
            out[f.label] = (
                age_band(int(value)) if f.id == "age" else f"{value:g}" if isinstance(value, float) else str(value)
            )
        elif isinstance(f, ChoiceField):
            out[f.label] = f.choices.get(value, str(value))
        else:
            out[f.label] = str(value)
    return out


@dataclass
class CaseInfo:
    pseudonym: str
    group: str  # the study's group id ("service_user"), stable for scripts
    attributes: dict[str, str]
    group_label: str = ""  # what a person reads ("Service user"); the id where none is known

    @property
    def group_name(self) -> str:
        return self.group_label or self.group

    def quote_label(self, fields: tuple[str, ...] = ()) -> str:
        """'(P4, Schizophrenia, Male)' in the house style of qualitative papers."""
        values = [self.attributes[f] for f in fields if f in self.attributes]
        return "(" + ", ".join([self.pseudonym, *values]) + ")"


@dataclass
class SessionExport:
    session_id: str
    kind: str
    wave: int
    guide_version: str
    language: str
    participants: list[str]
    segments: list[StoredSegment]
    questions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (domain title, text)
    domains: dict[str, str] = field(default_factory=dict)  # id -> title
    probes: dict[str, list[str]] = field(default_factory=dict)  # question id -> its probes, in order
    month: str = ""  # "2026-11": when the session was set up, to the month (a date band, not a day)
    # the source's identity in a .qdpx (its GUIDs and names): the session id within one
    # laptop's export; a study-wide project of several laptops, whose session ids collide
    # (each laptop counts S1, S2 …), sets "<laptop>-<session>" (core/export/assemble.py)
    source_id: str = ""


@dataclass
class Turn:
    """Consecutive segments of one speaker under one guide question: what a transcript shows
    as "[00:01:10] P4: …". SPEAKER is the label ("Interviewer", "P4", "Speaker A") or "" when
    nobody is known (no diarization, no K marks), in which case a turn is simply the run of
    segments under one question."""

    speaker: str
    question: str | None
    segments: list[StoredSegment]

    @property
    def start(self) -> float:
        return self.segments[0].start

    @property
    def end(self) -> float:
        return self.segments[-1].end

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    @property
    def domain(self) -> str | None:
        return self.segments[0].domain

    @property
    def overlap(self) -> bool:
        """Another voice spoke during part of the turn."""
        return any(s.overlap for s in self.segments)

    @property
    def speaker_id(self) -> str | None:
        """The stored speaker ("interviewer", a pseudonym) or None for an unnamed voice."""
        return self.segments[0].speaker

    @property
    def voice(self) -> int | None:
        return self.segments[0].voice


def turns(session: SessionExport) -> list[Turn]:
    """The session's turns: a new one starts where the speaker's label changes and where a
    new guide question starts; segments the hallucination guard emptied are left out."""
    out: list[Turn] = []
    for seg in session.segments:
        if not seg.text:
            continue
        label = seg.label
        if out and out[-1].speaker == label and out[-1].question == seg.question:
            out[-1].segments.append(seg)
        else:
            out.append(Turn(label, seg.question, [seg]))
    return out


def notes_kept(segments: list[StoredSegment]) -> list[StoredSegment]:
    """A note typed while a segment was spoken that the hallucination guard emptied would have
    no words to sit beside in any format: it moves to the nearest segment with words (the one
    before, else the one after), so no field note or flag is lost from an export."""
    spoken = [i for i, seg in enumerate(segments) if seg.text]
    if not spoken:
        return segments
    for i, seg in enumerate(segments):
        if seg.text or not seg.notes:
            continue
        before = [j for j in spoken if j < i]
        home = segments[before[-1] if before else spoken[0]]
        home.notes = sorted([*home.notes, *seg.notes], key=lambda n: float(n.get("t", home.start)))
        seg.notes = []
    return segments


@dataclass
class ExportContent:
    study: Study
    cases: dict[str, CaseInfo]
    sessions: list[SessionExport]
    redaction_counts: dict[str, int]


def gather(vault: Vault, session_ids: list[str]) -> ExportContent:
    from ..deid.review import suggestions

    if not session_ids:
        from ..errors import InvalidInput

        raise InvalidInput("Name at least one session to export, e.g. --sessions S1,S2.")
    exports: list[SessionExport] = []
    cases: dict[str, CaseInfo] = {}
    counts: dict[str, int] = {}
    study: Study | None = None
    for ref in session_ids:
        s = sessions.get_session(vault, ref)
        sf = load_guide(vault, s.guide_sha256)
        study = study or sf.study
        segs = notes_kept(deidentified_segments(vault, s.id))  # refuses unreviewed transcripts
        for sug in suggestions(vault, s.id):
            if sug.status == "accepted":
                counts[sug.kind] = counts.get(sug.kind, 0) + 1
        domains = {d.id: d.title for d in sf.study.guide.domains}
        questions = {q.id: (d.title, q.text) for d, q in sf.study.questions()}
        members = active_members(vault, s)  # a withdrawn member of a group is no case in the export
        probes = {q.id: list(q.probes) for _d, q in sf.study.questions()}
        exports.append(
            SessionExport(
                s.id,
                s.kind,
                s.wave,
                sf.version,
                sf.study.study.language,
                members,
                segs,
                questions,
                domains,
                probes,
                month=s.created_at[:7],
            )
        )
        group_labels = {g.id: g.label for g in sf.study.groups}
        for pid in members:
            if pid not in cases:
                p = participants.get_participant(vault, pid)
                cases[pid] = CaseInfo(pid, p.group, generalise(sf.study, p.baseline), group_labels.get(p.group, ""))
    assert study is not None
    return ExportContent(study, cases, exports, counts)
