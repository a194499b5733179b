"""Withdrawal reaches everything derived from the person: the study's replacement table, the
outbox (unsent bundles held back) and the analysis team (a signed notice that `bundle pull`
applies). Real vaults, real age bundles, a real folder store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fieldscribe.core import consent, ledger, participants, sessions, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.deid.lists import add_participant_identifiers, replacement_table, save_table
from fieldscribe.core.deid.review import decide, deidentified_segments, mark_reviewed
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.export.keys import keygen
from fieldscribe.core.export.outbox import list_exports
from fieldscribe.core.guides import import_guide
from fieldscribe.core.sync import notices
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import (
    begin_transcript,
    complete_transcript,
    store_segments,
)
from fieldscribe.core.vault import Vault
from fieldscribe.core.withdrawal import withdraw

from .conftest import FAST_KDF, PASSPHRASE
from .test_sync import with_receipt_key
from .vault_access import pull_from_store, sync_with

ANN = [
    "My name is Ann Lee and my brother Peter Walsh drives me to the centre.",
    "Dr Okafor changed my medication last spring.",
]
BO = ["Dr Okafor is the one who listens at the centre.", "I come on Tuesdays for the peer group."]


@pytest.fixture
def team(tmp_path):
    return keygen(tmp_path / "team" / "team.key")


def interview(v: Vault, study, tmp: Path, name: str, lines: list[str], identifiers: list[str] = ()) -> tuple[str, str]:
    """Enrol someone, record (imported audio), transcribe, decide every suggestion, review."""
    pid = participants.enrol(v, study.study, group="service_user", name=name)
    consent.record_consent(v, study.study, pid, {c.id: True for c in study.study.consent})
    if identifiers:
        add_participant_identifiers(v, pid, list(identifiers))
    sid = sessions.create_session(v, [pid])
    wav = tmp / f"{pid}.wav"
    sf.write(wav, (np.sin(np.arange(32000) / 16000 * 2 * np.pi * 220) * 8000).astype(np.int16), 16000)
    import_file(v, sid, wav)
    wav.unlink()
    key = sessions.session_key(v, sid)
    t = begin_transcript(v, sid, EngineSettings(model="test", language="en"), 10.0)
    store_segments(
        v,
        t,
        key,
        [Segment(i * 5.0, i * 5.0 + 4.0, line) for i, line in enumerate(lines)],
        timeline.events(v, sid, key),
        10.0,
    )
    complete_transcript(v, t)
    decide(v, sid, accept_all=True)
    mark_reviewed(v, sid)
    return pid, sid


def laptop(tmp_path: Path, study_en, team) -> tuple[Vault, tuple[str, str], tuple[str, str]]:
    v, _ = Vault.create(tmp_path / "laptop", PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, with_receipt_key(study_en, team[0]))
    ann = interview(v, study_en, tmp_path, "Ann Lee", ANN, ["Peter Walsh=brother"])
    bo = interview(v, study_en, tmp_path, "Bo Chen", BO)
    return v, ann, bo


def vault_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_withdrawal_takes_their_names_out_of_the_replacement_table_and_keeps_what_others_need(tmp_path, study_en, team):
    v, (ann, ann_s), (_bo, bo_s) = laptop(tmp_path, study_en, team)
    with v:
        before = replacement_table(v)
        assert {"Ann Lee", "Peter Walsh"} <= set(before), before
        shared = [o for o in before if "Okafor" in o]
        assert shared, f"the doctor both interviews name is in the table: {before}"
        old_sealed = v.db.execute("SELECT sealed FROM study_records WHERE name = 'replacements'").fetchone()[0]

        report = withdraw(v, ann, ann)

        after = replacement_table(v)
        assert not [o for o in after if "Ann" in o or "Lee" in o.split() or "Peter" in o or "Walsh" in o], after
        assert set(shared) <= set(after), "Bo's interview still needs the doctor's name replaced"
        assert report.table_entries_removed >= 2 and report.shredded_sessions == [ann_s]
        text = " ".join(seg.text for seg in deidentified_segments(v, bo_s))
        assert "Okafor" not in text, text
        assert ledger.verify_all(v) == [] and v.audit.verify().ok, "a real withdrawal is not mistaken for tampering"
    # the superseded table (which named Ann and her brother) is in no file of the vault any more
    assert old_sealed not in vault_bytes(tmp_path / "laptop")
    with Vault.open(tmp_path / "laptop") as again:
        again.unlock(PASSPHRASE)
        assert "Peter Walsh" not in replacement_table(again)


def test_a_table_from_before_origins_were_kept_is_pruned_through_identifiers_and_decision_logs(
    tmp_path, study_en, team
):
    v, (ann, _), _ = laptop(tmp_path, study_en, team)
    with v:
        # rewrite the table the way an older release sealed it: a bare mapping, no origins
        table = replacement_table(v)
        v.db["study_records"].upsert(
            {
                "name": "replacements",
                "sealed": v.seal_json(v.study_key, table, "study", "replacements"),
                "updated_at": "then",
            },
            pk="name",
        )
        withdraw(v, ann, ann)
        after = replacement_table(v)
        assert "Ann Lee" not in after and "Peter Walsh" not in after, after
        assert [o for o in after if "Okafor" in o], after
        save_table(v, after)  # and it is written back in the current format without complaint


def test_unsent_bundles_are_held_back_sent_ones_are_listed_and_the_team_deletes_what_it_unpacked(
    tmp_path, study_en, team
):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, (ann, ann_s), (_bo, bo_s) = laptop(tmp_path, study_en, team)
    with v:
        sent = export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        assert sync_with(v, url).uploaded == [sent.name]
        # the team pulls it before the withdrawal
        analysis = tmp_path / "analysis"
        first = pull_from_store(url, team[0], analysis)
        [got] = first.bundles
        assert got.error is None and got.folder.exists()
        unsent = export_sessions(v, [ann_s, bo_s], tmp_path / "out", [team[1]])

        report = withdraw(v, ann, ann)

        assert report.held_back == [unsent.name] and not unsent.exists()
        assert report.sent == [sent.name] and report.notice
        assert [e.name for e in list_exports(v)] == [sent.name], "the held-back bundle is forgotten"
        assert sessions.get_session(v, bo_s).status == sessions.REVIEWED, "Bo's session must be exported again"
        out = sync_with(v, url)
        assert out.notices_sent == [report.notice] and out.uploaded == []
    device_folder = next(p for p in (store_dir / study_en.study.study.id).iterdir())
    assert not list(device_folder.glob(f"{unsent.name}*")), "the held-back bundle never reached the store"
    notice = json.loads((device_folder / notices.NOTICES / report.notice).read_text())
    assert "Ann" not in notice["notice"] and ann in notice["notice"], "pseudonyms only"

    second = pull_from_store(url, team[0], analysis)
    third = pull_from_store(url, team[0], analysis)
    [w] = second.withdrawals
    assert w.participant == ann and w.deleted == [got.folder] and not got.folder.exists()
    assert third.withdrawals == [] and third.bundles == [], "a notice is applied once; nothing is unpacked again"


def test_others_sessions_in_a_sent_bundle_go_back_to_be_exported_again(tmp_path, study_en, team):
    """The team deletes a withdrawn participant's bundles whole, so another participant's
    session sent in the same bundle must be exported again, or the team loses it."""
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, (ann, ann_s), (_bo, bo_s) = laptop(tmp_path, study_en, team)
    with v:
        both = export_sessions(v, [ann_s, bo_s], tmp_path / "out", [team[1]])
        assert sync_with(v, url).uploaded == [both.name]
        [first] = pull_from_store(url, team[0], tmp_path / "analysis").bundles
        report = withdraw(v, ann, ann)
        assert report.sent == [both.name] and report.export_again == [bo_s]
        assert sessions.get_session(v, bo_s).status == sessions.REVIEWED
        again = export_sessions(v, [bo_s], tmp_path / "out", [team[1]])
        assert sync_with(v, url).uploaded == [again.name]
    pulled = pull_from_store(url, team[0], tmp_path / "analysis")
    [w] = pulled.withdrawals
    assert w.deleted == [first.folder] and not first.folder.exists(), "the team deletes the shared bundle whole"
    [b] = pulled.bundles
    assert b.bundle == again.name and b.error is None, "Bo's session reaches the team again in the new bundle"


def test_a_withdrawal_notice_not_signed_by_the_pinned_device_key_is_ignored(tmp_path, study_en, team):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"file://{store_dir}"
    v, (ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        sent = export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        sync_with(v, url)
        [got] = pull_from_store(url, team[0], tmp_path / "analysis").bundles
        device = v.device_id
    # someone with write access to the store forges a notice to make the team delete data
    forger = Ed25519PrivateKey.generate()
    from fieldscribe.core.export.keys import public_hex

    body = {
        "format": notices.FORMAT,
        "study": study_en.study.study.id,
        "device_id": device,
        "participant": ann,
        "sessions": [ann_s],
        "bundles": [sent.name],
        "withdrawn_at": "now",
        "device_public_key": public_hex(forger),
    }
    text = json.dumps(body, sort_keys=True)
    folder = store_dir / study_en.study.study.id / device / notices.NOTICES
    folder.mkdir(parents=True)
    (folder / f"{ann}-x{notices.SUFFIX}").write_text(
        json.dumps({"notice": text, "signature": forger.sign(text.encode()).hex()})
    )
    report = pull_from_store(url, team[0], tmp_path / "analysis")
    [w] = report.withdrawals
    assert w.error and "not signed by this device's trusted key" in w.error
    assert got.folder.exists(), "nothing was deleted on a forged notice"


def test_a_name_is_kept_only_for_whole_words_said_in_an_interview_that_stays(tmp_path, study_en, team):
    """'Ann' is not still needed because someone else said 'Annual', nor 'Peter Walsh' because
    of 'Peter Walshaw'."""
    v, _ = Vault.create(tmp_path / "laptop", PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, with_receipt_key(study_en, team[0]))
        ann, _ = interview(
            v,
            study_en,
            tmp_path,
            "Ann Lee",
            ["Everyone calls me Ann.", "My brother Peter Walsh visits."],
            ["Peter Walsh=brother"],
        )
        interview(v, study_en, tmp_path, "Bo Chen", ["The Annual fair is in May.", "Peter Walshaw runs it."])
        assert {"Ann", "Peter Walsh"} <= set(replacement_table(v))
        withdraw(v, ann, ann)
        left = replacement_table(v)
        assert "Ann" not in left and "Peter Walsh" not in left, left


def test_bundles_held_back_are_named_in_the_notice_too(tmp_path, study_en, team):
    """A sync that died between the store's rename and its own record leaves a delivered
    bundle the outbox calls unsent: the notice names held-back bundles as well."""
    v, (ann, ann_s), _ = laptop(tmp_path, study_en, team)
    with v:
        unsent = export_sessions(v, [ann_s], tmp_path / "out", [team[1]])
        report = withdraw(v, ann, ann)
        assert report.held_back == [unsent.name] and report.sent == [] and report.notice
        [queued] = notices.pending(v)
        parsed = notices.parse_notice(queued["data"].encode())
        assert parsed is not None and parsed[0].bundles == (unsent.name,)


def test_a_focus_group_is_exported_without_a_member_who_withdrew(tmp_path, study_en, team):
    from fieldscribe.core.export.bundle import open_bundle

    v, _ = Vault.create(tmp_path / "laptop", PASSPHRASE, kdf=FAST_KDF)
    with v:
        import_guide(v, with_receipt_key(study_en, team[0]))
        ann = participants.enrol(v, study_en.study, group="service_user", name="Ann Lee")
        bo = participants.enrol(v, study_en.study, group="service_user", name="Bo Chen")
        for pid in (ann, bo):
            consent.record_consent(v, study_en.study, pid, {c.id: True for c in study_en.study.consent})
        sid = sessions.create_session(v, [ann, bo])
        wav = tmp_path / "group.wav"
        sf.write(wav, (np.sin(np.arange(32000) / 16000 * 2 * np.pi * 220) * 8000).astype(np.int16), 16000)
        import_file(v, sid, wav)
        key = sessions.session_key(v, sid)
        t = begin_transcript(v, sid, EngineSettings(model="test", language="en"), 10.0)
        store_segments(
            v,
            t,
            key,
            [Segment(0.0, 4.0, "Ann Lee said the group helps."), Segment(5.0, 9.0, "Bo Chen agreed with her.")],
            timeline.events(v, sid, key),
            10.0,
        )
        complete_transcript(v, t)
        decide(v, sid, accept_all=True)
        mark_reviewed(v, sid)
        withdraw(v, ann, ann)
        bundle = export_sessions(v, [sid], tmp_path / "out", [team[1]])
    opened = open_bundle(bundle, team[0])
    [session] = opened.manifest["sessions"]
    assert session["participants"] == [bo]
    text = b"".join(opened.files.values())
    assert b"Ann Lee" not in text and b"Bo Chen" not in text
