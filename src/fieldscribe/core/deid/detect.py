"""Finding identifiers in English and Chinese transcript text.

Two layers that work without any model: lists (the participant's own identifiers recorded
at enrolment, and a study-wide list of sites, staff and places) and rules (phone numbers,
e-mail, ID-card and passport numbers, dates, ages, addresses, WeChat/QQ handles, URLs).
Full-width digits and letters (common in Chinese input) are folded to ASCII for matching,
one character for one, so every span points at the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


def fold(text: str) -> str:
    """Full-width ASCII forms to ASCII, keeping every offset."""
    return text.translate(_FULLWIDTH)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str           # the original text of the span
    kind: str           # name, place, phone, email, id_number, date, age, address, handle, url, identifier
    descriptor: str     # the suggested bracketed replacement, e.g. "[P4]" or "[phone number]"
    source: str         # "participant", "study", or "rule:<name>"


@dataclass(frozen=True)
class Identifier:
    text: str
    descriptor: str
    kind: str = "identifier"


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _list_pattern(ident: str) -> re.Pattern[str]:
    """Chinese identifiers match anywhere; Latin ones only as whole words, and only with
    the capitalisation given when they start with a capital (so the name 'Hope' does not
    take every 'hope'), tolerant of any whitespace inside multi-word names."""
    body = r"\s+".join(re.escape(fold(part)) for part in ident.split())
    if _has_cjk(ident):
        return re.compile(body)
    flags = 0 if ident[:1].isupper() else re.IGNORECASE
    return re.compile(r"(?<![\w'’-])" + body + r"(?![\w-])", flags)


_RULES: list[tuple[str, str, str, re.Pattern[str]]] = [
    # (rule name, kind, descriptor, pattern) — applied to folded text
    ("url", "url", "[website]", re.compile(r"\b(?:https?://|www\.)[^\s，。、)）]+", re.IGNORECASE)),
    ("email", "email", "[email address]", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("cn_id", "id_number", "[ID number]", re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)")),
    ("hk_id", "id_number", "[ID number]", re.compile(r"\b[A-Z]{1,2}\d{6}\s?\(?[0-9A]\)?(?!\w)")),
    ("passport", "id_number", "[passport number]",
     re.compile(r"(?i:passport(?:\s+(?:number|no\.?))?|护照(?:号码?)?)\s*[:：]?\s*([A-Z]{1,2}\d{6,8})")),
    ("handle", "handle", "[social media handle]",
     re.compile(r"(?i:wechat(?:\s+id)?|weixin|微信号?|qq号?|whatsapp|instagram|ig)\s*(?:is|是|[:：])?\s*@?([A-Za-z][\w-]{4,19}|\d{5,12})")),
    ("at_handle", "handle", "[social media handle]", re.compile(r"(?<![\w.])@[A-Za-z_][\w.]{2,29}\b")),
    ("cn_mobile", "phone", "[phone number]", re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")),
    ("phone", "phone", "[phone number]",
     re.compile(r"(?<![\d+])(?:\+\d{1,3}[\s-]?)?(?:\(\d{2,4}\)[\s-]?)?\d{3,4}[\s-]\d{3,4}(?:[\s-]\d{3,4})?(?!\d)")),
    ("hk_phone", "phone", "[phone number]", re.compile(r"(?<!\d)[2-9]\d{7}(?!\d)")),
    ("cn_date", "date", "[date]",
     re.compile(r"(?:(?:19|20)\d{2}|[一二〇零○]{4})年(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号])?")),
    ("date", "date", "[date]", re.compile(
        r"\b(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:January|February|March|April|May|June|July|August|September|"
        r"October|November|December)(?:,?\s+(?:19|20)\d{2})?|(?:January|February|March|April|May|June|July|August|"
        r"September|October|November|December)\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+(?:19|20)\d{2})?|"
        r"\d{1,2}[/.-]\d{1,2}[/.-](?:19|20)?\d{2})\b")),
    ("age", "age", "[age]", re.compile(
        r"(?i:\b(?:I\s+am|I'm|aged?|she\s+is|he\s+is|turned)\s+(\d{1,3})(?:\s+years?\s+old)?\b|\b(\d{1,3})\s+years?\s+old\b)")),
    ("cn_age", "age", "[age]", re.compile(r"(\d{1,3}|[一二三四五六七八九十]{1,3})(?:周)?岁")),
    ("address", "address", "[address]", re.compile(
        r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Drive|Crescent|"
        r"Terrace|Court|Place|Way)\b")),
    ("cn_address", "address", "[address]", re.compile(
        r"[\u4e00-\u9fff]{2,8}(?:路|街|道|巷|里)(?:\d+|[一二三四五六七八九十百]+)号(?:\d+(?:楼|座|室))*")),
]


# words that often run into a Chinese street name: "住在弥敦道" is "live at" + the address
_CN_LEAD = re.compile(r"(?:我|他|她|们)?(?:住在|搬到|搬去|回到|来自|住|在|到|去|从)")


def detect(text: str, identifiers: list[Identifier]) -> list[Span]:
    """Every identifier found, longest match first where spans overlap."""
    folded = fold(text)
    found: list[Span] = []
    for ident in identifiers:
        if not ident.text.strip():
            continue
        for m in _list_pattern(ident.text.strip()).finditer(folded):
            found.append(Span(m.start(), m.end(), text[m.start():m.end()], ident.kind, ident.descriptor, "list"))
    for name, kind, descriptor, pattern in _RULES:
        for m in pattern.finditer(folded):
            # rules with a group mark only the value ("my WeChat is abc123" keeps "my WeChat is")
            group = next((i for i in range(1, (m.lastindex or 0) + 1) if m.group(i)), 0)
            start, end = m.span(group)
            if kind == "url":
                while end > start and folded[end - 1] in ".,;:!?":
                    end -= 1
            elif name == "cn_address":
                lead = _CN_LEAD.match(folded, start)
                if lead and lead.end() < end - 3:
                    start = lead.end()
            found.append(Span(start, end, text[start:end], kind, descriptor, f"rule:{name}"))
    return _resolve_overlaps(found)


def _resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep list matches over rule matches, then longer over shorter; drop the rest."""
    ranked = sorted(spans, key=lambda s: (s.source != "list", -(s.end - s.start), s.start))
    kept: list[Span] = []
    for s in ranked:
        if all(s.end <= k.start or s.start >= k.end for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: s.start)


def apply(text: str, spans: list[Span], descriptors: dict[str, str] | None = None) -> str:
    """Replace spans (non-overlapping, any order) with their descriptors, right to left."""
    out = text
    for s in sorted(spans, key=lambda s: s.start, reverse=True):
        replacement = (descriptors or {}).get(s.text, s.descriptor)
        out = out[: s.start] + replacement + out[s.end:]
    return out
