"""Services for who speaks: the interviewers' voice profiles and each session's speakers.

A profile is recorded once (a guided reading of about 30 s, held in memory only) and sealed in
the vault; in a one-to-one interview the voice that matches it is "Interviewer". A session's
speakers are found after its recording stops — by the app's background line, or on request —
and the reviewer names a voice once for all its segments. Views are frozen and defined here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .calls import ServiceBase, counted

if TYPE_CHECKING:  # numpy and the recorder load when a profile is recorded, not at start-up
    from ..core.audio.recorder import Source

PROFILE_SECONDS = 30.0


@dataclass(frozen=True)
class VoiceProfileView:
    name: str
    speech_s: float  # seconds of speech it was made from
    created_at: str


@dataclass(frozen=True)
class VoiceView:
    voice: int
    label: str  # "Interviewer", "P1", or "Speaker A" while unnamed
    speaker: str | None  # "interviewer", a pseudonym, or None
    seconds: float  # how long this voice speaks in the recording
    named_by_person: bool


@dataclass(frozen=True)
class SpeakersView:
    """A session's voices, or found=False before they were found."""

    found: bool
    voices: tuple[VoiceView, ...] = ()
    interviewer_found_by: str = ""  # profile | guess | none
    guessed: bool = False  # no profile matched: the review screen says the interviewer is a guess
    channels: int = 1


def voice_letter(voice: int) -> str:
    """A, B, … — how a voice nobody named yet is called, in transcripts and on screens alike."""
    from ..core.transcripts import voice_letter as letter

    return letter(voice)


class Voices(ServiceBase):
    """Voice profiles and session speakers."""

    def _microphone(self) -> Source:
        """The microphone the app records from (the Services class knows which)."""
        raise NotImplementedError

    def study_language(self) -> str:
        """The study's language (the Services class reads it from the study file)."""
        raise NotImplementedError

    # -- profiles --------------------------------------------------------------------------------
    def profile_reading(self) -> str:
        """The text an interviewer reads aloud for their profile, in the study's language."""
        from ..core.diarization.profiles import reading

        return reading(self.study_language())

    def voice_profiles(self) -> list[VoiceProfileView]:
        from ..core.diarization.profiles import list_profiles

        return [VoiceProfileView(p.name, p.speech_s, p.created_at) for p in list_profiles(self.vault)]

    @counted
    def record_voice_profile(
        self,
        name: str,
        *,
        seconds: float = PROFILE_SECONDS,
        on_level: Callable[[float], None] | None = None,
        on_progress: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> VoiceProfileView | None:
        """Record NAME reading aloud for SECONDS (in memory only) and make their profile,
        replacing an older one. None if cancelled; refused in one sentence when the recording
        holds too little speech (nothing is kept then). Call from a worker."""
        from ..core.audio.capture import capture
        from ..core.diarization.profiles import check_name, enrol_profile

        check_name(name)  # before the microphone opens
        audio = capture(self._microphone(), seconds, on_level=on_level, on_progress=on_progress, cancel=cancel)
        if cancel is not None and cancel.is_set():
            return None
        p = enrol_profile(self.vault, name, audio)
        return VoiceProfileView(p.name, p.speech_s, p.created_at)

    def delete_voice_profile(self, name: str) -> bool:
        """Forget NAME's profile for good (audited without the name). False if there was none."""
        from ..core.diarization.profiles import delete_profile

        return delete_profile(self.vault, name)

    # -- a session's speakers ------------------------------------------------------------------------
    def speakers(self, sid: str) -> SpeakersView:
        """What is known about who speaks in SID."""
        from ..core import speakers
        from ..core.transcripts import INTERVIEWER, speaker_label

        found = speakers.load(self.vault, sid)
        if found is None:
            return SpeakersView(False)
        seconds: dict[int, float] = {}
        for s, e, v in found.turns:
            seconds[v] = seconds.get(v, 0.0) + e - s
        voices = tuple(
            VoiceView(
                v,
                speaker_label(found.names.get(v), v),
                found.names.get(v),
                round(seconds[v], 1),
                v in found.named_by_person,
            )
            for v in sorted(seconds)
        )
        guessed = found.guessed or (INTERVIEWER not in found.names.values() and found.voices > 1)
        return SpeakersView(True, voices, found.interviewer, guessed, found.channels)

    def speakers_waiting(self) -> list[str]:
        """Sessions whose speakers the app is still to find (or write into a new transcript)."""
        from ..core import speakers

        return speakers.waiting(self.vault)

    @counted
    def find_speakers(self, sid: str, *, cancel: threading.Event | None = None, again: bool = False) -> SpeakersView:
        """Find SID's voices (once; AGAIN looks at the audio anew, keeping the reviewer's names)
        and write them into its current transcript. Call from a worker (~1.5 s per audio minute)."""
        from ..core import speakers

        if again:
            if speakers.find(self.vault, sid, cancel=cancel) is None:
                return self.speakers(sid)
            speakers.label(self.vault, sid)
        else:
            speakers.run(self.vault, sid, cancel=cancel)
        return self.speakers(sid)

    @counted
    def name_voice(self, sid: str, voice: int, speaker: str) -> int:
        """Name VOICE ("interviewer" or a participant's pseudonym) in every segment it speaks;
        returns how many segments changed. Re-opens the review like any edit."""
        from ..core import speakers

        return speakers.name_voice(self.vault, sid, voice, speaker)
