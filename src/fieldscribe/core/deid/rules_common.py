"""Rules for identifiers that look the same in any language: contact details, identity and
health numbers, phone numbers however they are written, and dates.

Every pattern is anchored so it cannot fire inside a word ("a big change" is not an
Instagram handle, "niggardly" holds none), and every rule is applied to text whose
full-width forms were folded to ASCII one character for one, so spans point at the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import numbers
from .descriptors import descriptor
from .spans import Span

# ASCII-only word edges: in Chinese text a number sits right against a character
_L = r"(?<![A-Za-z0-9_])"
_R = r"(?![A-Za-z0-9_])"

URL = re.compile(
    r"(?i)(?<![A-Za-z0-9_.@-])(?:(?:https?://|www\.)[^\s，。、)）]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,6}/[^\s，。、)）]*|"
    r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|edu|gov|io|co\.uk|org\.uk|ac\.uk|nhs\.uk|com\.au|org\.au|"
    r"com\.my|org\.my|com\.hk|org\.hk|com\.cn|no|cn|hk|my)(?![A-Za-z0-9-]))"
)
EMAIL = re.compile(r"(?<![A-Za-z0-9_.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
SPOKEN_EMAIL = re.compile(
    r"(?i)\b[a-z][\w.]*(?:\s+dot\s+[a-z]\w*)*\s+at\s+[a-z][\w-]*(?:\s*(?:\.|\bdot\b)\s*"
    r"(?:com|co|org|net|edu|gov|uk|hk|my|no|au|cn|io))+\b"
)
_HANDLE_CUE = (
    r"(?:(?<![A-Za-z])(?i:wechat|weixin|instagram|insta|whatsapp|telegram|tiktok|twitter|snapchat|snap|facebook|"
    r"threads|line|signal|discord|xiaohongshu|douyin|weibo)(?i:\s+(?:id|handle|name|account|username))?|"
    r"(?<![A-Za-z])IG|微信号?|QQ号?|qq号?|抖音号?|小红书号?|微博号?|脸书)"
)
HANDLE = re.compile(_HANDLE_CUE + r"(?:\s*(?:is|was|it's|是|叫|:|：|,)\s*|\s+)@?([A-Za-z0-9][A-Za-z0-9_.-]{3,29})")
AT_HANDLE = re.compile(r"(?<![A-Za-z0-9_.@])@[A-Za-z_][A-Za-z0-9_.]{2,29}(?![A-Za-z0-9_])")
# words that follow "my Instagram is …" without being a handle
_NOT_HANDLES = {
    "private",
    "public",
    "down",
    "gone",
    "broken",
    "blocked",
    "the",
    "a",
    "an",
    "my",
    "not",
    "still",
    "just",
    "really",
    "on",
    "off",
    "full",
    "new",
    "old",
    "same",
    "different",
    "deleted",
    "locked",
    "banned",
    "empty",
    "fine",
    "closed",
    "open",
    "there",
    "here",
    "busy",
    "silent",
    "dead",
    "active",
    "and",
    "but",
    "so",
    "because",
    "also",
    "only",
    "all",
    "like",
    "too",
    "now",
    "group",
    "groups",
    "chat",
    "account",
    "message",
    "messages",
    "video",
    "call",
    "calls",
    "with",
    "for",
    "from",
    "to",
    "me",
    "him",
    "her",
    "them",
    "us",
    "you",
    "it",
    "that",
    "this",
    "then",
    "when",
    "where",
}

HKID = re.compile(_L + r"([A-Z]{1,2})(\d{6})\s?(?:\(([0-9A])\)|([0-9A]))" + _R)
CN_ID = re.compile(r"(?<![0-9])\d{17}[\dXx](?![0-9A-Za-z])")
DASHED_ID = re.compile(_L + r"(?:\d{6}-\d{2}-\d{4}|\d{3}-\d{2}-\d{4})" + _R)  # MyKad, US SSN
UK_NINO = re.compile(_L + r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]" + _R)
LABELLED_ID = re.compile(
    r"(?i:(?<![A-Za-z])(?:NHS|hospital|patient|medical\s+record|MRN|case|client|national\s+insurance|NI|IC|NRIC|"
    r"MyKad|HKID|ID\s+card|identity\s+card|ID|passport|CHI|Medicare|f[øo]dselsnummer|personnummer|"
    r"social\s+security|SSN|record|file|reference|membership|member|unit|health\s+card|benefits?|Centrelink|"
    r"CRN)(?:\s+(?:number|no\.?|num|#))?(?:\s+(?:is|was|it's)|\s*[:#]|'s)?)\s*"
    r"([A-Z]{0,3}[\s-]?\d[\dA-Z\s-]{3,}\d[A-Z]?)" + _R
)
ZH_LABELLED_ID = re.compile(
    r"(?:身份证(?:号码?)?|住院号|病历号|病案号|社保卡?号?|医保卡?号?|护照号?码?|卡号|编号|证号|学号|工号|门诊号|"
    r"IC|NRIC|MyKad|HKID|香港身份证)(?:码)?(?:是|为|叫|:|：)?\s*([A-Z0-9][A-Z0-9\s()（）-]{3,}[A-Z0-9)）])"
)

# digit groups as Whisper writes them: "07700 900461", "+44 7700 900461", "(02) 9876 5432",
# "412 34 567", "0770090046"; digits are counted on the match (seven or more)
DIGIT_RUN = re.compile(
    r"(?<![A-Za-z0-9_./£$€¥%])(?<!\d:)(?<!\d,)(?:\+\s?\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,20}"
    r"(?:(?:[ .-]|\s-\s)\d{1,11}){0,5}(?![A-Za-z0-9_/:%]|[.,]\d)"
)
# usernames: letters and digits joined by dots or underscores (meiling.tan.73, ahfai_draws)
USERNAME = re.compile(
    r"(?<![A-Za-z0-9_.@/-])(?=[A-Za-z0-9._]*[_\d])(?=[A-Za-z0-9._]*[A-Za-z]{2})"
    r"[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)+(?![A-Za-z0-9_@/-]|\.[A-Za-z0-9])"
)
# letters then digits: hospital, passport and record numbers (J7730418, RX4471902, B38172605)
ALNUM_ID = re.compile(r"(?<![A-Za-z0-9_])[A-Z]{1,3}\d{5,12}[A-Z]?(?![A-Za-z0-9_])")
_MONEY_AFTER = re.compile(r"\s*(?:pounds|quid|dollars|ringgit|kroner|krone|euros|yuan|块|元|刀|万|mg|milligrams)\b")

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_ORD_WORD = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
    r"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth|"
    r"(?:twenty|thirty)[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth))"
)
_DAY = rf"(?:(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?|{_ORD_WORD})"
_YEAR = r"(?:19|20)\d{2}"
EN_DATE = re.compile(
    rf"(?<![\w-])(?:(?i:the\s+)?{_DAY}\s+(?i:of\s+)?{_MONTH}(?:,?\s+(?i:of\s+)?{_YEAR})?|"
    rf"{_MONTH}\s+(?i:the\s+)?{_DAY}(?:,?\s+{_YEAR})?(?![\w:])|"
    rf"{_MONTH},?\s+(?i:of\s+)?{_YEAR}|"
    rf"\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:{_YEAR}|\d{{2}})|{_YEAR}[/.-](?:0?[1-9]|1[0-2])[/.-](?:[12]\d|3[01]|0?[1-9]))"
    rf"(?![\w-])"
)
_ZH_MONTH = r"(?:十[一二]?|[一二三四五六七八九]|1[0-2]|0?[1-9])"
_ZH_DAY = r"(?:三十一?|二十[一二三四五六七八九]?|十[一二三四五六七八九]?|[一二三四五六七八九]|[12]\d|3[01]|0?[1-9])"
_ZH_YEAR = r"(?:(?:19|20)\d{2}|[一二][〇零○九][〇零○一二三四五六七八九]{2})"
ZH_DATE = re.compile(
    rf"(?:{_ZH_YEAR}年(?:的)?{_ZH_MONTH}月(?:份)?(?:{_ZH_DAY}[日号])?|(?<![\d一二三四五六七八九十]){_ZH_MONTH}月{_ZH_DAY}[日号])"
)
UK_POSTCODE = re.compile(_L + r"(?:[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2})" + _R)


def find(text: str, folded: str, lang: str) -> Iterator[Span]:
    """Contact details, numbers and dates in `text` (already folded to `folded`)."""

    def mk(start: int, end: int, kind: str, rule: str, weak: bool = False) -> Span:
        return Span(start, end, text[start:end], kind, descriptor(kind, lang), f"rule:{rule}", weak)

    def whole(*rules: tuple[re.Pattern[str], str, str]) -> Iterator[Span]:
        """Rules whose every match is the identifier as it stands: (pattern, kind, rule name)."""
        for pattern, kind, rule in rules:
            for m in pattern.finditer(folded):
                yield mk(m.start(), m.end(), kind, rule)

    for m in URL.finditer(folded):
        end = m.end()
        while end > m.start() and folded[end - 1] in ".,;:!?":
            end -= 1
        yield mk(m.start(), end, "url", "url")
    yield from whole((EMAIL, "email", "email"), (SPOKEN_EMAIL, "email", "spoken_email"))
    for m in HANDLE.finditer(folded):
        value = m.group(1).rstrip(".-")  # the sentence's full stop is not part of the handle
        if value.lower() in _NOT_HANDLES or not value:
            continue
        yield mk(m.start(1), m.start(1) + len(value), "handle", "handle")
    yield from whole((AT_HANDLE, "handle", "at_handle"))
    for m in USERNAME.finditer(folded):
        if not URL.fullmatch(m.group(0)):
            yield mk(m.start(), m.end(), "handle", "username", weak=True)
    yield from whole((ALNUM_ID, "id_number", "alnum_id"))
    for m in HKID.finditer(folded):
        bracketed = m.group(3) is not None
        check = m.group(3) or m.group(4)
        if bracketed or numbers.hkid_ok(m.group(1), m.group(2), check):
            yield mk(m.start(), m.end(), "id_number", "hkid")
    yield from whole(
        (CN_ID, "id_number", "cn_id"), (DASHED_ID, "id_number", "dashed_id"), (UK_NINO, "id_number", "uk_nino")
    )
    for pattern, rule in ((LABELLED_ID, "labelled_id"), (ZH_LABELLED_ID, "labelled_id")):
        for m in pattern.finditer(folded):
            value = m.group(1).rstrip(" -")
            if sum(ch.isdigit() for ch in value) >= 4:
                yield mk(m.start(1), m.start(1) + len(value), "id_number", rule)
    for m in DIGIT_RUN.finditer(folded):
        raw = m.group(0).strip()
        digits = re.sub(r"\D", "", raw)
        if len(digits) < 7 or _MONEY_AFTER.match(folded, m.end()):
            continue
        if re.fullmatch(rf"{_YEAR}\s*[-–]\s*{_YEAR}", raw):
            continue  # "2019-2021"
        yield mk(m.start(), m.start() + len(m.group(0).rstrip()), numbers.classify_digits(digits, raw), "digits")
    for m in numbers.EN_SPOKEN.finditer(folded):
        if re.search(r"[A-Za-z]", m.group(0)) and len(numbers.spoken_en_digits(m.group(0))) >= 7:
            yield mk(m.start(), m.end(), "phone", "spoken_digits")
    for m in numbers.ZH_SPOKEN.finditer(folded):
        if re.search(r"[零〇○幺一二两三四五六七八九]", m.group(0)) and len(numbers.spoken_zh_digits(m.group(0))) >= 7:
            yield mk(m.start(), m.end(), "phone", "spoken_digits")
    yield from whole((EN_DATE, "date", "date"), (ZH_DATE, "date", "date"), (UK_POSTCODE, "address", "postcode"))
