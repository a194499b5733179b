"""Nothing a participant tells us may sit on disk in plaintext, in any common encoding.

We enrol people with distinctive names, addresses, answers and consent notes, then read
every byte of every file under the vault folder (database, WAL, journal, lock, blobs) —
while the vault is open and after it is closed — and look for each secret in UTF-8,
UTF-16 (both byte orders) and, for Chinese text, GBK and GB18030.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from fieldscribe.core import consent, marking, participants, sessions, timeline
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import load_study
from fieldscribe.core.vault import Vault

from .audio_fakes import speechlike
from .conftest import FAST_KDF, PASSPHRASE

DATA = Path(__file__).parent / "data"

SECRETS_EN = {
    "name": "Bartholomew Quigglesworth",
    "address": "17 Wyndham Crescent, Kowloon Tong",
    "notes": "Lives with sister Philippa Quigglesworth",
    "occupation": "Retired lighthouse keeper at Waglan",
    "consent_note": "Hesitated over quotes, mentioned brother Ignatius",
    "compensation": "Voucher serial QX-99817-ZEB",
    "site": "Harbour View Day Centre",
    "field_note": "Mentioned nephew Cornelius at Stonecutters",
}
SECRETS_ZH = {
    "name": "欧阳娜娜",
    "address": "九龙塘雅息士道十七号",
    "notes": "与姐姐欧阳菲菲同住",
    "occupation": "退休灯塔看守员",
    "consent_note": "对引用有顾虑，提到弟弟欧阳伟",
    "compensation": "超市礼券编号甲乙丙",
    "site": "海景日间中心",
    "field_note": "提到外甥欧阳俊在昂船洲",
}


def encodings(text: str) -> dict[str, bytes]:
    forms = {
        "utf-8": text.encode("utf-8"),
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
    }
    for codec in ("gbk", "gb18030"):
        try:
            forms[codec] = text.encode(codec)
        except UnicodeEncodeError:
            continue
    return forms


def scan(folder: Path, secrets: dict[str, str]) -> list[str]:
    found = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "vault.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for label, text in secrets.items():
            for codec, needle in encodings(text).items():
                if needle in data:
                    found.append(f"{label} ({codec}) in {path.name}")
    return found


def _enrol_with_secrets(v: Vault, study, secrets: dict[str, str], baseline: dict[str, object]) -> str:
    pid = participants.enrol(
        v,
        study,
        group="service_user",
        name=secrets["name"],
        site=secrets["site"],
        contact=secrets["address"],
        notes=secrets["notes"],
        eligibility=participants.all_eligible(study),
        baseline={**baseline, "occupation": secrets["occupation"]},
        compensation=secrets["compensation"],
    )
    consent.record_consent(
        v,
        study,
        pid,
        {c.id: True for c in study.consent},
        notes={study.consent[0].id: secrets["consent_note"]},
    )
    sessions.create_session(v, [pid])
    return pid


@pytest.mark.parametrize("secrets", [SECRETS_EN, SECRETS_ZH], ids=["english", "chinese"])
def test_no_participant_secret_is_on_disk_in_any_encoding(tmp_path: Path, secrets: dict[str, str]) -> None:
    folder = tmp_path / "vault"
    study_file = load_study(DATA / "scan-study.yaml")
    study = study_file.study
    v, _ = Vault.create(folder, PASSPHRASE, kdf=FAST_KDF)
    try:
        import_guide(v, study_file)
        pid = _enrol_with_secrets(v, study, secrets, {"age": 47, "living": "alone"})
        participants.update(v, study, pid, baseline={"occupation": secrets["occupation"] + " (updated)"})
        # The data really is there and readable with the key...
        p = participants.get_participant(v, pid)
        assert p.identity["name"] == secrets["name"]
        assert p.baseline["occupation"].startswith(secrets["occupation"])
        assert p.site == secrets["site"]
        # a field note placed after the fact on an imported recording
        sid = sessions.list_sessions(v)[0].id
        wav = tmp_path / "handheld.wav"
        sf.write(wav, speechlike(2.0), 16000, subtype="PCM_16")
        import_file(v, sid, wav)
        wav.unlink()
        marking.add_mark(v, sid, timeline.NOTE, 1.0, text=secrets["field_note"])
        marking.add_mark(v, sid, timeline.FLAG, 1.5, text=secrets["field_note"] + "!")
        assert [e.data["text"] for e in marking.marks(v, sid)] == [secrets["field_note"], secrets["field_note"] + "!"]
        # ...and nowhere in plaintext while the vault is open (WAL not yet checkpointed)
        assert scan(folder, secrets) == []
    finally:
        v.close()
    assert scan(folder, secrets) == []


def test_scan_would_find_plaintext(tmp_path: Path) -> None:
    """The scanner itself works: plant a secret in a file and it is found in each encoding."""
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "vault.db").write_bytes(b"x" + SECRETS_ZH["name"].encode("gbk") + b"y")
    (folder / "other").write_bytes(SECRETS_EN["name"].encode("utf-16-le"))
    found = scan(folder, {"zh": SECRETS_ZH["name"], "en": SECRETS_EN["name"]})
    assert "zh (gbk) in vault.db" in found
    assert "en (utf-16-le) in other" in found
