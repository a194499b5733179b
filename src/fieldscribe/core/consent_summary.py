"""The consent summary for the participant's own copy: printable, de-identified.

It holds the study title and ethics reference, the participant's pseudonym (never their name
or contact details), and each consent item in the study's language with the decision that
counts now (given or refused), the date it was taken and who took it. It is written as a PDF
(fpdf2, pure Python), or as HTML or plain text when asked for by the file's suffix.

Chinese needs a font with Chinese characters. None is shipped (a good one is several MB);
the laptop's own fonts are searched (Noto/Source Han, WenQuanYi, Microsoft YaHei, SimSun,
PingFang, …, or ``FIELDSCRIBE_PDF_FONT``), each checked for every character the summary
uses. When none covers them, :class:`NoSummaryFont` says so and offers HTML, which any
browser prints with its own fonts.

The only file written is the one the user chose: the PDF is built in memory.
"""

from __future__ import annotations

import html
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .consent import current_consent
from .errors import FieldscribeError, InvalidInput
from .guides import current_guide
from .participants import require_active
from .vault import Vault

ENV_FONT = "FIELDSCRIBE_PDF_FONT"
FORMATS = (".pdf", ".html", ".htm", ".txt")

# Fonts with Chinese (and Latin) characters where the usual systems keep them; each is
# checked for every character the summary needs before it is used.
SYSTEM_FONTS: tuple[str, ...] = (
    # Linux (Debian/Ubuntu/Fedora/Arch packages)
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/source-han-sans/SourceHanSans-Regular.ttc",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSans-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    # Windows
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/simsun.ttc",
    "C:/Windows/Fonts/Deng.ttf",
    # macOS
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    # Latin-only fonts, enough for an English summary with typographic quotes
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
)

_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Consent summary",
        "participant": "Participant",
        "ethics": "Ethics approval",
        "item": "Consent item",
        "given": "Given",
        "refused": "Refused",
        "not_asked": "Not recorded",
        "date": "Date",
        "taken_by": "Taken by",
        "footer": (
            "This copy is for the participant. It shows the study pseudonym only, never a name. "
            "You may withdraw at any time without giving a reason."
        ),
    },
    "zh": {
        "heading": "知情同意摘要",
        "participant": "参与者编号",
        "ethics": "伦理批准编号",
        "item": "同意项目",
        "given": "同意",
        "refused": "不同意",
        "not_asked": "未记录",
        "date": "日期",
        "taken_by": "记录人",
        "footer": "本副本供参与者保存，只显示研究编号，不含姓名。您可以随时退出研究，无需说明理由。",
    },
}


class NoSummaryFont(FieldscribeError):
    """No font on this laptop has every character the summary needs."""

    def __init__(self, missing: str) -> None:
        super().__init__(
            f"No font on this laptop has the characters this consent summary needs (such as {missing!r}), so "
            f"the PDF cannot be written; install one (e.g. `apt install fonts-wqy-microhei`), set {ENV_FONT} "
            "to a .ttf/.ttc/.otf font file that has them, or save the summary as .html and print it from a browser."
        )


@dataclass(frozen=True)
class ConsentLine:
    """One consent item as the participant agreed to it (or not)."""

    item_id: str
    text: str  # in the study's language
    given: bool | None  # None: never recorded
    date: str | None  # YYYY-MM-DD of the decision that counts
    taken_by: str | None  # the interviewer who recorded it


@dataclass(frozen=True)
class ConsentSummary:
    """What the participant's copy shows: nothing that names them."""

    study_title: str
    ethics_reference: str
    language: str  # en | zh: the labels follow it
    pseudonym: str
    lines: tuple[ConsentLine, ...]

    @property
    def labels(self) -> Mapping[str, str]:
        return _LABELS.get(self.language, _LABELS["en"])

    @property
    def dates(self) -> tuple[str, ...]:
        return tuple(sorted({line.date for line in self.lines if line.date}))

    @property
    def interviewers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.taken_by for line in self.lines if line.taken_by))

    def decision_word(self, line: ConsentLine) -> str:
        return self.labels["not_asked" if line.given is None else "given" if line.given else "refused"]


def consent_summary(vault: Vault, pid: str) -> ConsentSummary:
    """PID's consent as it stands now, with the current study file's wording (refused for a
    participant who withdrew: their consent history was destroyed with their key)."""
    pid = require_active(vault, pid)
    study = current_guide(vault).study
    decisions = current_consent(vault, pid)
    lines = []
    for item in study.consent:
        d = decisions.get(item.id)
        lines.append(
            ConsentLine(
                item.id,
                item.text,
                None if d is None else d.given,
                None if d is None else d.at[:10],
                None if d is None else d.taken_by,
            )
        )
    info = study.study
    return ConsentSummary(info.title, info.ethics_reference, info.language, pid, tuple(lines))


# -- plain text and HTML ---------------------------------------------------------------------------
def _meta_lines(summary: ConsentSummary) -> list[str]:
    lb = summary.labels
    out = [f"{lb['participant']}: {summary.pseudonym}", f"{lb['ethics']}: {summary.ethics_reference}"]
    if summary.dates:
        out.append(f"{lb['date']}: {', '.join(summary.dates)}")
    if summary.interviewers:
        out.append(f"{lb['taken_by']}: {', '.join(summary.interviewers)}")
    return out


def render_text(summary: ConsentSummary) -> str:
    lb = summary.labels
    out = [summary.study_title, lb["heading"], "", *_meta_lines(summary), ""]
    for n, line in enumerate(summary.lines, 1):
        out.append(f"{n}. {line.text}")
        when = f" ({line.date}, {line.taken_by})" if line.date else ""
        out.append(f"   {summary.decision_word(line)}{when}")
    out += ["", lb["footer"], ""]
    return "\n".join(out)


def render_html(summary: ConsentSummary) -> str:
    lb = summary.labels
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{n}</td><td>{e(line.text)}</td><td><strong>{e(summary.decision_word(line))}</strong></td>"
        f"<td>{e(line.date or '')}</td><td>{e(line.taken_by or '')}</td></tr>"
        for n, line in enumerate(summary.lines, 1)
    )
    meta = "".join(f"<p>{e(m)}</p>" for m in _meta_lines(summary))
    lang = "zh-Hans" if summary.language == "zh" else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{e(lb['heading'])} {e(summary.pseudonym)}</title>"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}"
        "table{border-collapse:collapse;width:100%}td,th{border:1px solid #888;padding:.4em;vertical-align:top}"
        "</style></head><body>\n"
        f"<h1>{e(summary.study_title)}</h1><h2>{e(lb['heading'])}</h2>{meta}\n"
        f"<table><tr><th>#</th><th>{e(lb['item'])}</th><th></th><th>{e(lb['date'])}</th>"
        f"<th>{e(lb['taken_by'])}</th></tr>\n{rows}\n</table>\n<p>{e(lb['footer'])}</p>\n</body></html>\n"
    )


# -- PDF ---------------------------------------------------------------------------------------------
def _all_text(summary: ConsentSummary) -> str:
    return render_text(summary)


def font_covers(path: Path, text: str) -> bool:
    """Whether the font file at PATH (the first face of a collection) has a glyph for every
    visible character of TEXT; False for a file that is not a readable font."""
    from fontTools.ttLib import TTFont, TTLibError  # type: ignore[import-untyped]

    try:
        font = TTFont(str(path), fontNumber=0, lazy=True)
        try:
            cmap = font.getBestCmap() or {}
        finally:
            font.close()
    except (OSError, TTLibError, AssertionError, KeyError, ValueError):
        return False
    return all(ord(ch) in cmap for ch in set(text) if not ch.isspace())


def _fontconfig_candidates(lang: str) -> list[str]:
    """What fontconfig (Linux, BSD) offers for the language, when fc-match is installed."""
    try:
        done = subprocess.run(
            ["fc-match", "-s", "-f", "%{file}\n", f":lang={'zh-cn' if lang == 'zh' else 'en'}"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in done.stdout.splitlines()[:40] if line.strip()]


def find_font(
    text: str, *, lang: str = "zh", candidates: Iterable[str | os.PathLike[str]] | None = None
) -> Path | None:
    """The first font that has every character of TEXT: ``FIELDSCRIBE_PDF_FONT`` if set, then
    CANDIDATES (default: the usual system locations, then what fontconfig suggests)."""
    chosen = os.environ.get(ENV_FONT)
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise InvalidInput(f"{ENV_FONT} names {path}, which is not a font file; point it at a .ttf/.ttc/.otf file.")
        if not font_covers(path, text):
            raise NoSummaryFont(_first_missing(path, text))
        return path
    pool: Sequence[str | os.PathLike[str]] = (
        list(candidates) if candidates is not None else [*SYSTEM_FONTS, *_fontconfig_candidates(lang)]
    )
    for candidate in pool:
        path = Path(candidate)
        if path.is_file() and font_covers(path, text):
            return path
    return None


def _first_missing(path: Path | None, text: str) -> str:
    if path is None:
        return next((ch for ch in text if not ch.isspace() and ord(ch) > 0xFF), text[:1])
    for ch in text:
        if not ch.isspace() and not font_covers(path, ch):
            return ch
    return text[:1]


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


ASCII_PUNCTUATION = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "…": "..."})


def render_pdf(
    summary: ConsentSummary,
    *,
    font: str | os.PathLike[str] | None = None,
    candidates: Iterable[str | os.PathLike[str]] | None = None,
) -> bytes:
    """The summary as PDF bytes (A4), in memory. FONT forces a font file; otherwise one is
    found (see :func:`find_font`). Raises :class:`NoSummaryFont` when the text needs
    characters no font on this laptop has."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    text = _all_text(summary)
    family = "helvetica"
    font_path: Path | None = Path(font) if font is not None else None
    ascii_only = False  # English with typographic quotes and no Unicode font: plain quotes instead
    if font_path is None and not _latin1(text):
        font_path = find_font(text, lang=summary.language, candidates=candidates)
        if font_path is None:
            if not _latin1(text.translate(ASCII_PUNCTUATION)):
                raise NoSummaryFont(_first_missing(None, text))
            ascii_only = True

    def s(value: str) -> str:
        return value.translate(ASCII_PUNCTUATION) if ascii_only else value

    pdf = FPDF(format="A4")
    pdf.set_title(s(f"{summary.labels['heading']} {summary.pseudonym}"))
    pdf.set_creator("fieldscribe")
    pdf.set_auto_page_break(auto=True, margin=18)
    if font_path is not None:
        family = "summary"
        pdf.add_font(family, "", str(font_path))
    pdf.add_page()
    width = pdf.epw
    lb = summary.labels

    def para(value: str, size: float, gap: float = 2) -> None:
        pdf.set_font(family, size=size)
        pdf.multi_cell(width, size * 0.5, s(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(gap)

    para(summary.study_title, 15, 3)
    para(lb["heading"], 13, 4)
    for m in _meta_lines(summary):
        para(m, 11, 1)
    pdf.ln(4)
    for n, line in enumerate(summary.lines, 1):
        para(f"{n}. {line.text}", 11, 1)
        when = f"   {line.date} · {line.taken_by}" if line.date else ""
        para(f"{summary.decision_word(line)}{when}", 11, 4)
    pdf.ln(4)
    para(lb["footer"], 9)
    return bytes(pdf.output())


def write_summary(
    summary: ConsentSummary,
    out: str | os.PathLike[str],
    *,
    font: str | os.PathLike[str] | None = None,
    candidates: Iterable[str | os.PathLike[str]] | None = None,
) -> Path:
    """Write the summary to OUT, the one file the user chose: PDF, HTML or plain text by its
    suffix. Nothing else is written (the PDF is built in memory first, so a missing font
    leaves no file behind)."""
    path = Path(out).expanduser()
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"Save the consent summary as .pdf, .html or .txt, not {path.name!r}.")
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder; give the name of the file to write, e.g. {path / 'consent.pdf'}.")
    if not path.parent.is_dir():
        raise InvalidInput(f"The folder {path.parent} does not exist; create it or choose another place.")
    if suffix == ".pdf":
        data = render_pdf(summary, font=font, candidates=candidates)
    elif suffix == ".txt":
        data = render_text(summary).encode("utf-8")
    else:
        data = render_html(summary).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path
