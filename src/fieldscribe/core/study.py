"""Study files: the protocol an interviewer follows, as a human-editable YAML file.

One file holds everything the field needs from the ethics-approved protocol: groups,
eligibility, consent items, the baseline questionnaire and the interview guide itself.
Validation collects *every* problem with its line so a researcher can fix a file in one
pass; a file that validates is frozen by the SHA-256 of its exact bytes when imported.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from .errors import GuideInvalid, InvalidAnswer
from .yaml_source import MAX_BYTES, LocatedYaml, dotted, load_located

FORMAT = "fieldscribe-study/1"
Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Text = Annotated[str, Field(min_length=1)]
KeyHex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Model):
    id: Ident
    name: Text
    # what people call it in an interview ("Harbour View", "the View", 晨曦): replaced too
    short_names: list[Text] = Field(default_factory=list)
    # what it becomes in an export, e.g. "day-care centre" → [day-care centre]
    descriptor: str | None = None


# words that end a site's name without saying which site it is: "Harbour View Day Centre"
# is also called "Harbour View"
_GENERIC_SITE_TAIL = (
    "Day Care Centre",
    "Day Centre",
    "Day Center",
    "Resource Centre",
    "Recovery Centre",
    "Wellbeing Centre",
    "Community Centre",
    "Centre",
    "Center",
    "Clubhouse",
    "Club",
    "Project",
    "Services",
    "Service",
    "Hub",
    "House",
)


class DeidentificationSettings(_Model):
    # staff, places and organisations to replace in every transcript: "Dr Helen Marsh=consultant",
    # "Lakeside Ward=ward" (TEXT=DESCRIPTOR, as `fieldscribe study identifiers --add` takes them)
    identifiers: list[Text] = Field(default_factory=list)


class Group(_Model):
    id: Ident
    label: Text


class Criterion(_Model):
    id: Ident
    text: Text


class Eligibility(_Model):
    inclusion: list[Criterion] = Field(min_length=1)
    exclusion: list[Criterion] = Field(default_factory=list)


class ConsentItem(_Model):
    id: Ident
    text: Text
    required: bool = True
    # The one item that must be given before any audio is captured.
    audio_recording: bool = False


class _Field(_Model):
    id: Ident
    label: Text
    required: bool = False
    # Only answers marked exportable may leave the laptop, and then only generalised.
    exportable: bool = False


class NumberField(_Field):
    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = True
    unit: str | None = None

    @model_validator(mode="after")
    def _range(self) -> NumberField:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        return self


class ChoiceField(_Field):
    type: Literal["choice"]
    # code -> label: codes stay stable across the languages of one study
    choices: dict[Ident, Text] = Field(min_length=2)


class TextField(_Field):
    type: Literal["text"]
    max_length: int = Field(default=2000, gt=0)


QuestionnaireField = Annotated[NumberField | ChoiceField | TextField, Field(discriminator="type")]


class Question(_Model):
    id: Ident
    text: Text
    probes: list[Text] = Field(default_factory=list)
    # Ask only of these groups; empty means everyone.
    groups: list[Ident] = Field(default_factory=list)
    # Per-group wording of the same question.
    variants: dict[Ident, Text] = Field(default_factory=dict)

    def text_for(self, group: str | None) -> str:
        return self.variants.get(group or "", self.text)


class Domain(_Model):
    id: Ident
    title: Text
    questions: list[Question] = Field(min_length=1)
    # minutes the protocol means this domain to take; the interview screen gives a gentle cue
    # when it runs over (never stops anything)
    budget_minutes: float | None = Field(default=None, gt=0, le=600)


class Guide(_Model):
    domains: list[Domain] = Field(min_length=1)


class TranscriptionSettings(_Model):
    # a model name from `fieldscribe models list`; multilingual (base, small) for Chinese.
    # Live transcription and the first transcript use it.
    model: str | None = None
    # a better (slower) model for the final transcript, run in the background after the
    # interview, only while nothing is being recorded; e.g. small for Mandarin interviews
    final_model: str | None = None
    # words Whisper should expect: site names, local terms, medication names
    initial_prompt: str | None = None
    # verbatim aids: "dots" writes (..) one dot a second, "seconds" writes (12 s pause)
    pause_marks: Literal["off", "dots", "seconds"] = "off"
    pause_threshold: float = Field(default=2.0, gt=0)


class ExportSettings(_Model):
    # the analysis team's age public keys (age1…): bundles are encrypted to these
    recipients: list[str] = Field(default_factory=list)
    # questionnaire labels used in quote labels, e.g. (P4, Schizophrenia, Male)
    quote_label: list[str] = Field(default_factory=list)
    # the consent item that allows sharing the recording itself with the analysis team;
    # without one, bundles never carry audio
    audio_sharing_consent: str | None = None
    # the team's receipt keys (64 hex digits, printed by `fieldscribe bundle keygen`): only a
    # receipt signed by one of these lets `purge --received` destroy anything on the laptop
    receipt_keys: list[KeyHex] = Field(default_factory=list)
    # the laptops' bundle-signing keys (shown by `fieldscribe export`): when listed, `bundle
    # pull --study` and `bundle open --study` accept bundles from these devices only
    device_keys: list[KeyHex] = Field(default_factory=list)


class SyncSettings(_Model):
    # the study's central store: sftp://user@host/path, webdavs://host/path or file:///mounted/path
    remote: str | None = None


class TeamSettings(_Model):
    # what a laptop does with its own copy of a participant it hands over to another laptop
    # (`participant hand-over`): keep it, or shred their personal record here (the study
    # decides, not the interviewer; core/handover.py says exactly what is destroyed)
    hand_over: Literal["keep", "shred"] = "keep"


class StudyInfo(_Model):
    id: Ident
    title: Text
    ethics_reference: Text
    language: Literal["en", "zh"]
    sites: list[Site] = Field(default_factory=list)


class Study(_Model):
    format: Literal["fieldscribe-study/1"]
    study: StudyInfo
    groups: list[Group] = Field(min_length=1)
    eligibility: Eligibility
    consent: list[ConsentItem] = Field(min_length=1)
    questionnaire: list[QuestionnaireField] = Field(default_factory=list)
    guide: Guide
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    team: TeamSettings = Field(default_factory=TeamSettings)
    deidentification: DeidentificationSettings = Field(default_factory=DeidentificationSettings)

    def identifiers(self) -> list[tuple[str, str]]:
        """(text, descriptor) for every name the study file itself gives: its sites, their
        short forms (given, and the name without a generic ending such as "Day Centre"),
        and the staff and places listed under deidentification."""
        zh = self.study.language == "zh"
        out: list[tuple[str, str]] = []
        for site in self.study.sites:
            desc = site.descriptor or ("研究地点" if zh else "study site")
            names = [site.name, *site.short_names]
            for tail in _GENERIC_SITE_TAIL:
                if site.name.endswith(" " + tail):
                    short = site.name[: -len(tail) - 1].strip()
                    if short and short[:1].isupper():
                        names.append(short)
                    break
            out += [(n, desc) for n in dict.fromkeys(names)]
        for entry in self.deidentification.identifiers:
            text, sep, desc = entry.partition("=")
            out.append((text.strip(), desc.strip() if sep and desc.strip() else ("地点" if zh else "identifier")))
        return [(t, d) for t, d in out if t]

    # -- lookups the rest of the core relies on -------------------------------------------
    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in self.groups]

    @property
    def audio_consent_item(self) -> ConsentItem:
        return next(c for c in self.consent if c.audio_recording)

    def questions(self, group: str | None = None) -> list[tuple[Domain, Question]]:
        """The guide in interview order, filtered for one participant group."""
        return [
            (d, q)
            for d in self.guide.domains
            for q in d.questions
            if group is None or not q.groups or group in q.groups
        ]

    def field(self, field_id: str) -> NumberField | ChoiceField | TextField:
        for f in self.questionnaire:
            if f.id == field_id:
                return f
        known = ", ".join(f.id for f in self.questionnaire)
        raise InvalidAnswer(f"The questionnaire has no field {field_id!r}; known fields: {known}.")

    def parse_answer(self, field_id: str, raw: Any) -> Any:
        """Validate one questionnaire answer (as typed by a person) against its field."""
        f = self.field(field_id)
        if isinstance(f, NumberField):
            try:
                value: float | int = float(str(raw).strip())
            except ValueError:
                raise InvalidAnswer(
                    f"{f.label}: {str(raw).strip()[:40]!r} is not a number; enter digits only."
                ) from None
            if not math.isfinite(value):  # "nan", "inf", "1e309": float() accepts them, no answer is one
                raise InvalidAnswer(f"{f.label}: {str(raw).strip()[:40]!r} is not a finite number; enter digits only.")
            if f.integer:
                if value != int(value):
                    raise InvalidAnswer(f"{f.label}: enter a whole number, not {str(raw).strip()[:40]!r}.")
                value = int(value)
            low = f.min if f.min is not None else float("-inf")
            high = f.max if f.max is not None else float("inf")
            if not low <= value <= high:
                raise InvalidAnswer(f"{f.label}: {value:g} is outside the allowed range {low:g} to {high:g}.")
            return value
        if isinstance(f, ChoiceField):
            text = str(raw).strip()
            if text in f.choices:
                return text
            for code, label in f.choices.items():
                if text.casefold() == label.casefold():
                    return code
            raise InvalidAnswer(f"{f.label}: {text!r} is not one of the choices ({', '.join(f.choices)}).")
        text = str(raw).strip()
        if len(text) > f.max_length:
            raise InvalidAnswer(f"{f.label}: the answer is longer than {f.max_length} characters.")
        return text


class StudyFile(_Model):
    """A validated study file together with the exact bytes it was read from."""

    study: Study
    text: str
    sha256: str

    @property
    def version(self) -> str:
        return self.sha256[:12]


def _semantic_problems(data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-reference checks pydantic cannot express field by field.

    Written defensively over the raw data so they run even when other parts of the file
    are malformed: the author sees every problem at once.
    """
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(data, dict):
        return out

    def items(*path: str) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
        node: Any = data
        for p in path:
            node = node.get(p) if isinstance(node, dict) else None
        if not isinstance(node, list):
            return []
        return [((*path, i), x) for i, x in enumerate(node) if isinstance(x, dict)]

    def unique(label: str, entries: list[tuple[tuple[str | int, ...], dict[str, Any]]]) -> None:
        seen: dict[Any, tuple[str | int, ...]] = {}
        for path, x in entries:
            ident = x.get("id")
            if ident is None:
                continue
            if ident in seen:
                out.append(((*path, "id"), f"duplicate {label} id {ident!r} (also at {dotted(seen[ident])})"))
            else:
                seen[ident] = path

    unique("site", items("study", "sites"))
    unique("group", items("groups"))
    unique("criterion", items("eligibility", "inclusion") + items("eligibility", "exclusion"))
    unique("consent item", items("consent"))
    unique("questionnaire field", items("questionnaire"))
    domains = items("guide", "domains")
    unique("domain", domains)
    questions = [
        ((*dpath, "questions", i), q)
        for dpath, d in domains
        for i, q in enumerate(d.get("questions") or [])
        if isinstance(q, dict)
    ]
    unique("question", questions)

    consent = items("consent")
    audio = [p for p, c in consent if c.get("audio_recording") is True]
    if consent and len(audio) != 1:
        where = ("consent",) if not audio else (*audio[1], "audio_recording")
        out.append((where, f"exactly one consent item must have audio_recording: true (found {len(audio)})"))
    for path, c in consent:
        if c.get("audio_recording") is True and c.get("required") is False:
            out.append(((*path, "required"), "the audio-recording consent item must be required"))

    groups = {g.get("id") for _, g in items("groups")}
    for qpath, q in questions:
        for i, g in enumerate(q.get("groups") or []):
            if g not in groups:
                out.append(((*qpath, "groups", i), f"unknown group {g!r} (groups: {', '.join(map(str, groups))})"))
        if isinstance(q.get("variants"), dict):
            for g in q["variants"]:
                if g not in groups:
                    out.append(((*qpath, "variants", g), f"variant for unknown group {g!r}"))
    return out


def _pydantic_message(err: ErrorDetails) -> str:
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown field (check its spelling and indentation)"
    if err["type"] == "missing":
        return "required field is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[0].lower() + msg[1:] if msg else msg


def parse_study(text: str, source: str = "<study>") -> StudyFile:
    """Validate a study file; raise :class:`GuideInvalid` listing every problem with its line."""
    located: LocatedYaml = load_located(text)
    problems: list[tuple[int, str]] = []
    for p in located.problems:
        line = int(p.split(":")[0].removeprefix("line ")) if p.startswith("line ") else 0
        problems.append((line, p))
    study: Study | None = None
    if located.data is None and not located.problems:
        problems.append((1, "line 1: the file is empty"))
    elif located.data is not None:
        if isinstance(located.data, dict) and located.data.get("format") not in (None, FORMAT):
            problems.append(
                (
                    located.line_of(("format",)) or 1,
                    f"line {located.line_of(('format',))}: format: this fieldscribe reads {FORMAT!r}, "
                    f"not {located.data.get('format')!r}",
                )
            )
        else:
            try:
                study = Study.model_validate(located.data)
            except ValidationError as exc:
                for err in exc.errors():
                    loc = tuple(err["loc"])
                    if _is_union_loc(loc):  # discriminated unions add the tag to the path
                        loc = loc[:2] + loc[3:]
                    line = located.line_of(loc) or 0
                    problems.append((line, f"line {line}: {dotted(loc)}: {_pydantic_message(err)}"))
        for loc, msg in _semantic_problems(located.data):
            line = located.line_of(loc) or 0
            problems.append((line, f"line {line}: {dotted(loc)}: {msg}"))
    if problems:
        problems.sort(key=lambda p: p[0])
        raise GuideInvalid(source, [m for _, m in problems])
    assert study is not None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return StudyFile(study=study, text=text, sha256=digest)


def _is_union_loc(loc: tuple[Any, ...]) -> bool:
    return len(loc) >= 3 and loc[0] == "questionnaire" and loc[2] in ("number", "choice", "text")


def load_study(path: str | Path) -> StudyFile:
    path = Path(path)
    raw = _read_capped(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GuideInvalid(str(path), [f"line {line}: the file is not UTF-8 text; save it as UTF-8"]) from None
    return parse_study(text, source=str(path))


def _read_capped(path: Path) -> bytes:
    """The bytes of a study file, refusing what is not one before reading it all.

    A path given on the command line can name a device (/dev/zero never ends), a pipe (a read
    blocks forever) or a 100 MB file; each is refused from its metadata, and a file that
    grows while being read is cut off one byte past the cap."""
    too_big = f"larger than the {MAX_BYTES / 2**20:g} MB a study file may be; check that this is the right file"
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then sees what was opened
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise GuideInvalid(str(path), ["the file does not exist"]) from None
    except OSError as exc:
        raise GuideInvalid(str(path), [f"the file cannot be read ({exc.strerror})"]) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
        os.close(fd)
        if info.st_size > MAX_BYTES:
            raise GuideInvalid(str(path), [f"the file is {info.st_size / 1e6:.1f} MB, {too_big}"])
        problem = "this is not a regular file (a folder, device or pipe); give the path of a study file (.yaml)"
        raise GuideInvalid(str(path), [problem])
    with os.fdopen(fd, "rb") as f:
        try:
            raw = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise GuideInvalid(str(path), [f"the file cannot be read ({exc.strerror})"]) from None
    if len(raw) > MAX_BYTES:
        raise GuideInvalid(str(path), [f"the file is {too_big}"])
    return raw
