"""The whole study in one REFI-QDA project, on the analysis team's side.

Every laptop exports its own bundles, and ``bundle pull`` unpacks each into
OUT/<study>/<device>/<bundle>/. An analyst wants one project: one codebook, one case per
pseudonym holding all of that person's interviews (every laptop, every wave), every source,
note and coding. This module builds it from what pull left on disk — each bundle's
``export.json`` and ``manifest.json`` — by rebuilding one :class:`ExportContent` and rendering
it with the same :func:`build_qdpx` a laptop uses, rather than merging XML, so the project has
exactly the structure (and schema validity) of a single export.

Identity, so that re-importing after new bundles arrive loses no analyst's work:

* a laptop is named by the first 8 characters of its device id, a name that never changes:
  adding a laptop must not rename (so re-GUID) the sources of one already there. A laptop
  whose device id begins with the same 8 characters as one with an older bundle (by the
  export time its signed manifest gives, then the device id) is named by its whole device id
  instead — so only the newcomer has the long name. (A laptop whose clock puts its first
  bundle before every bundle of the one it collides with takes the short name from it; a
  uuid4 device id shares its first 8 characters with another's about once in 4 billion.)
* session ids (S1, S2 …) are counted per laptop and collide, so each source's identity in the
  project is "<laptop>-<session>" (``SessionExport.source_id``); every GUID derives from the
  study id and such ids (qdpx.py), so assembling again gives the same GUIDs and only what is
  new is added;
* pseudonyms from P101 up are given out in team blocks (core/team.py: FIRST_NUMBER), so they
  are unique study-wide and a participant handed over between laptops keeps theirs: one case
  across laptops. P1–P100 are given out by each laptop set up before teams on its own — two
  laptops' P1 are two people — so such a pseudonym is a case per laptop, always named with
  its laptop, "P1 (laptop a4b2584c)" (even while only one laptop has a P1, so that a second
  laptop's P1 arriving later renames nothing). The session's participants and its segments'
  speakers carry that same id, so a participant's turns code to their own case and speaker
  code, and the sheet names them the same way. (A P1–P100 handed over to another laptop is
  therefore two cases, one per laptop: nothing in a bundle tells a hand-over from a namesake.)
* a session exported again (after an edit) arrives in several bundles: the newest bundle of
  that laptop holding it wins (by the export time its signed manifest gives, then its name);
* a case's attributes come from the newest bundle holding the case.

Withdrawals: pull deletes what it unpacked from bundles a verified notice names and keeps a
record (OUT/.withdrawals.json, core/sync/receipts.py). A folder pull did not delete (copied
back, or left by an older pull) must not bring a participant back, so every bundle and
session that record names is left out, and so is every session of a withdrawn pseudonym:
on any laptop for P101 up (one case study-wide), and for P1–P100 only on the laptop whose
verified notice named them (another laptop's P1 is someone else, who did not withdraw). That
is a module of core.export reading a file core.sync writes: core.export may not import
core.sync (sync imports export), so the record's shape is read here and tests/test_assemble.py
runs the real pull to keep them agreed.

The codebook is the given study file's guide. Several guide versions may be in use: codes are
reconciled by id (a question's GUID derives from its id alone), each further study file given
adds what it has that the first lacks, and a question a session was coded to that no given file
has is taken from that bundle's own .qdpx codebook, so no coding is dropped.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..errors import InvalidInput
from ..sanitise import printable
from ..study import Domain, Guide, Question, StudyFile
from ..team import FIRST_NUMBER
from ..transcripts import StoredSegment
from .bundle import MANIFEST
from .content import CaseInfo, ExportContent, SessionExport
from .formats import excel_csv
from .qdpx import NS, build_qdpx

# what bundle pull keeps beside the unpacked bundles (core/sync/receipts.py SEEN, BUNDLE_SUFFIX)
WITHDRAWALS = ".withdrawals.json"
BUNDLE_SUFFIX = ".fsbundle.age"
PSEUDONYM = re.compile(r"^P(\d+)$")
NOTICE_NAME = re.compile(r"^(?P<pid>.+)-\d{8}T\d{6}\d*Z\.withdrawal\.json$")  # notices.make_notice
MAX_JSON = 512 * 1024**2  # an export.json of a few hundred hours of interviews stays far below
CSV_HEADER = [
    "Case",
    "Session",
    "Laptop session",
    "Laptop",
    "Wave",
    "Month",
    "Kind",
    "Guide version",
    "Language",
    "Site",
    "Interviewer",
    "Status",
    "Bundle",
]


@dataclass
class _Bundle:
    """One unpacked bundle folder, read and checked."""

    folder: Path
    device: str
    name: str
    created_at: str
    export: dict[str, Any]
    months: dict[str, str]  # session id -> "2026-11", from the bundle's own .qdpx source names
    codebook: dict[str, tuple[str, str]]  # question id -> (domain title, question text), ditto
    audio: dict[str, Path]  # session id -> its FLAC, where the bundle carries one

    @property
    def order(self) -> tuple[str, str]:
        return (self.created_at, self.name)


@dataclass
class Assembly:
    """The assembled project, its study-wide sheet, and what was left out and why."""

    qdpx: bytes
    csv: str
    content: ExportContent
    bundles: int
    superseded: int  # sessions an older bundle also held (the newest copy is used)
    withdrawn_sessions: int  # sessions left out for a withdrawal
    withdrawn: list[str]  # withdrawn cases: pseudonyms, P1–P100 with their laptop (as the project names cases)
    unknown_guides: list[str] = field(default_factory=list)  # guide versions no --study file is


def study_folder(folder: Path, study_id: str) -> tuple[Path, Path]:
    """(pull's output folder, the study's folder in it) for FOLDER, which may be either."""
    folder = Path(folder)
    if (folder / study_id).is_dir():
        return folder, folder / study_id
    if folder.name == study_id and folder.is_dir():
        return folder.parent, folder
    raise InvalidInput(
        f"{printable(str(folder))} holds no bundles of the study {study_id}; give the folder `bundle pull --out` wrote."
    )


def read_withdrawals(root: Path, study_id: str) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """What pull's record says was withdrawn in STUDY_ID: bundles and sessions per device, and
    the withdrawn pseudonyms (from the names of the verified notices it applied). An unreadable
    record is refused, never taken for "nobody withdrew"."""
    try:
        data = json.loads((root / WITHDRAWALS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, {}, {}
    except (OSError, ValueError) as exc:
        raise InvalidInput(
            f"{printable(str(root / WITHDRAWALS))} cannot be read ({exc}); restore it — it lists the "
            "withdrawals an assembled project must leave out."
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{printable(str(root / WITHDRAWALS))} is not the list bundle pull keeps; restore it.")
    bundles: dict[str, set[str]] = {}
    sessions: dict[str, set[str]] = {}
    pseudonyms: dict[str, set[str]] = {}  # pseudonym -> devices whose notices withdrew them
    for key, names in data.items():
        study, _, rest = str(key).partition("/")
        if study != study_id or not isinstance(names, list):
            continue
        device, _, part = rest.partition("#")
        if part == "":
            bundles.setdefault(device, set()).update(str(n).removesuffix(BUNDLE_SUFFIX) for n in names)
        elif part == "sessions":
            sessions.setdefault(device, set()).update(map(str, names))
        elif part == "notices":
            for n in names:
                m = NOTICE_NAME.match(str(n))
                if m:
                    pseudonyms.setdefault(m["pid"], set()).add(device)
    return bundles, sessions, pseudonyms


def _read_checked(folder: Path, name: str, manifest: dict[str, Any]) -> bytes | None:
    """A file of the bundle, if it is there and is what the signed manifest lists."""
    listed = manifest.get("files", {}).get(name)
    path = folder / name
    if not isinstance(listed, dict) or not path.is_file() or path.is_symlink():
        return None
    if path.stat().st_size > MAX_JSON:
        raise InvalidInput(f"{printable(str(path))} is larger than any export; it was not read.")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != listed.get("sha256"):
        raise InvalidInput(
            f"{printable(str(path))} was changed after it was unpacked; delete its folder and pull the bundle again."
        )
    return data


def _bundle_qdpx(data: bytes | None) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The month of each session (from its source's name, "… — wave 1, 2026-11 (S1)") and the
    guide version's codes (question id -> (domain title, text)) of one bundle's own .qdpx: the
    two things its export.json does not repeat."""
    if data is None:
        return {}, {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            root = ET.fromstring(z.read("project.qde"))
    except (zipfile.BadZipFile, KeyError, ET.ParseError):
        return {}, {}
    q = f"{{{NS}}}"
    months: dict[str, str] = {}
    for src in root.iter(f"{q}TextSource"):
        m = re.search(r", (\d{4}-\d{2}) \((S\d+)\)$", src.get("name", ""))
        if m:
            months[m[2]] = m[1]
    codes: dict[str, tuple[str, str]] = {}
    for codebook in root.iter(f"{q}Codes"):
        for domain in codebook.findall(f"{q}Code"):
            for question in domain.findall(f"{q}Code"):
                qid = question.get("name", "").partition(":")[0]
                text = question.findtext(f"{q}Description") or ""
                if qid and text:
                    codes[qid] = (domain.get("name", ""), text)
    return months, codes


def _load_bundle(folder: Path, study_id: str, device: str) -> _Bundle | None:
    """The bundle unpacked in FOLDER, or None for a folder that is not one (pull's temporary
    folders, anything else put there)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{printable(str(folder / MANIFEST))} cannot be read ({exc}); pull it again.") from None
    if not isinstance(manifest, dict):
        return None
    if manifest.get("device_id") != device or manifest.get("study", {}).get("id") != study_id:
        raise InvalidInput(
            f"{printable(str(folder))} holds a bundle of another study or laptop; it does not belong in "
            f"{study_id}/{device[:12]} — move it out."
        )
    raw = _read_checked(folder, "export.json", manifest)
    if raw is None:
        return None
    try:
        export = json.loads(raw)
    except ValueError:
        return None
    months, codebook = _bundle_qdpx(_read_checked(folder, f"{study_id}.qdpx", manifest))
    audio = {
        name.removeprefix("audio/").removesuffix(".flac"): folder / name
        for name in manifest.get("files", {})
        if name.startswith("audio/") and name.endswith(".flac") and (folder / name).is_file()
    }
    return _Bundle(
        folder,
        device,
        str(manifest.get("bundle", folder.name)).removesuffix(BUNDLE_SUFFIX),
        str(manifest.get("created_at", "")),
        export,
        months,
        codebook,
        audio,
    )


def _natural(text: str) -> tuple[Any, ...]:
    """P2 before P10, S2 before S10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


SHORT = 8  # a laptop's name in the project: this many characters of its device id


def _laptops(bundles: Iterable[_Bundle]) -> dict[str, str]:
    """Each device's name in the project (its sources' and P1–P100 cases' ids, so their
    GUIDs): its first SHORT characters, which adding another laptop never changes. Of devices
    sharing them, the one with the oldest bundle keeps them and each other is named by its
    whole device id."""
    first: dict[str, tuple[str, str]] = {}
    for b in bundles:
        first[b.device] = min(first.get(b.device, b.order), b.order)
    names: dict[str, str] = {}
    for device in sorted(first, key=lambda d: (first[d], d)):
        names[device] = device[:SHORT] if device[:SHORT] not in names.values() else device
    if len(set(names.values())) < len(names):  # only device folders of SHORT characters or fewer
        raise InvalidInput(
            "Two laptops' folders in the study's folder have names one begins the other ("
            + ", ".join(sorted(printable(d) for d in names if d == names[d]))
            + "); device ids are longer — move the folder that is not a laptop's out."
        )
    return names


def _case_id(pseudonym: str, laptop: str) -> str:
    """The case of PSEUDONYM from the laptop named LAPTOP: the pseudonym itself from P101 up
    (team blocks: unique study-wide), and for P1–P100 (each laptop's own) with its laptop."""
    m = PSEUDONYM.match(pseudonym)
    return f"{pseudonym} (laptop {laptop})" if m and int(m[1]) < FIRST_NUMBER else pseudonym


def _guide(studies: list[StudyFile], extra: dict[str, tuple[str, str, str]]) -> Guide:
    """One codebook: the first study file's guide, then what each further one adds (by id),
    then EXTRA (question id -> (domain id, domain title, text)): questions sessions were
    coded to that no given file has."""
    domains: dict[str, tuple[str, dict[str, Question]]] = {}
    for sf in studies:
        for d in sf.study.guide.domains:
            title, questions = domains.setdefault(d.id, (d.title, {}))
            for q in d.questions:
                questions.setdefault(q.id, q)
    for qid, (did, title, text) in extra.items():
        if any(qid in qs for _t, qs in domains.values()):
            continue
        try:
            question = Question(id=qid, text=text)
        except ValueError:
            continue  # not an id a study file could give
        domains.setdefault(did, (title or did, {}))[1][qid] = question
    return Guide(
        domains=[Domain(id=did, title=title, questions=list(qs.values())) for did, (title, qs) in domains.items()]
    )


def _segments(raw: list[dict[str, Any]], laptop: str) -> list[StoredSegment]:
    """The segments of a session from the laptop named LAPTOP, participants' speaker ids as
    their case ids (an interviewer and an unnamed voice are no case)."""
    return [
        StoredSegment(
            idx=i,
            start=float(g["start"]),
            end=float(g["end"]),
            text=str(g.get("text") or ""),
            flags=[str(f) for f in g.get("flags") or []],
            question=g.get("question"),
            domain=g.get("domain"),
            speaker=_speaker(g.get("speaker_id"), laptop),
            notes=[dict(n) for n in g.get("notes") or []],
            voice=g.get("voice"),
            overlap=bool(g.get("overlap")),
        )
        for i, g in enumerate(raw)
    ]


def _speaker(speaker: Any, laptop: str) -> str | None:
    if speaker is None:
        return None
    return _case_id(str(speaker), laptop)


def assemble(
    folder: Path,
    studies: list[StudyFile],
    *,
    with_audio: bool = False,
    laptops_of: dict[str, tuple[str, str]] | None = None,
) -> Assembly:
    """The study-wide project of every bundle of the first study file's study under FOLDER
    (pull's --out, or its study folder). STUDIES: the study file, then optionally the other
    guide versions in use. WITH_AUDIO: carry the recordings bundles have (large). LAPTOPS_OF:
    device id → (site, interviewer), from the verified team file, for the study lead's sheet."""
    if not studies:
        raise InvalidInput("Give the study file with --study.")
    study = studies[0].study
    sid = study.study.id
    root, home = study_folder(folder, sid)
    gone_bundles, gone_sessions, gone_people = read_withdrawals(root, sid)

    bundles: list[_Bundle] = []
    for device_dir in sorted(home.iterdir()):
        if device_dir.name.startswith(".") or not device_dir.is_dir() or device_dir.is_symlink():
            continue
        for bundle_dir in sorted(device_dir.iterdir()):
            if bundle_dir.name.startswith(".") or not bundle_dir.is_dir() or bundle_dir.is_symlink():
                continue
            b = _load_bundle(bundle_dir, sid, device_dir.name)
            if b is not None:
                bundles.append(b)
    if not bundles:
        raise InvalidInput(
            f"{printable(str(home))} holds no unpacked bundles of {sid}; run `fieldscribe bundle pull` first."
        )
    bundles.sort(key=lambda b: b.order)
    laptops = _laptops(bundles)

    def withdrawn_person(pid: str, device: str) -> bool:
        """PID's withdrawal covers this device's sessions: any laptop's notice from P101 up, this
        laptop's own for P1–P100 (another laptop's P1 is someone else)."""
        devices = gone_people.get(pid)
        if not devices:
            return False
        return device in devices or _case_id(pid, "") == pid

    # the newest copy of each laptop's session, and each case as its newest bundle has it
    chosen: dict[tuple[str, str], tuple[_Bundle, dict[str, Any]]] = {}
    copies = 0
    withdrawn_sessions: set[tuple[str, str]] = set()
    for b in bundles:  # oldest first: a newer bundle replaces
        for s in b.export.get("sessions", []):
            key = (b.device, str(s["id"]))
            people = {str(p) for p in s.get("participants", [])}
            if (
                b.name in gone_bundles.get(b.device, set())  # a folder pull's delete did not reach
                or key[1] in gone_sessions.get(b.device, set())
                or any(withdrawn_person(p, b.device) for p in people)
            ):
                withdrawn_sessions.add(key)
                continue
            copies += key in chosen
            chosen[key] = (b, s)
    cases_raw: dict[str, dict[str, Any]] = {}
    for b in bundles:
        if b.name in gone_bundles.get(b.device, set()):
            continue
        for c in b.export.get("cases", []):
            cases_raw[_case_id(str(c["pseudonym"]), laptops[b.device])] = c
    versions = {sf.version: sf for sf in studies}
    extra: dict[str, tuple[str, str, str]] = {}
    unknown: set[str] = set()
    for b, s in chosen.values():
        if s.get("guide_version") not in versions:
            unknown.add(str(s.get("guide_version")))
        for g in s.get("segments", []):
            qid, did = g.get("question"), g.get("domain")
            if qid and qid in b.codebook:
                title, text = b.codebook[qid]
                extra[qid] = (str(did or title), title, text)
    guide = _guide(studies, extra)
    merged = study.model_copy(update={"guide": guide})
    all_questions = {q.id: (d.title, q.text) for d, q in merged.questions()}
    all_probes = {q.id: list(q.probes) for _d, q in merged.questions()}

    exports: list[SessionExport] = []
    origin: dict[str, tuple[str, str]] = {}  # source id -> (device, bundle)
    audio: dict[str, bytes] = {}
    for (device, session_id), (b, s) in chosen.items():
        own = versions.get(str(s.get("guide_version")))
        if own is not None:  # the session's own guide version, as the laptop exported it
            questions = {**all_questions, **{q.id: (d.title, q.text) for d, q in own.study.questions()}}
            probes = {**all_probes, **{q.id: list(q.probes) for _d, q in own.study.questions()}}
        else:
            questions, probes = all_questions, all_probes
        source_id = f"{laptops[device]}-{session_id}"
        origin[source_id] = (device, b.name)
        exports.append(
            SessionExport(
                session_id,
                str(s.get("kind", "")),
                int(s.get("wave", 1)),
                str(s.get("guide_version", "")),
                str(s.get("language", study.study.language)),
                [_case_id(str(p), laptops[device]) for p in s.get("participants", [])],
                _segments(s.get("segments", []), laptops[device]),
                questions,
                {d.id: d.title for d in guide.domains},
                probes,
                month=b.months.get(session_id, ""),
                source_id=source_id,
            )
        )
        if with_audio and session_id in b.audio:
            audio[source_id] = b.audio[session_id].read_bytes()
    exports.sort(key=lambda e: (_natural(e.participants[0] if e.participants else ""), e.wave, _natural(e.source_id)))

    group_labels = {g.id: g.label for g in study.groups}
    wanted = {p for e in exports for p in e.participants}
    cases = {
        pid: CaseInfo(
            pid,
            str(cases_raw[pid].get("group", "")),
            {str(k): str(v) for k, v in (cases_raw[pid].get("attributes") or {}).items()},
            group_labels.get(str(cases_raw[pid].get("group", "")), ""),
        )
        for pid in sorted(wanted, key=_natural)
        if pid in cases_raw
    }
    content = ExportContent(merged, cases, exports, {})
    withdrawn: dict[str, set[str]] = {}  # case id -> the laptops whose notices withdrew them
    for pid, devices in gone_people.items():
        for d in devices:
            laptop = laptops.get(d, d[:SHORT])  # a laptop none of whose bundles is left
            withdrawn.setdefault(_case_id(pid, laptop), set()).add(laptop)
    return Assembly(
        qdpx=build_qdpx(content, audio),
        csv=_sheet(
            exports,
            origin,
            laptops,
            {c: sorted(withdrawn[c]) for c in sorted(withdrawn, key=_natural)},
            laptops_of or {},
        ),
        content=content,
        bundles=len(bundles),
        superseded=copies,
        withdrawn_sessions=len(withdrawn_sessions),
        withdrawn=sorted(withdrawn, key=_natural),
        unknown_guides=sorted(unknown),
    )


def _sheet(
    exports: list[SessionExport],
    origin: dict[str, tuple[str, str]],
    laptops: dict[str, str],
    withdrawn: dict[str, list[str]],
    laptops_of: dict[str, tuple[str, str]],
) -> str:
    """The study lead's sheet, one row per session received: who, the session (laptop-qualified,
    as the project names it), wave, month, kind, guide version, laptop, site and interviewer
    (from the team file, when one is given: bundles do not carry them), status and the bundle
    it came from. Then one row per
    withdrawn participant, status "withdrawn", with the laptops whose notices said so and
    nothing else: the lead can count them, and nothing of their interviews is listed. An Excel
    sheet (formats.excel_csv)."""
    rows: list[list[str]] = [CSV_HEADER]
    for e in exports:
        device, bundle = origin[e.source_id]
        laptop = laptops[device]
        site, interviewer = laptops_of.get(device, ("", ""))
        rows.append(
            [
                ", ".join(e.participants),
                e.source_id,
                e.session_id,
                laptop,
                str(e.wave),
                e.month,
                e.kind,
                e.guide_version,
                e.language,
                site,
                interviewer,
                "received",
                bundle,
            ]
        )
    for case, where in withdrawn.items():
        rows.append([case, "", "", ", ".join(where), "", "", "", "", "", "", "", "withdrawn", ""])
    return excel_csv(rows)


def write_assembly(
    folder: Path,
    studies: list[StudyFile],
    out: Path,
    csv_path: Path | None = None,
    *,
    with_audio: bool = False,
    laptops_of: dict[str, tuple[str, str]] | None = None,
) -> tuple[Assembly, Path]:
    """Assemble and write OUT (the .qdpx) and the sheet (CSV_PATH, default OUT's name with
    "-cases.csv"), each complete or not at all: written beside and renamed into place, so an
    analyst's tool never opens half a project."""
    out = Path(out)
    csv_path = Path(csv_path) if csv_path else out.with_name(out.stem + "-cases.csv")
    if out.is_dir() or csv_path.is_dir():
        raise InvalidInput(f"{printable(str(out if out.is_dir() else csv_path))} is a folder; name a file.")
    result = assemble(folder, studies, with_audio=with_audio, laptops_of=laptops_of)
    for path, data in ((out, result.qdpx), (csv_path, result.csv.encode("utf-8"))):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as exc:
            raise InvalidInput(f"{printable(str(path))} cannot be written ({exc.strerror or exc}).") from None
    return result, csv_path
