"""English rules for names, institutions, addresses, places and ages.

They catch what a statistical model trained on news misses in speech: a name after a
title or a relation ("Dr Kapoor", "Uncle Femi", "my friend Trish"), an institution by its
suffix ("St Bartholomew's Hospital", "Ward 12", "Riverside Academy"), an address by its
street word ("9 Hollins Close", "Block 12, Tai Wo Estate", "Jalan SS2/24"), and an age,
in digits or in words, after the words people say it with.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .descriptors import descriptor
from .numbers import EN_NUMBER_WORDS
from .spans import Span
from .wordlists import COUNTRIES, GENERIC_ORG_WORDS, NOT_NAMES

_LOWER = "a-zß-öø-ÿ"
_UPPER = "A-ZÀ-ÖØ-Þ"
# one capitalised name token: Femi, O'Neill, McDonald, Abdul-Rahman, Grünerløkka, Bartholomew's
NAME = (
    rf"(?:[{_UPPER}](?:[{_LOWER}]+|[{_LOWER}]*[{_UPPER}][{_LOWER}]+)(?:['’][{_UPPER}]?[{_LOWER}]+)?"
    rf"(?:-[{_UPPER}][{_LOWER}]+)?)"
)
NAMES = rf"{NAME}(?:\s+{NAME}){{0,2}}"

_TITLES = {
    "dr": "doctor",
    "dr.": "doctor",
    "doctor": "doctor",
    "prof": "doctor",
    "prof.": "doctor",
    "professor": "doctor",
    "consultant": "doctor",
    "nurse": "nurse",
    "sister": "nurse",
    "matron": "nurse",
    "charge nurse": "nurse",
    "mr": "person",
    "mr.": "person",
    "mrs": "person",
    "mrs.": "person",
    "ms": "person",
    "ms.": "person",
    "miss": "person",
    "mx": "person",
    "madam": "person",
    "sir": "person",
    "dame": "person",
    "lady": "person",
    "encik": "person",
    "puan": "person",
    "cik": "person",
    "tuan": "person",
    "datuk": "person",
    "dato": "person",
    "dato'": "person",
    "ah": "person",
    "uncle": "uncle",
    "aunt": "aunt",
    "auntie": "aunt",
    "aunty": "aunt",
    "nana": "grandmother",
    "nan": "grandmother",
    "granny": "grandmother",
    "grandma": "grandmother",
    "gran": "grandmother",
    "grandad": "grandfather",
    "granddad": "grandfather",
    "grandpa": "grandfather",
    "cousin": "cousin",
    "pastor": "faith leader",
    "father": "faith leader",
    "reverend": "faith leader",
    "rev": "faith leader",
    "rev.": "faith leader",
    "imam": "faith leader",
    "rabbi": "faith leader",
    "brother": "person",
    "coach": "coach",
    "councillor": "councillor",
    "officer": "police officer",
    "sergeant": "police officer",
    "constable": "police officer",
    "pc": "police officer",
    "judge": "judge",
    "captain": "person",
    "big": "person",
    "little": "person",
    "old": "person",
    "young": "person",
    "baby": "person",
}
TITLE = re.compile(
    r"(?<![\w'’])(Charge [Nn]urse|Dr\.?|Doctor|Prof\.?|Professor|Consultant|Nurse|Sister|Matron|Mrs?\.?|Ms\.?|Miss|"
    r"Mx|Madam|Sir|Dame|Lady|Encik|Puan|Cik|Tuan|Datuk|Dato'?|Ah|Uncle|Aunt|Auntie|Aunty|Nana|Nan|Granny|Grandma|"
    r"Gran|Grandad|Granddad|Grandpa|Cousin|Pastor|Father|Reverend|Rev\.?|Imam|Rabbi|Brother|Coach|Councillor|"
    r"Officer|Sergeant|Constable|PC|Judge|Captain|[Bb]ig|[Ll]ittle|[Oo]ld|[Yy]oung|[Bb]aby|[Dd]octor|[Nn]urse|"
    rf"[Uu]ncle|[Aa]unt(?:ie|y)?|[Cc]ousin|[Pp]astor)\s+({NAMES})"
)

_RELATIONS = {
    "friend": "friend",
    "mate": "friend",
    "pal": "friend",
    "buddy": "friend",
    "bestie": "friend",
    "sister": "sister",
    "brother": "brother",
    "sis": "sister",
    "bro": "brother",
    "mum": "mother",
    "mom": "mother",
    "mother": "mother",
    "mam": "mother",
    "dad": "father",
    "father": "father",
    "son": "son",
    "daughter": "daughter",
    "partner": "partner",
    "husband": "husband",
    "wife": "wife",
    "boyfriend": "boyfriend",
    "girlfriend": "girlfriend",
    "fiance": "partner",
    "fiancé": "partner",
    "fiancee": "partner",
    "fiancée": "partner",
    "cousin": "cousin",
    "niece": "niece",
    "nephew": "nephew",
    "aunt": "aunt",
    "auntie": "aunt",
    "aunty": "aunt",
    "uncle": "uncle",
    "nan": "grandmother",
    "nana": "grandmother",
    "gran": "grandmother",
    "granny": "grandmother",
    "grandma": "grandmother",
    "grandmother": "grandmother",
    "grandad": "grandfather",
    "grandpa": "grandfather",
    "grandfather": "grandfather",
    "grandson": "grandson",
    "granddaughter": "granddaughter",
    "neighbour": "neighbour",
    "neighbor": "neighbour",
    "carer": "carer",
    "caregiver": "carer",
    "key worker": "key worker",
    "keyworker": "key worker",
    "support worker": "support worker",
    "social worker": "social worker",
    "psychiatrist": "psychiatrist",
    "consultant": "doctor",
    "cpn": "nurse",
    "gp": "doctor",
    "doctor": "doctor",
    "nurse": "nurse",
    "counsellor": "counsellor",
    "counselor": "counsellor",
    "therapist": "therapist",
    "psychologist": "psychologist",
    "colleague": "colleague",
    "boss": "manager",
    "manager": "manager",
    "supervisor": "manager",
    "flatmate": "flatmate",
    "housemate": "flatmate",
    "roommate": "flatmate",
    "landlord": "landlord",
    "landlady": "landlord",
    "ex": "ex-partner",
    "kid": "child",
    "child": "child",
    "baby": "child",
    "stepmum": "stepmother",
    "stepdad": "stepfather",
    "stepson": "son",
    "stepdaughter": "daughter",
    "sponsor": "sponsor",
    "peer worker": "peer worker",
    "peer supporter": "peer worker",
    "case manager": "case manager",
    "care coordinator": "care coordinator",
    "ot": "occupational therapist",
    "pastor": "faith leader",
    "priest": "faith leader",
    "vicar": "faith leader",
    "imam": "faith leader",
    "teacher": "teacher",
    "tutor": "teacher",
    "coach": "coach",
    "mentor": "mentor",
    "worker": "support worker",
    "lawyer": "lawyer",
    "solicitor": "lawyer",
    "advocate": "advocate",
    "pharmacist": "pharmacist",
    "dentist": "dentist",
    "midwife": "midwife",
    "health visitor": "health visitor",
    "husband's": "relative",
    "wife's": "relative",
    "in-law": "relative",
    "brother-in-law": "brother-in-law",
    "sister-in-law": "sister-in-law",
    "mother-in-law": "mother-in-law",
    "father-in-law": "father-in-law",
    "godmother": "godmother",
    "godfather": "godfather",
    "twin": "twin",
}
_REL_WORDS = "|".join(sorted((re.escape(k) for k in _RELATIONS), key=len, reverse=True))
RELATION = re.compile(
    r"(?i:(?<![\w'’])(?:my|his|her|their|our|your|a|the|this|one|old)\s+"
    r"(?:(?:older|younger|little|big|best|old|ex|late|new|twin|step|half|eldest|youngest|oldest|other|good|close|"
    r"own|lovely|dear|baby|foster|adopted|female|male|school|childhood|uni|work|church|support)[- ]?)*"
    rf"({_REL_WORDS})s?)(?:,\s*|\s+(?:called|named|who's\s+called)\s+|\s+)({NAMES})"
)
NAMED = re.compile(
    r"(?i:(?<![\w'’])(?:called|named|name\s+is|name's|names\s+are|known\s+as|nicknamed|goes\s+by|"
    r"call\s+(?:him|her|them|me)|calls\s+(?:him|her|them|me)|(?:this|a|one)\s+(?:guy|girl|lady|man|"
    r"woman|bloke|fella|chap|lad|boy|kid))\s+)"
    rf"({NAMES})"
)
APPOSITIVE = re.compile(
    rf"(?<![\w'’])({NAME}),\s+(?:(?:my|his|her|our|their)\s+(?:[\w-]+\s+)?(?:{_REL_WORDS})\b|"
    rf"(?:he|she)(?:['’]s|\s+(?:is|was|said|says|told|used|goes|went|came|has|had))\b)"
)
PROPER_NAME = re.compile(rf"(?<![\w'’])({NAME})['’]s\s+(?:her|his|their|my)\s+(?:proper|real|full|actual)?\s*name")
AND_NAME = re.compile(rf"(?<![\w'’])({NAME})\s+and\s+(?:I|me|my|myself)\b")

_ORG_SUFFIX = {
    "Hospital": "hospital",
    "Infirmary": "hospital",
    "Hospice": "hospital",
    "Clinic": "clinic",
    "Surgery": "clinic",
    "Practice": "clinic",
    "Medical Centre": "clinic",
    "Health Centre": "clinic",
    "Medical Center": "clinic",
    "Ward": "ward",
    "Unit": "ward",
    "School": "school",
    "Academy": "school",
    "College": "school",
    "Primary": "school",
    "High": "school",
    "Grammar": "school",
    "Nursery": "school",
    "University": "university",
    "Centre": "centre",
    "Center": "centre",
    "Clubhouse": "centre",
    "Hub": "centre",
    "House": "centre",
    "Lodge": "centre",
    "Project": "centre",
    "Club": "centre",
    "Society": "organisation",
    "Association": "organisation",
    "Trust": "organisation",
    "Foundation": "organisation",
    "Network": "organisation",
    "Group": "organisation",
    "Charity": "organisation",
    "Housing": "organisation",
    "Council": "organisation",
    "Library": "organisation",
    "Station": "organisation",
    "Prison": "organisation",
    "Gym": "organisation",
    "Ltd": "workplace",
    "Limited": "workplace",
    "plc": "workplace",
    "Factory": "workplace",
    "Warehouse": "workplace",
    "Works": "workplace",
    "Industries": "workplace",
    "Church": "place of worship",
    "Chapel": "place of worship",
    "Cathedral": "place of worship",
    "Mosque": "place of worship",
    "Temple": "place of worship",
    "Gurdwara": "place of worship",
    "Synagogue": "place of worship",
    "Kingdom Hall": "place of worship",
    "Café": "shop",
    "Cafe": "shop",
    "Coffee": "shop",
    "Restaurant": "shop",
    "Pub": "shop",
    "Arms": "shop",
    "Inn": "shop",
    "Hotel": "shop",
    "Bakery": "shop",
    "Shop": "shop",
    "Stores": "shop",
    "Store": "shop",
    "Supermarket": "shop",
    "Market": "shop",
    "Garage": "shop",
    "Salon": "shop",
    "Takeaway": "shop",
    "Barbers": "shop",
    "Pharmacy": "shop",
    "Chemist": "shop",
    "Mall": "shop",
    "Plaza": "shop",
    "General": "hospital",
    "DPS": "clinic",
}
_ORG_WORDS = "|".join(sorted((re.escape(k) for k in _ORG_SUFFIX), key=len, reverse=True))
_CONNECT = r"(?:of|the|and|&|for|on|upon|de|la|du|in)"
ORG = re.compile(
    rf"(?<![\w'’])((?:(?:St\.?|Saint)\s+)?(?:(?:{NAME}|[A-Z]{{2,5}}|\d+)\s+(?:{_CONNECT}\s+)?){{1,5}}?)"
    rf"({_ORG_WORDS})(?![\w-])"
)
ORG_PREFIX = re.compile(
    rf"(?<![\w'’])(Hospital|Klinik|Sekolah|Kolej|Universiti|Pusat|Masjid|Gereja|Kampung|Taman|Wisma|"
    rf"Menara|Pasar)\s+({NAME}(?:\s+{NAME}){{0,3}})"
)
SAINT = re.compile(rf"(?<![\w'’])(?:St\.?|Saint)\s+{NAME}['’]s(?![\w-])")
PUB = re.compile(rf"(?<![\w'’])[Tt]he\s+({NAME}\s+(?:and|&)\s+{NAME})(?![\w-])")
ORG_NOUN = re.compile(
    rf"(?i:(?<![\w'’])(?:charity|group|organisation|organization|company|shop|pub|church|club|project|"
    rf"firm|agency|cafe|café|service|network|centre|center|school|college|place|business)"
    rf"(?:\s+called|\s+named|,))\s+({NAMES})"
)
WARD = re.compile(r"(?<![\w'’])(?:[Ww]ard|[Uu]nit|[Bb]ay|[Bb]lock)\s+(?:\d{1,3}[A-Za-z]?|[A-Z]\d{0,2})(?![\w-])")

_STREET = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Close|Crescent|Gardens|Grove|Court|Place|Way|Terrace|"
    r"Mews|Rise|Row|Square|Walk|Hill|View|Green|Parade|Boulevard|Highway|Parkway|Estate|Heights|Vale|Wharf|"
    r"Yard|Quay|Gate|Circus|Broadway|Embankment|Villas|Cottages|Mansions|Tower|Towers|Buildings?|Gardens|"
    r"Park|Road East|Road West|Road North|Road South)"
)
_UNIT = r"(?:(?:Flat|Apartment|Apt|Unit|Room|Block|Blk|Tower|House|No\.?|Number)\s*\d+[A-Za-z]?(?:/\d+)?,?\s+)"
ADDRESS = re.compile(
    rf"(?<![\w'’])(?:{_UNIT}*"
    rf"\d{{1,5}}(?:/\d{{1,5}})?[A-Za-z]?,?\s+)(?:{NAME}\s+){{1,3}}{_STREET}\.?(?![\w-])"
)
NORDIC = re.compile(
    rf"(?<![\w'’]){NAME}(?:veien|vegen|gata|gate|veg|vei|vägen|gatan|stien|plassen|allé|vej)\s+\d+[A-Za-z]?"
    r"(?![\w-])"
)
BLOCK = re.compile(
    rf"(?<![\w'’]){_UNIT}*(?:Block|Flat|Tower|Blk)\s+\d+[A-Za-z]?,?\s+(?:{NAME}\s+){{1,3}}"
    r"(?:Estate|Court|Gardens?|Mansions?|Building|Tower|House|Centre|Villas?|Terrace|Heights|Towers)"
    r"(?![\w-])"
)
STREET = re.compile(rf"(?<![\w'’])(?:{NAME}\s+){{1,3}}{_STREET}(?![\w-])")
ADDRESS_MORE = re.compile(
    rf"(?:,?\s*(?:Apt|Apartment|Flat|Unit|Suite)\s+\w+|,\s*\d{{4,6}}(?:\s+{NAME}(?:\s+{NAME})?)?|"
    rf",\s*(?!(?:and|but|so|it|I)\b){NAME}(?:\s+{NAME}){{0,2}}(?:\s+\d{{1,4}})?)"
)
MALAYSIA = re.compile(
    rf"(?<![\w'’])(?:(?:No\.?\s*)?\d+[A-Za-z]?,?\s+)?(?:Jalan|Jln\.?|Lorong|Persiaran|Lebuh|Taman)"
    rf"\s+(?:(?:{NAME}|[A-Z]{{1,4}}\d+(?:/\d+)*|\d+(?:/\d+)*)\s*){{1,4}}"
)

_PLACE_CUE = re.compile(
    rf"(?<![\w'’])(?:in|from|near|around|outside|at|towards|round|live\s+in|lived\s+in|living\s+in|moved\s+to|"
    rf"grew\s+up\s+in|based\s+in|over\s+in|down\s+in|up\s+in|out\s+in|back\s+to|over\s+to|down\s+to|up\s+to|"
    rf"went\s+to|go\s+to|going\s+to|bus\s+to|train\s+to|trip\s+to)\s+({NAME}(?:[\s-]{NAME}){{0,2}})"
)

_UNITS_AFTER = (
    r"(?!\s*(?:times|minutes|hours|days|weeks|months|years(?!\s+old)|year(?![-\s]+old)|pounds|quid|"
    r"of|people|percent|per\s+cent|%|o'clock|kids|children|tablets|pills|mg|milligrams|sessions|stone|"
    r"kilos|kg|feet|foot|inches|miles|grand|thousand|hundred|million|am|pm|in\s+the|a\.m|p\.m|or\s+so|"
    r"things|ways|members|others|bucks|dollars|quid|cigarettes|pints|drinks|beds|weeks|points|more|"
    r"too|to\s+\d|-\s*\d|of\s+us|of\s+them|lots|jobs|goals|nights|steps|floors|stops))"
)
_AGE_NUM = rf"(?:{EN_NUMBER_WORDS}|\d{{1,3}})"
_FILLERS = (
    r"(?:[\s,]+(?:what|like|um|uh|er|erm|about|around|nearly|almost|only|just|maybe|probably|roughly|oh|well|now))*"
)
AGE_CUE = re.compile(
    r"(?i:(?<![\w'’])(?:I'm|I\s+am|I\s+was|till|until|at\s+(?=(?:about\s+|around\s+)?(?:1[3-9]|[2-9]\d|\w*teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety))|I'll\s+be|I'd\s+have\s+been|she's|he's|she\s+is|he\s+is|she\s+was|"
    r"he\s+was|they're|aged|age|turned|turning|turns|turn|at\s+the\s+age\s+of|when\s+I\s+was|when\s+she\s+was|"
    r"when\s+he\s+was|is\s+now|is\s+only|was\s+only|only|just|nearly|almost|about\s+to\s+turn|"
    r"(?:son|daughter|boy|girl|kid|brother|sister|mum|mom|dad|mother|father|wife|husband|partner|nan|gran|"
    r"grandson|granddaughter|baby|niece|nephew|he|she)(?:\s+(?:is|was|turned|turns)|['’]s)))"
    rf"{_FILLERS}[\s,]+({_AGE_NUM}(?:[\s-]+years?(?:[\s-]+old)?)?){_UNITS_AFTER}(?![\w'’-])",
    re.IGNORECASE,
)
NAME_AGE = re.compile(
    rf"(?<![\w'’]){NAME}(?:\s+(?:is|was)|['’]s)\s+({_AGE_NUM})(?=\s+(?:and|but|now|this|next)\b|[.,;!?])"
)
AGE_MORE = re.compile(rf"(?:\s*(?:,|\?|or|to|/|-|\.)\s*)({_AGE_NUM})(?![\w'’-])", re.IGNORECASE)
AGE_YEARS = re.compile(rf"(?i:(?<![\w'’-])({_AGE_NUM})[\s-]+years?[\s-]+old(?![\w-]))")
AGE_BARE_OK = re.compile(
    r"(?i)\s*(?:$|[.,;!?…]|in\s|now|then|and|but|when|at\s+the\s+time|this\s+year|next|last|"
    r"years|year|so|or|or\s+so|-ish|ish|myself|at\s+that|back\s+then)"
)


def _name_ok(name: str) -> bool:
    first = name.split()[0]
    return first not in NOT_NAMES and name not in NOT_NAMES and name not in COUNTRIES


def _trim_name(name: str) -> str:
    """Drop capitalised non-names that follow a name ('Mark Monday' → 'Mark')."""
    parts = name.split()
    while len(parts) > 1 and (parts[-1] in NOT_NAMES or parts[-1] in COUNTRIES):
        parts.pop()
    return " ".join(parts)


def find(text: str, folded: str) -> Iterator[Span]:
    """English names, institutions, addresses, places and ages (`folded` is `text` folded)."""

    def mk(start: int, end: int, kind: str, role: str, rule: str, weak: bool = True) -> Span:
        return Span(start, end, text[start:end], kind, descriptor(role, "en"), f"rule:{rule}", weak)

    for m in TITLE.finditer(folded):
        name = _trim_name(m.group(2))
        if not _name_ok(name):
            continue
        title = m.group(1)
        if title[0].islower() and title.lower() not in (
            "doctor",
            "nurse",
            "uncle",
            "aunt",
            "auntie",
            "aunty",
            "cousin",
            "pastor",
            "big",
            "little",
            "old",
            "young",
            "baby",
        ):
            continue
        role = _TITLES.get(title.lower().rstrip("."), _TITLES.get(title.lower(), "person"))
        if title.lower() in ("big", "little", "old", "young", "baby"):
            yield mk(m.start(), m.start(2) + len(name), "person", "person", "nickname")
        else:
            yield mk(m.start(), m.start(2) + len(name), "person", role, "title")
    for m in RELATION.finditer(folded):
        name = _trim_name(m.group(2))
        if _name_ok(name):
            role = _RELATIONS.get(m.group(1).lower(), "person")
            yield mk(m.start(2), m.start(2) + len(name), "person", role, "relation")
    for pattern, rule in ((NAMED, "named"), (AND_NAME, "and_name"), (APPOSITIVE, "appositive"), (PROPER_NAME, "named")):
        for m in pattern.finditer(folded):
            name = _trim_name(m.group(1))
            if _name_ok(name):
                yield mk(m.start(1), m.start(1) + len(name), "person", "person", rule)
    for m in ORG.finditer(folded):
        lead = m.group(1).split()
        words = [w for w in lead if w[:1].isupper() and w not in ("St", "St.", "Saint")]
        if not words or all(w.strip(",") in GENERIC_ORG_WORDS for w in words):
            continue
        yield mk(m.start(), m.end(), "organisation", _ORG_SUFFIX[m.group(2)], "institution")
    for m in ORG_PREFIX.finditer(folded):
        yield mk(
            m.start(),
            m.end(),
            "organisation",
            "hospital"
            if m.group(1) in ("Hospital", "Klinik")
            else "place"
            if m.group(1) in ("Taman", "Kampung")
            else "organisation",
            "institution",
        )
    for pattern in (SAINT, PUB):
        for m in pattern.finditer(folded):
            if m.group(0).split()[-1] not in NOT_NAMES:
                yield mk(m.start(), m.end(), "organisation", "organisation", "institution")
    for m in ORG_NOUN.finditer(folded):
        name = _trim_name(m.group(1))
        if _name_ok(name):
            yield mk(m.start(1), m.start(1) + len(name), "organisation", "organisation", "institution")
    for m in WARD.finditer(folded):
        yield mk(m.start(), m.end(), "organisation", "ward", "ward")
    for pattern, rule in ((ADDRESS, "address"), (BLOCK, "address"), (MALAYSIA, "address"), (NORDIC, "address")):
        for m in pattern.finditer(folded):
            end = m.end()
            # the rest of the address: ", Apt 3B", ", Taman Sri Muda", ", 0488 Oslo", ", Dayton, Ohio, 45402"
            for _ in range(4):
                more = ADDRESS_MORE.match(folded, end)
                if not more or more.group(0).strip(", ") in NOT_NAMES:
                    break
                end = more.end()
            yield mk(m.start(), end, "address", "address", rule, weak=False)
    for m in STREET.finditer(folded):
        if m.group(0).split()[0] not in NOT_NAMES:
            yield mk(m.start(), m.end(), "address", "address", "street")
    for m in _PLACE_CUE.finditer(folded):
        name = _trim_name(m.group(1))
        if _name_ok(name) and name not in GENERIC_ORG_WORDS:
            yield mk(m.start(1), m.start(1) + len(name), "place", "place", "place_cue")
    ages = [
        m.span(1)
        for m in AGE_CUE.finditer(folded)
        if ("year" in m.group(1).lower() or AGE_BARE_OK.match(folded, m.end(1)))
        and (m.group(1)[:1].isdigit() or m.group(1).lower() not in ("one", "a hundred"))
    ]
    ages += [m.span(1) for m in NAME_AGE.finditer(folded) if m.group(0).split()[0] not in NOT_NAMES]
    ages += [m.span() for m in AGE_YEARS.finditer(folded)]
    for start, end in ages:
        yield mk(start, end, "age", "age", "age")
        more = AGE_MORE.match(folded, end)  # "fourteen, fifteen", "forty-five? Forty-six"
        if more and AGE_BARE_OK.match(folded, more.end(1)):
            yield mk(more.start(1), more.end(1), "age", "age", "age")
