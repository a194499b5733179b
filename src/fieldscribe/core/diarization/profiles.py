"""Interviewer voice profiles: the interviewer is known, so nobody has to press a key.

Each interviewer records about 30 s of speech once; the mean of its voice fingerprints is kept
as their profile. In a one-to-one interview the voice closest to the profile is "Interviewer"
and the other the participant. A voice print is personal data: all profiles are one study
record sealed with the study key (names included, so the vault shows no interviewer's name),
covered by the study's history like the other study records, audited without the name (the
audit log is not encrypted), listed, deletable, and never exported.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from .. import ledger
from ..audit import now_iso
from ..errors import InvalidInput, RecordTampered, TooLittleSpeech
from ..study_records import drop_study_record, get_study_record, put_study_record
from ..vault import Vault
from .embedding import DIM, embed
from .pipeline import speech_regions, windows_of

RECORD = "voice_profiles"
MIN_SPEECH_S = 15.0  # enough windows for a stable mean; the guided recording asks for ~30 s
MAX_NAME = 80
MATCH = 0.5  # below this cosine no voice is taken for the interviewer


@dataclass(frozen=True)
class VoiceProfile:
    name: str
    speech_s: float  # seconds of speech it was made from
    created_at: str


def _all(vault: Vault) -> dict[str, dict[str, object]]:
    value = get_study_record(vault, RECORD)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordTampered(f"study/{RECORD}")
    return value


def _store(vault: Vault, profiles: dict[str, dict[str, object]], event: str) -> None:
    with vault.db.atomic():
        if profiles:
            put_study_record(vault, RECORD, profiles)
        else:
            drop_study_record(vault, RECORD)
        # the audit log is not encrypted: it counts profiles, never names them
        ledger.update_study(vault, event, "", profiles=len(profiles))


# What an interviewer reads aloud for their profile: ~30 s at a calm pace, ordinary sentences
# (no names, nothing about anyone), in the study's language.
READING = {
    "en": (
        "I am recording my voice so that fieldscribe can tell my questions from the answers. "
        "In an interview I ask about the day centre, the peer support group and the people there. "
        "Everything said stays confidential, and anyone can stop at any time without giving a reason. "
        "I will now count slowly from one to ten: one, two, three, four, five, six, seven, eight, nine, ten. "
        "The weather today is mild, the bus was on time, and the tea in the kitchen is still warm. "
        "Thank you for listening; this is the end of the reading."
    ),
    "zh": (
        "我正在录制自己的声音，让软件能分辨我的提问和受访者的回答。"
        "访谈中我会询问日间中心、同伴支持小组以及那里的人。"
        "所有谈话内容都会保密，任何人都可以随时停止，不需要说明理由。"
        "现在我慢慢从一数到十：一、二、三、四、五、六、七、八、九、十。"
        "今天天气温和，公交车准时到达，厨房里的茶还是热的。"
        "谢谢大家的聆听，朗读到此结束。"
    ),
}


def reading(language: str) -> str:
    """The text to read aloud for a profile, in LANGUAGE (English when there is none in it)."""
    return READING.get(language.split("-")[0].lower(), READING["en"])


def check_name(name: str) -> str:
    """NAME with its spaces tidied; refused in one sentence when empty."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Give the interviewer's name for the voice profile.")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"The interviewer's name is {len(name)} characters long; keep it under {MAX_NAME}.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("The interviewer's name holds control characters; type it with letters only.")
    return name


def enrol_profile(vault: Vault, name: str, audio: np.ndarray) -> VoiceProfile:
    """Make NAME's profile from AUDIO (16 kHz mono, the interviewer alone), replacing an older
    one. Refused in one sentence when it holds too little speech."""
    name = check_name(name)
    regions = speech_regions(audio)
    speech = sum(e - s for s, e in regions)
    if speech < MIN_SPEECH_S:
        raise TooLittleSpeech(speech, MIN_SPEECH_S)
    fingerprints = embed(audio, windows_of(regions))
    centre = fingerprints.mean(axis=0)
    centre = centre / max(float(np.linalg.norm(centre)), 1e-9)
    profiles = _all(vault)
    created = now_iso()
    profiles[name] = {"embedding": [float(v) for v in centre], "speech_s": round(speech, 1), "created_at": created}
    _store(vault, profiles, "voice_profile.saved")
    return VoiceProfile(name, round(speech, 1), created)


def list_profiles(vault: Vault) -> list[VoiceProfile]:
    return [
        VoiceProfile(name, float(p.get("speech_s", 0.0)), str(p.get("created_at", "")))  # type: ignore[arg-type]
        for name, p in sorted(_all(vault).items())
    ]


def load_profile(vault: Vault, name: str) -> np.ndarray:
    profile = _all(vault).get(" ".join(name.split()))
    if profile is None:
        raise InvalidInput(f"There is no voice profile for {name!r}; record one first.")
    vector = np.asarray(profile.get("embedding"), dtype=np.float32)
    if vector.shape != (DIM,):
        raise RecordTampered(f"study/{RECORD}")
    return vector


def delete_profile(vault: Vault, name: str) -> bool:
    """Forget NAME's profile for good; audited. Returns whether there was one."""
    profiles = _all(vault)
    name = " ".join(name.split())
    if name not in profiles:
        return False
    del profiles[name]
    _store(vault, profiles, "voice_profile.deleted")
    return True


def interviewer_voice(centroids: dict[int, np.ndarray], profile: np.ndarray) -> int | None:
    """The voice whose centre is closest to PROFILE, if it is close enough to be them."""
    if not centroids:
        return None
    scores = {v: float(c @ profile) / max(float(np.linalg.norm(c)), 1e-9) for v, c in centroids.items()}
    best = max(scores, key=lambda v: scores[v])
    return best if scores[best] >= MATCH else None
