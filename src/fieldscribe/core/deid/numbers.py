"""Numbers people say in interviews: check digits of national identity and health numbers,
and digit strings as Whisper writes them (grouped, unbroken, or spoken as words).

A run of seven or more digits in an interview about someone's life is almost never a
quantity: it is a phone, an identity, a health or a hospital number. Check digits only
decide which descriptor it gets, never whether it is redacted.
"""

from __future__ import annotations

import re
from datetime import date

# -- check digits ---------------------------------------------------------------------------------


def nhs_ok(digits: str) -> bool:
    """NHS number (England, Wales, Isle of Man): 10 digits, modulus 11 on the first nine."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def cn_id_ok(value: str) -> bool:
    """Mainland resident identity card (GB 11643-1999): 17 digits and an ISO 7064 check."""
    value = value.upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return "10X98765432"[total % 11] == value[17]


def hkid_ok(letters: str, digits: str, check: str) -> bool:
    """Hong Kong identity card: one or two letters, six digits, a modulus-11 check (0-9 or A)."""
    letters = letters.upper()
    if not (1 <= len(letters) <= 2 and letters.isalpha() and len(digits) == 6 and digits.isdigit()):
        return False
    values = ([36] if len(letters) == 1 else []) + [ord(c) - 55 for c in letters] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1)))
    expected = (11 - total % 11) % 11
    return check.upper() == ("A" if expected == 10 else str(expected))


def norwegian_id_ok(digits: str) -> bool:
    """Norwegian fødselsnummer / D-number: DDMMYY + individual number + two check digits."""
    if len(digits) != 11 or not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    k1 = 11 - sum(a * b for a, b in zip(d, (3, 7, 6, 1, 8, 9, 4, 5, 2))) % 11
    k1 = 0 if k1 == 11 else k1
    k2 = 11 - sum(a * b for a, b in zip(d[:9] + [k1], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2))) % 11
    k2 = 0 if k2 == 11 else k2
    day = d[0] * 10 + d[1] - (40 if d[0] >= 4 else 0)  # D-numbers add 40 to the day
    month = d[2] * 10 + d[3]
    return k1 < 10 and k2 < 10 and (k1, k2) == (d[9], d[10]) and 1 <= day <= 31 and 1 <= month <= 12


def medicare_ok(digits: str) -> bool:
    """Australian Medicare card: 10 digits (an 11th, the person on the card, is optional)."""
    if len(digits) not in (10, 11) or not digits.isdigit() or digits[0] not in "23456":
        return False
    total = sum(int(c) * w for c, w in zip(digits[:8], (1, 3, 7, 9, 1, 3, 7, 9)))
    return total % 10 == int(digits[8])


def mykad_ok(digits: str) -> bool:
    """Malaysian MyKad: YYMMDD, a place-of-birth code and four digits (no check digit)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    try:
        date(2000 + int(digits[0:2]), int(digits[2:4]), int(digits[4:6]))
    except ValueError:
        return False
    return True


def classify_digits(digits: str, raw: str) -> str:
    """'phone' or 'id_number' for a run of seven or more digits, by format and check digit."""
    n = len(digits)
    if raw.lstrip().startswith("+") or digits.startswith("0"):
        return "phone"
    if n == 11 and digits[0] == "1" and digits[1] in "3456789":
        return "phone"  # mainland mobile
    if (n == 10 and nhs_ok(digits)) or (n == 11 and norwegian_id_ok(digits)) or (n == 18 and cn_id_ok(digits)):
        return "id_number"
    if n in (10, 11) and medicare_ok(digits) and " " not in raw.strip():
        return "id_number"
    if n == 12 and mykad_ok(digits) and "-" in raw:
        return "id_number"
    if n >= 12:
        return "id_number"
    return "phone"


# -- digits spoken as words -----------------------------------------------------------------------
EN_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_EN_TOKEN = r"(?:zero|oh|o|nought|one|two|three|four|five|six|seven|eight|nine|double|triple|\d{1,4})"
# at least three tokens; whether they make seven digits is checked on the match
EN_SPOKEN = re.compile(rf"(?i)(?<![\w-]){_EN_TOKEN}(?:(?:[\s,.-]|\s*-\s*)+{_EN_TOKEN}){{2,}}(?![\w-])")

ZH_DIGITS = {
    "零": "0",
    "〇": "0",
    "○": "0",
    "洞": "0",
    "幺": "1",
    "一": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "拐": "7",
    "八": "8",
    "九": "9",
    "勾": "9",
}
ZH_SPOKEN = re.compile(r"[零〇○幺一二两三四五六七八九\d](?:[\s,，、-]?[零〇○幺一二两三四五六七八九\d]){6,}")


def spoken_en_digits(text: str) -> str:
    """'oh seven seven double oh nine' → '077009'; anything else in the text is ignored."""
    out: list[str] = []
    repeat = 1
    for token in re.findall(r"[A-Za-z]+|\d+", text.lower()):
        if token in ("double", "triple"):
            repeat = 2 if token == "double" else 3
            continue
        value = EN_DIGIT_WORDS.get(token, token if token.isdigit() else "")
        if value:
            out.append(value[0] * repeat + value[1:] if repeat > 1 else value)
        repeat = 1
    return "".join(out)


def spoken_zh_digits(text: str) -> str:
    return "".join(ZH_DIGITS.get(ch, ch) for ch in text if ch in ZH_DIGITS or ch.isdigit())


# -- numbers written as words (ages) --------------------------------------------------------------
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_TEENS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
EN_NUMBER_WORDS = rf"(?:(?:{_TENS})(?:[- ](?:{_UNITS}))?|{_TEENS}|{_UNITS}|a hundred(?: and (?:{_UNITS}))?)"
ZH_NUMBER = (
    r"(?:[一二三四五六七八九]?十[一二三四五六七八九]?|[一二三四五六七八九]|一百(?:零[一二三四五六七八九])?|\d{1,3})"
)
