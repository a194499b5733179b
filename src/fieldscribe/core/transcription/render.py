"""Transcripts as text a person reads: timestamps, speaker ("Interviewer", the participant's
pseudonym, "Speaker A" for a voice nobody has named; "(overlapping)" where another voice spoke
during part of the segment), guide question, and the verbatim pause marks a study asks for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class RenderedSegment(Protocol):
    """What render reads of a stored segment."""

    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def text(self) -> str: ...
    @property
    def question(self) -> str | None: ...
    @property
    def label(self) -> str: ...  # "Interviewer", "P4", "Speaker A", or "" when nobody is known
    @property
    def overlap(self) -> bool: ...
    @property
    def notes(self) -> list[dict[str, Any]]: ...
    @property
    def flags(self) -> list[str]: ...


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def pause_mark(gap: float, style: str, threshold: float) -> str | None:
    """(..) one dot a second, or (12 s pause); None when the gap is below the threshold."""
    if style == "off" or gap < threshold:
        return None
    if style == "dots":
        return "(" + "." * max(2, round(gap)) + ")"
    return f"({round(gap)} s pause)"


def render(
    segments: Sequence[RenderedSegment],
    *,
    plain: bool = False,
    pause_style: str = "off",
    pause_threshold: float = 2.0,
    questions: dict[str, str] | None = None,
) -> list[str]:
    lines: list[str] = []
    prev_end: float | None = None
    current_q: str | None = None
    for seg in segments:
        if not seg.text:
            continue  # dropped by the hallucination guard; kept in the vault for review
        mark = pause_mark(seg.start - prev_end, pause_style, pause_threshold) if prev_end is not None else None
        prev_end = seg.end
        if plain:
            lines.append(f"{mark} {seg.text}" if mark else seg.text)
            continue
        if seg.question and seg.question != current_q:
            current_q = seg.question
            title = (questions or {}).get(seg.question, "")
            lines.append(f"— {seg.question}{': ' + title if title else ''}")
        speaker = f" {seg.label}:" if seg.label else ""
        speaker += " (overlapping)" if seg.overlap else ""  # another voice spoke during part of it
        notes = "".join(
            f" [{n.get('preset') or n.get('text') or n['kind']}]" if n["kind"] != "flag" else " [sensitive]"
            for n in seg.notes
        )
        flags = " {" + ", ".join(seg.flags) + "}" if seg.flags else ""
        text = f"{mark} {seg.text}" if mark else seg.text
        lines.append(f"[{clock(seg.start)}]{speaker} {text}{notes}{flags}")
    return lines
