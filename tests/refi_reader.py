"""A second, independent reader of REFI-QDA projects (.qdpx), so that the export is checked
by what a tool would import rather than by the XML the exporter meant to write.

Two sets of rules:

- `read_standard`: the project as the schema (tests/data/refi-qda/Project.xsd) and the
  REFI-QDA 1.5 standard describe it: codes, text and audio sources, selections and their
  codings, cases with their SourceRefs and SelectionRefs, and Notes as objects that NoteRefs
  attach to a project, code, source, selection or coding.
- `read_qualcoder`: what QualCoder's importer (ccbogel/QualCoder, src/qualcoder/refi.py,
  RefiImport) keeps, reimplemented from reading it: a non-codable Code is a category and
  codes need unique names; a PlainTextSelection without a Coding becomes an annotation (its
  Description, if any, is the text); a NoteRef inside a selection is ignored; a Note becomes
  an annotation only when its TextSource has a NoteRef to it and the Note has
  PlainTextContent and a PlainTextSelection (the position in that source), otherwise a
  journal when it has a plainTextPath and a name; a Case's SourceRef/SelectionRef are not
  read — a Code with the Case's GUID is, and its codings become the case's text; an
  AudioSource's Transcript must be internal and named, and becomes a text source named
  "<audio name>.txt" (SyncPoints are read, not kept).

Both return an `Imported`; `lost` says, in words, what the rules drop silently.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

Q = "{urn:QDA-XML:project:1.0}"


@dataclass(frozen=True)
class Passage:
    """Characters START:END of the source named SOURCE, and what they say."""

    source: str
    start: int
    end: int
    text: str


@dataclass
class Note:
    name: str
    text: str
    attached_to: list[str] = field(default_factory=list)  # "source:NAME", "selection:GUID", ...


@dataclass
class Audio:
    name: str
    data: bytes
    transcript_name: str
    transcript: str
    sync: list[tuple[int, int]]  # (milliseconds, character offset), as written


@dataclass
class Imported:
    codes: dict[str, str] = field(default_factory=dict)  # code name -> its parent's name ("" at the top)
    categories: list[str] = field(default_factory=list)  # non-codable codes (QualCoder: categories)
    sources: dict[str, str] = field(default_factory=dict)  # name -> text
    codings: list[tuple[str, Passage]] = field(default_factory=list)  # (code name, where)
    cases: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> variable values
    case_sources: dict[str, set[str]] = field(default_factory=dict)  # case name -> source names
    case_passages: dict[str, list[Passage]] = field(default_factory=dict)
    notes: dict[str, Note] = field(default_factory=dict)  # standard: guid -> note
    annotations: list[tuple[Passage, str]] = field(default_factory=list)  # QualCoder: (where, memo)
    journals: dict[str, str] = field(default_factory=dict)
    audio: list[Audio] = field(default_factory=list)
    empty_selections: list[Passage] = field(default_factory=list)  # selections with no Coding
    lost: list[str] = field(default_factory=list)

    def coded(self, code: str, source: str | None = None) -> list[str]:
        """What CODE codes, in order, optionally within one source."""
        return [p.text for c, p in self.codings if c == code and source in (None, p.source)]


class _Project:
    """The unzipped .qdpx: project.qde parsed, and the files under sources/."""

    def __init__(self, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = z.namelist()
            qde = next(n for n in names if n.endswith(".qde"))
            self.root = ET.fromstring(z.read(qde))
            self.files = {n.split("/", 1)[1]: z.read(n) for n in names if n.lower().startswith("sources/")}
        self.by_guid: dict[str, ET.Element] = {}
        for el in self.root.iter():
            if el.get("guid"):
                self.by_guid.setdefault(el.get("guid", ""), el)

    def internal(self, path: str | None) -> bytes | None:
        if not path or not path.startswith("internal://"):
            return None
        return self.files.get(path.removeprefix("internal://"))

    def text_of(self, el: ET.Element) -> str | None:
        """A TextSource's (or Note's, or Transcript's) text: its plainTextPath file, else its
        PlainTextContent."""
        data = self.internal(el.get("plainTextPath"))
        if data is not None:
            return data.decode("utf-8-sig")
        return el.findtext(f"{Q}PlainTextContent")

    def children(self, el: ET.Element | None, tag: str) -> list[ET.Element]:
        return [] if el is None else el.findall(Q + tag)

    def codes(self, out: Imported, qualcoder: bool) -> dict[str, str]:
        """Code GUID -> name of each code an importer keeps."""
        kept: dict[str, str] = {}

        def walk(code: ET.Element, parent: str) -> None:
            name = code.get("name", "")
            if code.get("isCodable") == "false":
                out.categories.append(name)
            elif qualcoder and name in out.codes:  # code names are unique: the second is not mapped
                out.lost.append(f"codings to the second code named {name!r}")
            else:
                out.codes[name] = parent
                kept[code.get("guid", "")] = name
            for child in self.children(code, "Code"):
                walk(child, name)

        for code in self.children(self.root.find(f"{Q}CodeBook/{Q}Codes"), "Code"):
            walk(code, "")
        return kept

    def variables(self, case: ET.Element) -> dict[str, str]:
        values = {}
        for vv in self.children(case, "VariableValue"):
            ref = vv.find(f"{Q}VariableRef")
            var = self.by_guid.get(ref.get("targetGUID", "") if ref is not None else "")
            value = next((c.text or "" for c in vv if c.tag != f"{Q}VariableRef"), "")
            values[var.get("name", "") if var is not None else "?"] = value
        return values

    def sources(self, kind: str) -> list[ET.Element]:
        return self.children(self.root.find(f"{Q}Sources"), kind)

    def passage(self, sources: dict[str, str], name: str, el: ET.Element, out: Imported) -> Passage:
        start, end = int(el.get("startPosition", "-1")), int(el.get("endPosition", "-1"))
        text = sources.get(name, "")
        if not 0 <= start <= end <= len(text):
            out.lost.append(f"selection {el.get('guid')} at {start}:{end} outside {name!r} ({len(text)} characters)")
        return Passage(name, start, end, text[start:end])

    def audio(self, out: Imported, qualcoder: bool) -> None:
        for src in self.sources("AudioSource"):
            data = self.internal(src.get("path"))
            if data is None:
                out.lost.append(f"audio {src.get('name')!r}: not inside the project")
                continue
            transcript = src.find(f"{Q}Transcript")
            if transcript is None:
                out.audio.append(Audio(src.get("name", ""), data, "", "", []))
                continue
            text = self.text_of(transcript) if not qualcoder else None
            if qualcoder:  # only an internal file counts, and the transcript needs a name
                raw = self.internal(transcript.get("plainTextPath"))
                text = raw.decode("utf-8-sig") if raw is not None and transcript.get("name") else None
            if text is None:
                out.lost.append(f"transcript of {src.get('name')!r}")
                continue
            sync = [
                (int(p.get("timeStamp", "-1")), int(p.get("position", "-1"))) for p in transcript.iter(f"{Q}SyncPoint")
            ]
            name = f"{src.get('name')}.txt" if qualcoder else transcript.get("name", "")
            out.audio.append(Audio(src.get("name", ""), data, name, text, sync))
            if qualcoder:
                out.sources[name] = text


def read_standard(data: bytes) -> Imported:
    """The project as the standard describes it."""
    p = _Project(data)
    out = Imported()
    code_name = p.codes(out, qualcoder=False)
    source_name: dict[str, str] = {}
    selection: dict[str, Passage] = {}
    for src in p.sources("TextSource"):
        name = src.get("name", "")
        text = p.text_of(src)
        if text is None:
            out.lost.append(f"text of {name!r}")
            continue
        out.sources[name] = text
        source_name[src.get("guid", "")] = name
        for sel in p.children(src, "PlainTextSelection"):
            where = p.passage(out.sources, name, sel, out)
            selection[sel.get("guid", "")] = where
            codings = p.children(sel, "Coding")
            if not codings:
                out.empty_selections.append(where)
            for coding in codings:
                ref = coding.find(f"{Q}CodeRef")
                target = ref.get("targetGUID", "") if ref is not None else ""
                if target in code_name:
                    out.codings.append((code_name[target], where))
                else:
                    out.lost.append(f"coding {coding.get('guid')} to no codable code")
    for src in p.sources("AudioSource"):
        source_name[src.get("guid", "")] = src.get("name", "")
    p.audio(out, qualcoder=False)

    for case in p.children(p.root.find(f"{Q}Cases"), "Case"):
        name = case.get("name", "")
        out.cases[name] = p.variables(case)
        out.case_sources[name] = set()
        for ref in p.children(case, "SourceRef"):
            target = ref.get("targetGUID", "")
            if target in source_name:
                out.case_sources[name].add(source_name[target])
            else:
                out.lost.append(f"case {name!r}: SourceRef to nothing")
        out.case_passages[name] = []
        for ref in p.children(case, "SelectionRef"):
            target = ref.get("targetGUID", "")
            if target in selection:
                out.case_passages[name].append(selection[target])
            else:
                out.lost.append(f"case {name!r}: SelectionRef to nothing")

    # Notes are objects of their own; NoteRefs (anywhere) attach them
    for note in p.children(p.root.find(f"{Q}Notes"), "Note"):
        text = p.text_of(note)
        if text is None:
            out.lost.append(f"note {note.get('name')!r}: no text")
            continue
        out.notes[note.get("guid", "")] = Note(note.get("name", ""), text)
    holders = {f"{Q}TextSource": "source", f"{Q}PlainTextSelection": "selection", f"{Q}Code": "code"}
    for holder in p.root.iter():
        for ref in p.children(holder, "NoteRef"):
            target = ref.get("targetGUID", "")
            if target not in out.notes:
                out.lost.append(f"NoteRef to no note ({target})")
                continue
            kind = holders.get(holder.tag, holder.tag.removeprefix(Q).lower())
            out.notes[target].attached_to.append(f"{kind}:{holder.get('name') or holder.get('guid')}")
    return out


def read_qualcoder(data: bytes) -> Imported:
    """What QualCoder's importer keeps of the project (see the module docstring)."""
    p = _Project(data)
    out = Imported()
    code_name = p.codes(out, qualcoder=True)
    source_of: dict[str, str] = {}  # TextSource GUID -> name
    source_ref_notes: dict[str, str] = {}  # Note GUID -> source name, from NoteRefs in a TextSource
    for src in p.sources("TextSource"):
        name = src.get("name", "")
        if name in out.sources:
            name = f"1_{name}"  # QualCoder prefixes a repeated source name
        text = p.text_of(src) if src.get("plainTextPath") else None
        if text is None:
            out.lost.append(f"text source {name!r}")
            continue
        out.sources[name] = text
        source_of[src.get("guid", "")] = name
        for sel in p.children(src, "PlainTextSelection"):
            where = p.passage(out.sources, name, sel, out)
            codings = p.children(sel, "Coding")
            for coding in codings:
                ref = coding.find(f"{Q}CodeRef")
                target = ref.get("targetGUID", "") if ref is not None else ""
                if target not in code_name:
                    out.lost.append(f"coding {coding.get('guid')} (a code QualCoder did not keep)")
                elif (code_name[target], where) in out.codings:  # one coding per code, coder and range
                    out.lost.append(f"duplicated coding of {code_name[target]!r} at {where.start}:{where.end}")
                else:
                    out.codings.append((code_name[target], where))
            if not codings:  # an annotation, even when there is nothing to say
                out.annotations.append((where, sel.findtext(f"{Q}Description") or ""))
                out.empty_selections.append(where)
            if p.children(sel, "NoteRef"):
                out.lost.append(f"NoteRef inside selection {sel.get('guid')} (not read)")
        for ref in p.children(src, "NoteRef"):
            source_ref_notes[ref.get("targetGUID", "")] = name
    p.audio(out, qualcoder=True)

    journal_names: set[str] = set()
    for note in p.children(p.root.find(f"{Q}Notes"), "Note"):
        guid, name = note.get("guid", ""), note.get("name")
        if guid in source_ref_notes:
            memo = note.findtext(f"{Q}PlainTextContent")
            at = note.find(f"{Q}PlainTextSelection")
            if memo is None or at is None:
                out.lost.append(f"note {name!r}: referenced by its source but no PlainTextContent and position")
                continue
            out.annotations.append((p.passage(out.sources, source_ref_notes[guid], at, out), memo))
        elif note.get("plainTextPath") and name:
            if name in journal_names:
                out.lost.append(f"journal {name!r} repeats a name (QualCoder fails on it)")
            journal_names.add(name)
            raw = p.internal(note.get("plainTextPath"))
            out.journals[name] = raw.decode("utf-8-sig") if raw is not None else ""
        else:
            out.lost.append(f"note {name!r}: neither an annotation nor a journal")

    # Cases: only a Code with the Case's GUID links a case to text; that code is then removed
    for case in p.children(p.root.find(f"{Q}Cases"), "Case"):
        name = case.get("name")
        if name is None:
            continue  # a nameless Case holds file variables (MAXQDA, Quirkos)
        out.cases[name] = p.variables(case)
        guid = case.get("guid", "")
        code = code_name.get(guid)
        passages = [w for c, w in out.codings if code is not None and c == code]
        out.codings = [(c, w) for c, w in out.codings if code is None or c != code]
        if code is not None:
            del out.codes[code]
        out.case_passages[name] = passages
        out.case_sources[name] = {w.source for w in passages}
    return out
