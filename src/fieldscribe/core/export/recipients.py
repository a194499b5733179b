"""Whom a bundle is encrypted to: the analysis team's age recipients, and where they come from.

A session keeps the study version it was planned with, so a key added to the study file later
never reached the sessions planned before it — and a new study whose file had no key could
not export them at all. The team's key is therefore also a study-wide setting in the vault,
and an export takes its recipients from the first of these that has any:

1. the recipients given for this export (``--recipient``; the app's own override);
2. the study's recipients in the vault (``fieldscribe study recipient set``, or the app);
3. the newest imported version of the study file (``export: recipients:``);
4. the study version the (first) exported session was planned with.

The vault's list is a study record sealed with the study key and bound to its name (AEAD
associated data), and it is part of the study ledger (core/ledger.py), which the audit log
vouches for: someone with the disk and no key can neither swap in their own key, nor put back
an older list, nor delete the list to fall back to an older study file's key, unnoticed. Each
change is an audit entry naming the keys (public keys, not personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .. import ledger
from ..errors import InvalidInput
from ..guides import list_guides, load_guide
from ..study import Study
from ..study_records import drop_study_record, get_study_record, put_study_record
from ..vault import Vault
from .keys import names_a_file, parse_recipients, read_recipient_file

RECORD = "export_recipients"  # the study record's name (and its sealing context)
MAX_RECIPIENTS = 20  # a team shares a key or two; a list this long is a mistake
RecipientSource = Literal["given", "vault", "study_file", "session_study"]


@dataclass(frozen=True)
class Recipients:
    """The keys an export would encrypt to, and which of the sources above gave them."""

    keys: tuple[str, ...]  # age1… (canonical form); empty: no source has any
    source: RecipientSource | None


def stored_recipients(vault: Vault) -> list[str]:
    """The study's recipients kept in the vault (empty when none is set). Refused, in one
    sentence, if the record or the study's history was altered on disk."""
    value = get_study_record(vault, RECORD)
    if value is None:
        return []
    keys = value.get("recipients") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        from ..errors import RecordTampered

        raise RecordTampered(f"study/{RECORD}")
    return parse_recipients("\n".join(keys), where="the study's recipients (set them again)")


def recipients_from_input(text: str) -> list[str]:
    """What the interviewer gave as the team's key: an age1… line, the contents of a .pub
    file (several lines, comments allowed), or the path of such a file. Checked; never empty."""
    stripped = text.strip()
    one_line = stripped and "\n" not in stripped and not stripped.startswith(("age1", "#"))
    if one_line and names_a_file(stripped):
        stripped = read_recipient_file(Path(stripped).expanduser())
    keys = parse_recipients(stripped, where="the key you gave (the team's .pub file holds one age1… line)")
    if not keys:
        raise InvalidInput("No age1… key was given; paste the analysis team's key or the path of their .pub file.")
    if len(keys) > MAX_RECIPIENTS:
        raise InvalidInput(f"{len(keys)} keys were given; a study has at most {MAX_RECIPIENTS} recipients.")
    return list(dict.fromkeys(keys))  # each once, in the order given


def set_study_recipients(vault: Vault, text: str) -> list[str]:
    """Keep TEXT's recipients (see :func:`recipients_from_input`) as the study's, replacing
    any set before; audited. Returns the keys kept."""
    keys = recipients_from_input(text)
    ledger.check_study(vault)  # never seal a tampered study state into a new ledger
    with vault.db.atomic():
        put_study_record(vault, RECORD, {"recipients": keys})
        ledger.update_study(vault, "export.recipients_set", "", recipients=keys)
    return keys


def clear_study_recipients(vault: Vault) -> bool:
    """Forget the vault's recipients (exports fall back to the study file's); audited.
    Returns whether there was a list to forget."""
    previous = stored_recipients(vault)  # also checks the study's history
    if not previous:
        return False
    with vault.db.atomic():
        drop_study_record(vault, RECORD)
        ledger.update_study(vault, "export.recipients_cleared", "", recipients=previous)
    return True


def newest_study_file(vault: Vault, study_id: str | None = None) -> Study | None:
    """The newest imported version of the study file (of STUDY_ID, when given)."""
    guides = [g for g in list_guides(vault) if study_id is None or g.study_id == study_id]
    return load_guide(vault, guides[-1].sha256).study if guides else None


def choose(
    vault: Vault, given: list[str] | None = None, session_study: Study | None = None, study_id: str | None = None
) -> Recipients:
    """The recipients an export uses, by the order in the module docstring. GIVEN values are
    returned as given (age1… or a file path: the exporter reads them); stored ones are keys."""
    if given:
        return Recipients(tuple(given), "given")
    stored = stored_recipients(vault)
    if stored:
        return Recipients(tuple(stored), "vault")
    newest = newest_study_file(vault, study_id or (session_study.study.id if session_study else None))
    if newest is not None and newest.export.recipients:
        return Recipients(tuple(newest.export.recipients), "study_file")
    if session_study is not None and session_study.export.recipients:
        return Recipients(tuple(session_study.export.recipients), "session_study")
    return Recipients((), None)


@dataclass(frozen=True)
class KnownRecipients:
    """Every key the study knows, by source (what `study recipient show` and the app list)."""

    vault: tuple[str, ...]  # set with `study recipient set` or in the app
    study_file: tuple[str, ...]  # the newest study file's export: recipients:
    older_study_files: tuple[str, ...]  # only older versions name these: their sessions fall back to them

    @property
    def source(self) -> Literal["vault", "study_file"] | None:
        """Where an export with no recipients given takes them from (None: only a session's
        own, older, study version can still name one)."""
        return "vault" if self.vault else "study_file" if self.study_file else None


def known_recipients(vault: Vault) -> KnownRecipients:
    guides = list_guides(vault)
    newest_id = guides[-1].study_id if guides else None
    files = [load_guide(vault, g.sha256).study for g in guides if g.study_id == newest_id]
    newest = tuple(files[-1].export.recipients) if files else ()
    older = tuple(dict.fromkeys(r for s in files[:-1] for r in s.export.recipients if r not in newest))
    return KnownRecipients(tuple(stored_recipients(vault)), newest, older)
