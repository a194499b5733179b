"""The vault's SQLite schema and its migrations.

Migrations are numbered from day one: a field laptop may carry a vault made by an older
release for a whole year of waves, and must open it after an upgrade without losing data.
Each migration runs in one transaction; ``PRAGMA user_version`` records the version reached.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from .errors import SchemaTooNew


def _v1(db: sqlite_utils.Database) -> None:
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("keyring").create({"name": str, "salt": bytes, "params": str, "wrapped": bytes}, pk="name")
    db.table("guides").create(
        {"sha256": str, "study_id": str, "language": str, "title": str, "imported_at": str, "text": str},
        pk="sha256",
    )
    db.table("participants").create(
        {
            "id": str,
            "seq": int,
            "study_group": str,
            "status": str,
            "enrolled_at": str,
            "withdrawn_at": str,
            "site": bytes,
        },
        pk="id",
        not_null={"seq", "study_group", "status", "enrolled_at"},
    )
    db.table("participants").create_index(["seq"], unique=True)
    db.table("participant_keys").create(
        {"participant_id": str, "wrapped": bytes},
        pk="participant_id",
        foreign_keys=[("participant_id", "participants", "id")],
    )
    # identity, eligibility, baseline, compensation: one sealed JSON document each
    db.table("participant_records").create(
        {"participant_id": str, "kind": str, "sealed": bytes, "updated_at": str},
        pk=("participant_id", "kind"),
        foreign_keys=[("participant_id", "participants", "id")],
    )
    # append-only: the latest decision per item counts, the history stays
    db.table("consents").create(
        {"id": int, "participant_id": str, "item_id": str, "sealed": bytes, "recorded_at": str},
        pk="id",
        foreign_keys=[("participant_id", "participants", "id")],
    )
    db.table("consents").create_index(["participant_id", "item_id"])
    db.table("sessions").create(
        {
            "id": str,
            "seq": int,
            "kind": str,
            "wave": int,
            "guide_sha256": str,
            "status": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("guide_sha256", "guides", "sha256")],
    )
    db.table("sessions").create_index(["seq"], unique=True)
    db.table("session_participants").create(
        {"session_id": str, "participant_id": str, "position": int},
        pk=("session_id", "participant_id"),
        foreign_keys=[("session_id", "sessions", "id"), ("participant_id", "participants", "id")],
    )
    # the session key wrapped once per participant's data key (see SECURITY.md)
    db.table("session_keys").create(
        {"session_id": str, "participant_id": str, "wrapped": bytes},
        pk=("session_id", "participant_id"),
    )
    db.table("study_records").create({"name": str, "sealed": bytes, "updated_at": str}, pk="name")
    db.table("audit").create(
        {
            "seq": int,
            "ts": str,
            "actor": str,
            "action": str,
            "subject": str,
            "details": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
    )


def _v2(db: sqlite_utils.Database) -> None:
    """Audio recordings and the interview timeline."""
    # one row per session audio file; state 'recording' after a crash marks it for recovery
    db.table("recordings").create(
        {
            "session_id": str,
            "blob": str,
            "codec": str,
            "rate": int,
            "channels": int,
            "state": str,
            "chunks": int,
            "frames": int,
            "started_at": str,
            "updated_at": str,
            "pid": int,
        },
        pk="session_id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    # timestamped against the audio clock; kind in clear (question/note/flag…), payload sealed
    db.table("session_events").create(
        {"id": int, "session_id": str, "seq": int, "t": float, "kind": str, "sealed": bytes, "created_at": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db.table("session_events").create_index(["session_id", "seq"], unique=True)


def _v3(db: sqlite_utils.Database) -> None:
    """Transcripts: versions per session (a re-run keeps the old one until it completes),
    and their segments, sealed with the session key."""
    db.table("transcripts").create(
        {
            "id": int,
            "session_id": str,
            "version": int,
            "model": str,
            "language": str,
            "state": str,
            "done_s": float,
            "total_s": float,
            "settings": str,
            "created_at": str,
            "completed_at": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db.table("transcripts").create_index(["session_id", "version"], unique=True)
    db.table("transcript_segments").create(
        {"id": int, "transcript_id": int, "idx": int, "start": float, "end": float, "sealed": bytes},
        pk="id",
        foreign_keys=[("transcript_id", "transcripts", "id")],
    )
    db.table("transcript_segments").create_index(["transcript_id", "idx"], unique=True)


def _v4(db: sqlite_utils.Database) -> None:
    """Redaction review: one sealed document per session and transcript version."""
    db.table("redactions").create(
        {"session_id": str, "transcript_version": int, "sealed": bytes, "reviewed": int, "updated_at": str},
        pk=("session_id", "transcript_version"),
        foreign_keys=[("session_id", "sessions", "id")],
    )


def _v5(db: sqlite_utils.Database) -> None:
    """The outbox: every bundle written, and how far it got (uploaded, received by the team).

    Only what the store itself sees is kept here: file name, size and hashes of ciphertext,
    session ids. The manifest hash is the secret a receipt must prove knowledge of."""
    db.table("exports").create(
        {
            "name": str,
            "path": str,
            "size": int,
            "sha256": str,
            "manifest_sha256": str,
            "sessions": str,
            "created_at": str,
            "uploaded_at": str,
            "remote": str,
            "received_at": str,
            "receipt": str,
        },
        pk="name",
    )


def _v6(db: sqlite_utils.Database) -> None:
    """History ledgers (core/ledger.py): per participant and per session, one sealed digest
    of every row the scope owns, and the audit entry that vouches for it.

    A vault that already holds data gets its ledgers built on first use after unlock (the
    keys are not available here); the marker says that this is expected, once."""
    db.table("ledgers").create({"scope": str, "sealed": bytes, "audit_seq": int, "updated_at": str}, pk="scope")
    has_data = db.execute("SELECT EXISTS(SELECT 1 FROM participants) OR EXISTS(SELECT 1 FROM sessions)").fetchone()[0]
    if has_data:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('ledger_backfill', 'pending')")


def _v7(db: sqlite_utils.Database) -> None:
    """The study-wide history (study files, study records, the outbox) joins the ledgers; a
    vault that already holds any of them gets it built on first use after unlock."""
    has_data = db.execute(
        "SELECT EXISTS(SELECT 1 FROM guides) OR EXISTS(SELECT 1 FROM study_records) OR EXISTS(SELECT 1 FROM exports)"
    ).fetchone()[0]
    if has_data:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('ledger_backfill', 'pending')")


def _v8(db: sqlite_utils.Database) -> None:
    """A session's plan: the date it is planned for and the site, one JSON document sealed with
    the session key (so it goes with the session when its last participant withdraws or it is
    purged). Sessions planned before this version have none (NULL)."""
    db.execute("ALTER TABLE sessions ADD COLUMN plan BLOB")


def _v9(db: sqlite_utils.Database) -> None:
    """A session's speakers: its voices' turns and who each voice is (core/speakers.py), one
    JSON document sealed with the session key and covered by the session's history. NULL until
    they are found."""
    db.execute("ALTER TABLE sessions ADD COLUMN speakers BLOB")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(db: sqlite_utils.Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> list[int]:
    """Bring the schema up to date; return the versions applied. Refuse newer vaults
    before touching anything, so an old release never damages a newer vault."""
    found = current_version(db)
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(found, SCHEMA_VERSION)
    applied = []
    for version in range(found + 1, SCHEMA_VERSION + 1):
        with db.atomic():
            MIGRATIONS[version - 1](db)
            db.execute(f"PRAGMA user_version = {version}")
        applied.append(version)
    return applied
