"""How the review screen words who speaks: the speaker column, and the line above the table
that says whether the speakers are found, and whether the interviewer is only a guess."""

from __future__ import annotations

from rich.text import Text

from ...services.views import SegmentView
from ...services.voices import SpeakersView, voice_letter
from ..strings import tr

WHO_WIDTH = 13  # "Interviewer ⋯"


def speaker_text(speaker: str | None, voice: int | None) -> str:
    """Who speaks, in the UI language: the interviewer, a pseudonym, or an unnamed voice."""
    if speaker == "interviewer":
        return tr("review.interviewer")
    if speaker:
        return speaker
    if voice is not None:
        return tr("review.unnamed_voice", letter=voice_letter(voice))
    return "–"


def who_cell(seg: SegmentView) -> str:
    """The speaker column: the segment's speaker, marked when another voice spoke over it."""
    who = speaker_text(seg.speaker, seg.voice)
    return tr("review.who_overlap", who=who) if seg.overlap else who


def speakers_line(view: SpeakersView | None, waiting: bool) -> Text | None:
    """The line above the table: speakers still being found, or the interviewer only guessed
    (no voice profile matched, and no reviewer has named their voice yet: the services say),
    or the voices and how long each speaks."""
    if waiting:  # not found yet, or not yet written into this version of the transcript
        return Text(tr("review.speakers_finding"))
    if view is None or not view.found:
        return None
    if not view.voices:
        return Text(tr("review.speakers_none"))
    if view.guessed:
        return Text(tr("review.speakers_guessed"), "bold yellow")
    voices = " · ".join(f"{speaker_text(v.speaker, v.voice)} {minutes(v.seconds)}" for v in view.voices)
    return Text(tr("review.speakers_found", voices=voices))


def minutes(seconds: float) -> str:
    """How long a voice speaks: m:ss."""
    s = max(0, round(seconds))
    return f"{s // 60}:{s % 60:02d}"
