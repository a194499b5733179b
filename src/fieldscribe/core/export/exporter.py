"""One export: reviewed sessions → every format → one signed, encrypted bundle."""

from __future__ import annotations

import errno
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from .. import ledger, sessions
from ..errors import InvalidInput
from ..vault import Vault
from . import formats
from .bundle import write_bundle
from .content import ExportContent, gather
from .keys import device_key, read_recipients
from .outbox import record_export
from .qdpx import build_qdpx
from .recipients import choose as choose_recipients


def build_files(content: ExportContent, audio: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """Every format of CONTENT; with AUDIO (session id → FLAC, consented), the .qdpx also
    carries each recording with its transcript synchronised to it."""
    study_id = content.study.study.id
    files: dict[str, bytes] = {
        f"{study_id}.qdpx": build_qdpx(content, audio),
        # both sheets start with a byte-order mark, so Excel reads them as UTF-8 ("45–54", Chinese)
        "cases.csv": formats.to_csv(content).encode("utf-8"),
        "turns.csv": formats.to_turns_csv(content).encode("utf-8"),
        "export.json": formats.to_json(content).encode("utf-8"),
    }
    now = datetime.now(UTC)  # one time for every document of the export
    for s in content.sessions:
        files[f"transcripts/{s.session_id}.txt"] = formats.to_txt(s).encode("utf-8")
        files[f"transcripts/{s.session_id}.docx"] = formats.to_docx(s, content.study.study, now)
        files[f"subtitles/{s.session_id}.vtt"] = formats.to_vtt(s).encode("utf-8")
        # without voice tags or character references, for tools that show them as text (Taguette)
        files[f"subtitles/{s.session_id}.plain.vtt"] = formats.to_plain_vtt(s).encode("utf-8")
        files[f"subtitles/{s.session_id}.srt"] = formats.to_srt(s).encode("utf-8")
    return files


def audio_files(vault: Vault, content: ExportContent) -> dict[str, bytes]:
    """The recordings as FLAC, only where the study names an audio-sharing consent item and
    every participant of the session gave it (and has not withdrawn it)."""
    import io

    import soundfile as sf

    from ..audio.store import read_audio
    from ..consent import current_consent

    item = content.study.export.audio_sharing_consent
    if not item:
        raise InvalidInput(
            "This study has no audio-sharing consent item (export: audio_sharing_consent: in the "
            "study file), so bundles cannot carry audio."
        )
    out = {}
    for s in content.sessions:
        missing = [
            p
            for p in s.participants
            if not (current_consent(vault, p).get(item) and current_consent(vault, p)[item].given)
        ]
        if missing:
            raise InvalidInput(
                f"{', '.join(missing)} did not consent to sharing the recording ({item}); export "
                f"{s.session_id} without --with-audio."
            )
        pcm, rate = read_audio(vault, s.session_id)
        buf = io.BytesIO()
        sf.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
        out[f"audio/{s.session_id}.flac"] = buf.getvalue()
    return out


def export_sessions(
    vault: Vault, session_ids: list[str], out_dir: Path, recipients: list[str] | None = None, with_audio: bool = False
) -> Path:
    from ... import __version__

    out_dir = _bundle_folder(Path(out_dir))  # a bad --to is refused before minutes of work
    ledger.check_study(vault)  # recipients come from the (sealed) list of study files
    content = gather(vault, session_ids)
    # given > the study's recipients in the vault > the newest study file > the session's version
    chosen = choose_recipients(vault, list(recipients or []), content.study)
    keys = read_recipients(list(chosen.keys), files=chosen.source != "vault")  # the vault holds keys, never paths
    audio = audio_files(vault, content) if with_audio else {}
    files = build_files(
        content, {name.removeprefix("audio/").removesuffix(".flac"): data for name, data in audio.items()}
    )
    files.update(audio)
    signer = device_key(vault)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_-]", "", content.study.study.id)
    out = _claim_bundle_name(vault, out_dir, f"{safe}-{vault.device_id[:8]}-{stamp}")
    manifest = {
        "study": {
            "id": content.study.study.id,
            "title": content.study.study.title,
            "ethics_reference": content.study.study.ethics_reference,
        },
        "fieldscribe_version": __version__,
        "device_id": vault.device_id,
        "sessions": [
            {"id": s.session_id, "wave": s.wave, "guide_version": s.guide_version, "participants": s.participants}
            for s in content.sessions
        ],
        "redactions": content.redaction_counts,
        "audio_included": with_audio,
        # the file's own name, signed: a copy under another name on the store is refused
        "bundle": out.name,
    }
    try:
        manifest_sha256 = write_bundle(files, manifest, signer, keys, out)
    except BaseException:
        out.unlink(missing_ok=True)  # the claimed name, still empty
        raise

    with vault.db.atomic():
        record_export(vault, out, manifest_sha256, [s.session_id for s in content.sessions])
        for s in content.sessions:
            if sessions.get_session(vault, s.session_id).status in (
                sessions.REVIEWED,
                sessions.EXPORTED,
                sessions.SYNCED,
                sessions.RECEIVED,
            ):
                sessions.set_status(vault, s.session_id, sessions.EXPORTED)
        ledger.update_study(
            vault,
            "export.bundle",
            ",".join(s.session_id for s in content.sessions),
            files=len(files),
            recipients=len(keys),
            recipients_from=chosen.source,
            redactions=sum(content.redaction_counts.values()),
        )
    return out


def _bundle_folder(out_dir: Path) -> Path:
    """The --to folder, created if needed; a file, a device or a place where nothing can be
    created is one sentence."""
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise InvalidInput(f"{out_dir} is a file; --to needs a folder.")
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise  # the CLI's disk-full sentence
        raise InvalidInput(
            f"The bundle cannot be written in {out_dir} ({exc.strerror}); choose a folder you can write to with --to."
        ) from None
    return out_dir


def _claim_bundle_name(vault: Vault, out_dir: Path, base: str) -> Path:
    """A bundle name that neither a file in OUT_DIR nor an earlier export in the outbox has.

    Names carry the time to the second, so two exports within one second would share one:
    the second would replace the first bundle on disk while its sessions stayed "exported"
    with no bundle to send. So a counter is added on a clash, and the name is claimed by
    creating the (empty) file with O_EXCL, which only one writer can win; write_bundle
    then puts the sealed bundle in its place."""
    taken = {row[0] for row in vault.db.execute("SELECT name FROM exports")}
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for n in range(1, 1000):
        name = f"{base}{'' if n == 1 else f'-{n}'}.fsbundle.age"
        if name in taken:
            continue
        try:
            os.close(os.open(out_dir / name, flags, 0o600))
        except FileExistsError:
            continue
        return out_dir / name
    raise InvalidInput(f"{out_dir} already holds 999 bundles from this second; wait a second and export again.")
