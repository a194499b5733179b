"""Study files imported into a vault, frozen by content hash.

The vault keeps the exact text of every version it has seen; sessions point at the hash of
the version they were run with, so an amended protocol never silently changes what an
earlier interview was asked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from . import ledger
from .audit import now_iso
from .errors import GuideNotImported, RecordTampered
from .study import StudyFile, parse_study
from .vault import Vault


@dataclass(frozen=True)
class ImportedGuide:
    sha256: str
    study_id: str
    language: str
    title: str
    imported_at: str

    @property
    def version(self) -> str:
        return self.sha256[:12]


def import_guide(vault: Vault, study_file: StudyFile) -> tuple[ImportedGuide, bool]:
    """Store a validated study file; return it and whether it was new to this vault."""
    existing = vault.db.execute("SELECT 1 FROM guides WHERE sha256 = ?", (study_file.sha256,)).fetchone()
    info = study_file.study.study
    if existing is None:
        if vault.unlocked:
            ledger.check_study(vault)
        with vault.db.atomic():
            vault.db.table("guides").insert(
                {
                    "sha256": study_file.sha256,
                    "study_id": info.id,
                    "language": info.language,
                    "title": info.title,
                    "imported_at": now_iso(),
                    "text": study_file.text,
                }
            )
            _seal_guide(vault, study_file.sha256)
            ledger.update_study(vault, "guide.import", info.id, version=study_file.version, language=info.language)
    return get_guide_info(vault, study_file.sha256), existing is None


def list_guides(vault: Vault) -> list[ImportedGuide]:
    rows = vault.db.execute(
        "SELECT sha256, study_id, language, title, imported_at FROM guides ORDER BY imported_at, rowid"
    ).fetchall()
    return [ImportedGuide(*r) for r in rows]


def get_guide_info(vault: Vault, ref: str) -> ImportedGuide:
    """Find a guide by hash prefix (as printed) or by language code."""
    ref = ref.strip().lower()
    matches = [g for g in list_guides(vault) if g.sha256.startswith(ref) or g.language == ref]
    if not matches or (len(matches) > 1 and len({g.sha256 for g in matches if g.sha256.startswith(ref)}) > 1):
        raise GuideNotImported(ref)
    return matches[-1]


SEALED_MARK = "guides_sealed"


def _seal_guide(vault: Vault, sha256: str) -> None:
    """Bind an imported study file to the vault's study key. The text itself is the protocol
    and stays readable, but it names the keys bundles are encrypted to and receipts are
    believed from: someone who edits vault.db must not be able to slip in a key of theirs."""
    vault.db.table("study_records").upsert(
        {
            "name": f"guide:{sha256}",
            "sealed": vault.seal_json(vault.study_key, sha256, "study", "guide", sha256),
            "updated_at": now_iso(),
        },
        pk="name",
    )
    if vault.db.execute("SELECT 1 FROM study_records WHERE name = ?", (SEALED_MARK,)).fetchone() is None:
        vault.db.table("study_records").insert(
            {
                "name": SEALED_MARK,
                "updated_at": now_iso(),
                "sealed": vault.seal_json(vault.study_key, True, "study", SEALED_MARK),
            }
        )


def _check_guide(vault: Vault, sha256: str, text: str) -> None:
    label = f"study file {sha256[:12]}"
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != sha256:
        raise RecordTampered(label)
    if not vault.unlocked:
        return  # trust decisions (recipients, receipt keys) are only taken unlocked
    ledger.check_study(vault)  # which study files were imported, and when, is sealed history
    row = vault.db.execute("SELECT sealed FROM study_records WHERE name = ?", (f"guide:{sha256}",)).fetchone()
    if row is not None:
        if vault.open_json(vault.study_key, row[0], "study", "guide", sha256) != sha256:
            raise RecordTampered(label)
        return
    if vault.db.execute("SELECT 1 FROM study_records WHERE name = ?", (SEALED_MARK,)).fetchone() is not None:
        raise RecordTampered(label)  # a study file added to vault.db without the vault's key
    # a vault from before study files were sealed: seal what it holds now, once
    with vault.db.atomic():
        for (other,) in vault.db.execute("SELECT sha256 FROM guides").fetchall():
            _seal_guide(vault, other)
        ledger.update_study(vault, "guide.sealed", "", count=len(list_guides(vault)))


def load_guide(vault: Vault, sha256: str) -> StudyFile:
    row = vault.db.execute("SELECT text FROM guides WHERE sha256 = ?", (sha256,)).fetchone()
    if row is None:
        raise GuideNotImported(sha256[:12])
    _check_guide(vault, sha256, row[0])
    return parse_study(row[0], source=f"guide {sha256[:12]}")


def current_guide(vault: Vault, ref: str | None = None) -> StudyFile:
    """The guide new work uses: the one named, else the most recently imported."""
    if ref:
        return load_guide(vault, get_guide_info(vault, ref).sha256)
    guides = list_guides(vault)
    if not guides:
        raise GuideNotImported()
    return load_guide(vault, guides[-1].sha256)
