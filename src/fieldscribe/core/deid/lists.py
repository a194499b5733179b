"""Identifier lists and the study's replacement table: the words to look for in transcripts,
and what each accepted one is replaced with.

Qualitative archives replace identifiers with bracketed descriptors ("[P4]", "[female
friend]", "[day-care centre]") rather than blanks, consistently across every transcript of a
study. The table original → descriptor is the key to re-identification, so it lives sealed
in the vault and is never exported. The review of one transcript (``review.py``) builds on
these lists; withdrawal prunes the table.
"""

from __future__ import annotations

from dataclasses import asdict

from .. import ledger
from ..errors import InvalidInput
from ..participants import get_record, put_record, require_active
from ..study_records import get_study_record, put_study_record
from ..vault import Vault
from .descriptors import base_of, has_cjk
from .detect import Identifier, detect

TABLE_FORMAT = "replacements/2"


def bracketed(text: str) -> str:
    """A descriptor as written in a transcript: [sister] (brackets added when missing)."""
    text = text.strip()
    if not text:
        raise InvalidInput("A descriptor cannot be empty; use a bracketed description such as [sister].")
    return text if text.startswith("[") and text.endswith("]") else f"[{text}]"


def parse_identifier(entry: str, default: str, kind: str = "identifier") -> Identifier:
    """'Mary Chan=sister' → Mary Chan → [sister]; 'Riverside' → Riverside → default."""
    text, sep, descriptor = entry.partition("=")
    if not text.strip():
        raise InvalidInput(f"{entry!r} names no identifier; use TEXT or TEXT=DESCRIPTOR.")
    return Identifier(text.strip(), bracketed(descriptor) if sep else default, kind)


def participant_identifiers(vault: Vault, pid: str) -> list[Identifier]:
    """The person's own name and contact details, plus what the interviewer added."""
    pid = require_active(vault, pid)
    key = vault.participant_key(pid)
    out = []
    identity = get_record(vault, key, pid, "identity") or {}
    if identity.get("name"):
        out.append(Identifier(identity["name"], f"[{pid}]", "name"))
        # the given name alone is how people are addressed in an interview
        parts = identity["name"].split()
        if len(parts) > 1:
            out += [Identifier(p, f"[{pid}]", "name") for p in parts if len(p) > 1]
    if identity.get("contact"):
        out.append(Identifier(identity["contact"], "[contact details]", "contact"))
    out += [Identifier(**i) for i in (get_record(vault, key, pid, "identifiers") or [])]
    return out


def inferbracketed(text: str, own_names: list[str], pid: str) -> str:
    """What an identifier typed without a descriptor stands for. Only the participant's
    own name (or a part of it) reads as them; anything else is classified by the rules
    and models ('Peter Walsh' → [person], 'Ward 12' → [ward]), never silently the
    participant: "My friend [P1] taught me" would say something false about them."""
    words = text.split()
    if any(text == n or text in n.split() or (has_cjk(text) and text in n) for n in own_names):
        return f"[{pid}]"
    spans = detect(text, [])
    whole = [sp for sp in spans if sp.start == 0 and sp.end >= len(text.rstrip())]
    if whole:
        return base_of(whole[0].descriptor) if whole[0].descriptor != "[名字]" else "[某人]"
    if has_cjk(text):
        return "[某人]" if len(text) <= 4 else "[identifier]"
    return "[person]" if words and all(w[:1].isupper() for w in words) else "[identifier]"


def add_participant_identifiers(vault: Vault, pid: str, entries: list[str]) -> list[Identifier]:
    pid = require_active(vault, pid)
    key = vault.participant_key(pid)
    current = get_record(vault, key, pid, "identifiers") or []
    identity = get_record(vault, key, pid, "identity") or {}
    own = [identity["name"]] if identity.get("name") else []
    new = []
    for e in entries:
        ident = parse_identifier(e, "")
        new.append(
            ident if ident.descriptor else Identifier(ident.text, inferbracketed(ident.text, own, pid), ident.kind)
        )
    with vault.db.atomic():
        put_record(vault, key, pid, "identifiers", current + [asdict(i) for i in new])
        ledger.update_participant(vault, pid, "deid.identifiers_added", pid, count=len(new))
    return new


def study_identifiers(vault: Vault) -> list[Identifier]:
    """The study-wide list: what was added with `study identifiers`, and what every
    imported version of the study file names (sites, their short forms, staff, places)."""
    return added_study_identifiers(vault) + study_file_identifiers(vault)


def study_file_identifiers(vault: Vault) -> list[Identifier]:
    from ..guides import list_guides, load_guide

    out: dict[str, Identifier] = {}
    for guide in list_guides(vault):
        for ident in load_guide(vault, guide.sha256).study.identifiers():
            out.setdefault(ident[0], Identifier(ident[0], bracketed(ident[1]), "identifier"))
    return list(out.values())


def added_study_identifiers(vault: Vault) -> list[Identifier]:
    return [Identifier(**i) for i in get_study_record(vault, "identifiers") or []]


def add_study_identifiers(vault: Vault, entries: list[str]) -> list[Identifier]:
    new = [parse_identifier(e, "") for e in entries]
    new = [i if i.descriptor else Identifier(i.text, inferbracketed(i.text, [], ""), i.kind) for i in new]
    items = [asdict(i) for i in added_study_identifiers(vault) + new]
    with vault.db.atomic():
        put_study_record(vault, "identifiers", items)
        ledger.update_study(vault, "deid.study_identifiers_added", "", count=len(new))
    return new


def table_doc(vault: Vault) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The table and, per original, the sessions whose review put it there (tables written
    before origins were kept have none: withdrawal then falls back on the decision logs)."""
    doc = get_study_record(vault, "replacements") or {}
    if isinstance(doc, dict) and doc.get("format") == TABLE_FORMAT:
        return dict(doc["entries"]), {k: list(v) for k, v in doc["origins"].items()}
    return dict(doc), {}


def replacement_table(vault: Vault) -> dict[str, str]:
    return table_doc(vault)[0]


def table_origins(vault: Vault) -> dict[str, list[str]]:
    """original → the sessions whose review accepted it (for withdrawal)."""
    return table_doc(vault)[1]


def rejected_strings(vault: Vault) -> set[str]:
    """What a reviewer said is not an identifier, for the whole study (normalised)."""
    return set(get_study_record(vault, "not_identifiers") or [])


def save_rejected(vault: Vault, rejected: set[str]) -> None:
    put_study_record(vault, "not_identifiers", sorted(rejected))


def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def save_table(
    vault: Vault,
    table: dict[str, str],
    session_id: str | None = None,
    originals: list[str] | tuple[str, ...] = (),
    origins: dict[str, list[str]] | None = None,
) -> None:
    """Seal the table; the originals accepted now are remembered as coming from SESSION_ID,
    so that a participant's withdrawal can take out what only their interviews put in."""
    kept = table_origins(vault) if origins is None else origins
    kept = {o: sids for o, sids in kept.items() if o in table}
    for original in originals:
        if session_id and original in table and session_id not in kept.setdefault(original, []):
            kept[original].append(session_id)
    doc = {"format": TABLE_FORMAT, "entries": table, "origins": kept}
    put_study_record(vault, "replacements", doc)
