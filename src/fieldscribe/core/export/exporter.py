"""One export: reviewed sessions → every format → one signed, encrypted bundle."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from .. import sessions
from ..errors import InvalidInput
from ..vault import Vault
from . import formats
from .bundle import device_key, read_recipients, write_bundle
from .content import gather
from .qdpx import build_qdpx


def build_files(content) -> dict[str, bytes]:
    study_id = content.study.study.id
    files: dict[str, bytes] = {
        f"{study_id}.qdpx": build_qdpx(content),
        "cases.csv": formats.to_csv(content).encode("utf-8"),
        "export.json": formats.to_json(content).encode("utf-8"),
    }
    for s in content.sessions:
        files[f"transcripts/{s.session_id}.txt"] = formats.to_txt(s).encode("utf-8")
        files[f"transcripts/{s.session_id}.docx"] = formats.to_docx(s)
        files[f"subtitles/{s.session_id}.vtt"] = formats.to_vtt(s).encode("utf-8")
        files[f"subtitles/{s.session_id}.srt"] = formats.to_srt(s).encode("utf-8")
    return files


def audio_files(vault: Vault, content) -> dict[str, bytes]:
    """The recordings as FLAC, only where the study names an audio-sharing consent item and
    every participant of the session gave it (and has not withdrawn it)."""
    import io

    import soundfile as sf

    from ..audio.store import read_audio
    from ..consent import current_consent

    item = content.study.export.audio_sharing_consent
    if not item:
        raise InvalidInput("This study has no audio-sharing consent item (export: audio_sharing_consent: in the "
                           "study file), so bundles cannot carry audio.")
    out = {}
    for s in content.sessions:
        missing = [p for p in s.participants
                   if not (current_consent(vault, p).get(item) and current_consent(vault, p)[item].given)]
        if missing:
            raise InvalidInput(f"{', '.join(missing)} did not consent to sharing the recording ({item}); export "
                               f"{s.session_id} without --with-audio.")
        pcm, rate = read_audio(vault, s.session_id)
        buf = io.BytesIO()
        sf.write(buf, pcm, rate, format="FLAC", subtype="PCM_16")
        out[f"audio/{s.session_id}.flac"] = buf.getvalue()
    return out


def export_sessions(vault: Vault, session_ids: list[str], out_dir: Path, recipients: list[str] | None = None,
                    with_audio: bool = False) -> Path:
    from ... import __version__

    content = gather(vault, session_ids)
    keys = read_recipients(list(recipients or []) or list(content.study.export.recipients))
    files = build_files(content)
    if with_audio:
        files.update(audio_files(vault, content))
    signer = device_key(vault)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidInput(f"{out_dir} is a file; --to needs a folder.")
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9_-]", "", content.study.study.id)
    out = out_dir / f"{safe}-{vault.device_id[:8]}-{stamp}.fsbundle.age"
    manifest = {
        "study": {"id": content.study.study.id, "title": content.study.study.title,
                  "ethics_reference": content.study.study.ethics_reference},
        "fieldscribe_version": __version__,
        "device_id": vault.device_id,
        "sessions": [{"id": s.session_id, "wave": s.wave, "guide_version": s.guide_version,
                      "participants": s.participants} for s in content.sessions],
        "redactions": content.redaction_counts,
        "audio_included": with_audio,
    }
    manifest_sha256 = write_bundle(files, manifest, signer, keys, out)
    from ..sync.outbox import record_export

    with vault.db.atomic():
        record_export(vault, out, manifest_sha256, [s.session_id for s in content.sessions])
        for s in content.sessions:
            if sessions.get_session(vault, s.session_id).status in (sessions.REVIEWED, sessions.EXPORTED,
                                                                     sessions.SYNCED, sessions.RECEIVED):
                sessions.set_status(vault, s.session_id, sessions.EXPORTED)
        vault.log("export.bundle", ",".join(s.session_id for s in content.sessions),
                  files=len(files), recipients=len(keys), redactions=sum(content.redaction_counts.values()))
    return out
