"""Chinese rules for forms of address, institutions, places, addresses and ages.

Mandarin speakers rarely say a full name: they say 老马, 小陈, 王医生, 钱主任, 何阿姨, 阿芳.
These forms are built on a surname, so the rules here start from the common-surname list.
Ordinary words that happen to begin with a surname character (高兴, 方便, 和医生说) are told
apart with word boundaries from the segmenter (jieba) when it is installed: a name starts
where a word starts.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from .descriptors import descriptor
from .numbers import ZH_NUMBER
from .spans import Span
from .wordlists import CN_COMPOUND_SURNAMES, CN_COUNTRIES, CN_NOT_NAMES, CN_PLACES, CN_SURNAMES, NOT_NAMES

_SURNAME = "(?:" + "|".join(sorted(CN_COMPOUND_SURNAMES)) + "|[" + "".join(sorted(CN_SURNAMES)) + "])"
# surname characters that are also everyday function words: only a segmenter can tell
# "和医生说" (and the doctor said) from "和医生" (Dr He), so without one they are left out
_FUNCTION_SURNAMES = set("和向于由但时都那来应信全初相计支干公以与把被让给对跟同将最太很更好多少其各每本该此这有无所")

_TITLES = {
    "医生": "doctor",
    "大夫": "doctor",
    "院长": "doctor",
    "教授": "doctor",
    "主任": "staff",
    "护士": "nurse",
    "护士长": "nurse",
    "社工": "social worker",
    "老师": "teacher",
    "校长": "teacher",
    "经理": "staff",
    "书记": "staff",
    "科长": "staff",
    "所长": "staff",
    "站长": "staff",
    "组长": "staff",
    "队长": "staff",
    "警官": "staff",
    "律师": "staff",
    "师傅": "person",
    "老板": "person",
    "阿姨": "person",
    "阿婆": "person",
    "伯伯": "person",
    "叔叔": "person",
    "奶奶": "person",
    "爷爷": "person",
    "大姐": "person",
    "大哥": "person",
    "姐": "person",
    "哥": "person",
    "叔": "person",
    "伯": "person",
    "姨": "person",
    "姑": "person",
    "婶": "person",
    "总": "person",
    "工": "person",
    "先生": "person",
    "女士": "person",
    "小姐": "person",
    "太太": "person",
    "太": "person",
    "生": "person",
    "sir": "person",
    "Sir": "person",
    "SIR": "person",
    "姑娘": "nurse",
    "同学": "person",
    "嫂": "person",
    "妹": "person",
    "仔": "person",
}
_TITLE_WORDS = "|".join(sorted(map(re.escape, _TITLES), key=len, reverse=True))
# surname (+ up to two given-name characters) + title: 王医生, 钱主任, 刘桂芳医生, 陈sir
_NOT_GIVEN = "是的了在个们这那说和跟就也都还又把被给让对我你他她它不没有很太要会能去来到从"
# overlapping (a lookahead): "后来是何阿姨" must still find 何阿姨 after rejecting 来是何阿姨
TITLED = re.compile(rf"(?=({_SURNAME})([^\W\d_{_NOT_GIVEN}a-zA-Z]{{0,2}}?)({_TITLE_WORDS}))")
OLD_YOUNG = re.compile(rf"[老小]{_SURNAME}")
AH = re.compile(r"阿[\u4e00-\u9fff](?:仔|妹|姐|哥)?")
CALLED = re.compile(
    rf"(?:叫做|名叫|叫|名字是|名字叫|姓名是)({_SURNAME}[\u4e00-\u9fff]{{1,2}})(?=[，。、！？,.!?\s]|的|也|是|来|去|说|$)"
)
LATIN_NAME = re.compile(r"(?<![A-Za-z])(?:Ah\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?(?![A-Za-z])")

_ORG_SUFFIX = {
    "人民医院": "hospital",
    "中医院": "hospital",
    "医院": "hospital",
    "卫生院": "hospital",
    "精卫中心": "hospital",
    "精神卫生中心": "hospital",
    "卫生服务中心": "clinic",
    "诊所": "clinic",
    "门诊部": "clinic",
    "药房": "shop",
    "药店": "shop",
    "康复中心": "centre",
    "日间中心": "centre",
    "康复站": "centre",
    "会所": "centre",
    "之家": "centre",
    "服务中心": "centre",
    "活动中心": "centre",
    "中心": "centre",
    "病区": "ward",
    "中学": "school",
    "小学": "school",
    "大学": "university",
    "学院": "school",
    "幼儿园": "school",
    "职校": "school",
    "技校": "school",
    "中专": "school",
    "居委会": "community office",
    "村委会": "community office",
    "街道办事处": "community office",
    "街道办": "community office",
    "派出所": "organisation",
    "公司": "workplace",
    "集团": "workplace",
    "工厂": "workplace",
    "厂": "workplace",
    "超市": "shop",
    "商场": "shop",
    "饭店": "shop",
    "餐厅": "shop",
    "酒楼": "shop",
    "茶餐厅": "shop",
    "酒店": "shop",
    "面馆": "shop",
    "银行": "organisation",
    "教会": "place of worship",
    "教堂": "place of worship",
    "清真寺": "place of worship",
    "寺": "place of worship",
    "庙": "place of worship",
    "协会": "organisation",
    "基金会": "organisation",
    "服务社": "organisation",
    "街道": "community office",
    "残联": "organisation",
    "图书馆": "organisation",
    "保险": "workplace",
    "百货": "shop",
    "堂": "place of worship",
    "心园": "centre",
    "师大": "university",
    "交大": "university",
    "医大": "university",
    "院": "hospital",
    "防治站": "clinic",
    "福利院": "centre",
    "养老院": "centre",
    "敬老院": "centre",
    "俱乐部": "centre",
}
_ORG_WORDS = "|".join(sorted(map(re.escape, _ORG_SUFFIX), key=len, reverse=True))
ORG = re.compile(rf"([\u4e00-\u9fff0-9A-Za-z]{{1,10}}?)({_ORG_WORDS})")
WARD = re.compile(r"(?:第?(?:[一二三四五六七八九十]{1,3}|\d{1,3})号?)(?:病区|病房|病室)")
_GENERIC_STEMS = {
    "这个",
    "那个",
    "这家",
    "那家",
    "一家",
    "一个",
    "大",
    "小",
    "附近",
    "我们",
    "他们",
    "你们",
    "本地",
    "当地",
    "社区",
    "公立",
    "私立",
    "私人",
    "普通",
    "精神",
    "专科",
    "综合",
    "上级",
    "别的",
    "其他",
    "另一家",
    "好的",
    "最好的",
    "的",
    "这",
    "那",
    "哪",
    "哪个",
    "什么",
    "康复",
    "日间",
    "服务",
    "活动",
    "家",
    "那种",
    "这种",
    "各个",
    "每个",
    "整个",
    "去",
    "在",
    "到",
    "住",
    "回",
    "进",
    "从",
    "新",
    "老",
    "市",
    "区",
    "县",
    "省",
    "镇",
    "国",
    "中",
    "这里",
    "那里",
    "我",
    "他",
    "她",
    "医",
    "人民",
    "卫生",
    "外面",
    "里面",
    "上",
    "下",
    "学",
    "同",
    "大型",
    "小型",
    "街道",
    "中国",
    "全国",
    "一",
    "有",
    "找",
    "个",
    "几家",
    "两家",
    "很多",
    "好多",
    "一些",
    "还有",
    "就是",
    "然后",
    "其实",
    "家里",
    "工",
}
_LEADING = re.compile(
    r"^(?:我们|他们|她们|你们|我|他|她|你|在|去|到|从|住|回|进|送|转到|转去|转|那个|这个|那家|这家|"
    r"那边|这边|的|了|是|就是|还是|也是|都是|叫|有个|有一个|一个|一家|个|家|说|跟|和|又|也|就|还|"
    r"都|被|给|让|把|对|上|下|读|念|开|做|找|去了|到了|住进|住在|关在|送到|送去|送进)+"
)
PLACE_SUFFIX = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:新区|区|县|镇|乡|村|新村)(?![\u4e00-\u9fff]*(?:医院|中心|委会))")

_ROAD = r"(?:路|街|道|巷|弄|里|大道|公路|大街)"
_NUM = r"(?:\d+|[一二三四五六七八九十百零〇]+)"
_PART = rf"(?:{_NUM}(?:号楼|号院|支弄|号|弄|栋|幢|座|单元|门|室|楼|层|区|期|村)|附{_NUM}号|[A-Z]室?|[\u4e00-\u9fff]{{2,3}}楼)"
ADDRESS = re.compile(
    rf"(?:[\u4e00-\u9fff]{{1,8}}?{_ROAD}{_NUM}(?:号|弄)(?:{_PART})*(?:\d{{3,4}}(?!\d))?"
    rf"|[\u4e00-\u9fff]{{1,8}}?(?:小区|花园|新村|公寓|大厦|苑|邨|城|广场|里|村){_PART}{{1,5}}(?:\d{{3,4}}(?!\d))?"
    rf"|{_NUM}(?:号楼|栋|幢|座){_NUM}(?:单元|楼|层|门)(?:{_NUM}(?:室|号|楼|层)?|[A-Z]室?)?)"
)
ROAD_ONLY = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:路|大道|大街|街|巷|弄)(?=[\u4e00-\u9fff，。、,.\s]|$)")
# characters that never sit inside a place or institution's name
_FUNCTION_CHARS = set(
    "的了在我你他她们把被是说就都也还又和跟给让对这那哪个些么呢吗吧啊呀嘛着过得地要会能很太去从刚读做次几坐用"
)
# part-of-speech tags no word inside a name carries: verbs, pronouns, adverbs, particles, time words
_NOT_IN_NAMES = ("v", "r", "d", "p", "c", "u", "t", "y", "e", "q")
PLACES = re.compile("|".join(sorted(map(re.escape, CN_PLACES), key=len, reverse=True)))
POSTCODE = re.compile(r"(?<!\d)\d{5,6}(?!\d)(?=\s*(?:邮编|$))|(?:邮编|邮政编码)(?:是|：|:)?\s*\d{5,6}")

AGE = re.compile(rf"({ZH_NUMBER}(?:多|几)?)(?:周)?岁")
AGE_CUE = re.compile(rf"(?:快|都|已经|今年|才|刚|满|都快|快要|马上)({ZH_NUMBER})(?:了|岁)")


def _blocked(folded: str, start: int, end: int) -> bool:
    """An ordinary word covers the match, or crosses its end (老毛病, 小时候, 和医生)."""
    for w in CN_NOT_NAMES:
        i = folded.find(w, max(0, start - len(w) + 1), end + len(w))
        while i != -1 and i < end:
            if i + len(w) > start and (i + len(w) > end or (i <= start and i + len(w) >= end)):
                return True
            i = folded.find(w, i + 1, end + len(w))
    return False


def find(text: str, folded: str, tokens: list[tuple[int, int, str]] | None) -> Iterator[Span]:
    """Chinese names, institutions, places, addresses and ages.

    `tokens` are the segmenter's words as (start, end, part-of-speech); None when no
    segmenter is available, and then surnames that are also function words are left to the
    reviewer."""
    starts = {t[0] for t in tokens} if tokens is not None else None
    token_starts = [t[0] for t in tokens or []]  # tokens are in text order: find a stretch's words by bisection
    token_ends = [t[1] for t in tokens or []]
    word_at = {t[0]: (t[1], t[2]) for t in tokens} if tokens is not None else {}

    def mk(start: int, end: int, kind: str, role: str, rule: str, weak: bool = True) -> Span:
        return Span(start, end, text[start:end], kind, descriptor(role, "zh"), f"rule:{rule}", weak)

    def is_cjk(i: int) -> bool:
        return 0 <= i < len(folded) and "\u4e00" <= folded[i] <= "\u9fff"

    def name_starts_word(i: int, name_end: int, match_end: int, surname: str) -> bool:
        """The segmenter begins a word at the surname, and that word does not run on past
        the name into something else (卫生 is hygiene, 那个 is 'that'), unless it is the
        whole match (何生, 王医生 read as one word)."""
        if starts is None:
            return surname not in _FUNCTION_SURNAMES
        if i not in starts and is_cjk(i - 1):
            return False
        end, flag = word_at.get(i, (name_end, "nr"))
        if end == i + len(surname):
            # the surname stands alone (何 is also 'what', so its tag says little)
            return not (surname in _FUNCTION_SURNAMES and flag.startswith(("r", "p", "c", "u", "d", "m", "q")))
        if end <= name_end:
            return flag.startswith("nr")
        return end == match_end and flag.startswith("nr") and folded[i:end] not in CN_NOT_NAMES

    for m in TITLED.finditer(folded):
        surname, given, title = m.group(1), m.group(2), m.group(3)
        start, name_end, end = m.start(1), m.end(2), m.end(3)
        if not name_starts_word(start, name_end, end, surname) or _blocked(folded, start, name_end):
            continue
        if title in ("生", "太", "工", "总", "姐", "哥", "叔", "伯", "姨", "姑", "婶", "嫂", "妹", "仔") and given:
            continue  # 王小姐 is a title; 王明生 is a name, found by the segmenter
        if (
            title in ("生", "太", "工", "总", "仔", "妹", "嫂")
            and is_cjk(end)
            and starts is not None
            and end not in starts
        ):
            continue  # 林生活 is not Mr Lam
        yield mk(start, end, "person", _TITLES[title], "title")
    for m in OLD_YOUNG.finditer(folded):
        if _blocked(folded, m.start(), m.end()):
            continue
        if starts is not None and is_cjk(m.end()) and m.end() not in starts:
            continue  # 小时候, 老实人: the word goes on
        if starts is not None and m.start() not in starts and is_cjk(m.start() - 1):
            continue
        yield mk(m.start(), m.end(), "person", "person", "form_of_address")
    for m in AH.finditer(folded):
        if _blocked(folded, m.start(), m.end()) or folded[m.start() : m.start() + 2] in CN_NOT_NAMES:
            continue
        if starts is not None and is_cjk(m.end()) and m.end() not in starts:
            continue
        yield mk(m.start(), m.end(), "person", "person", "form_of_address")
    for m in CALLED.finditer(folded):
        if not _blocked(folded, m.start(1), m.end(1)):
            yield mk(m.start(1), m.end(1), "person", "person", "called")
    for m in LATIN_NAME.finditer(folded):
        if m.group(0) not in NOT_NAMES and m.group(0).split()[0] not in NOT_NAMES:
            yield mk(m.start(), m.end(), "person", "person", "latin_name")
    for m in re.finditer(r"(?=([\u4e00-\u9fff0-9A-Za-z]{1,10}?)(" + _ORG_WORDS + "))", folded):
        stem_start, stem = m.start(1), m.group(1)
        if tokens is not None:
            # walk back from the suffix over the words a name is made of; stop at a verb,
            # pronoun, preposition … (去医院, 在回龙观医院, 时候才读小学)
            stem_start = m.start(2)
            inside = tokens[bisect_right(token_ends, m.start(1)) : bisect_left(token_starts, m.start(2))]
            for k, (a, b, f) in enumerate(reversed(inside)):
                if a < m.start(1):
                    break
                allowed = not f.startswith(_NOT_IN_NAMES) or (k == 0 and b - a >= 2 and f.startswith(("v", "d")))
                if not allowed:
                    break
                stem_start = a
            stem = folded[stem_start : m.start(2)]
        else:
            lead = _LEADING.match(stem)
            if lead:
                stem_start += lead.end()
                stem = stem[lead.end() :]
        suffix = m.group(2)
        long_suffix = len(suffix) >= 4
        if (
            (len(stem) < 2 and not (long_suffix and stem))
            or (stem in _GENERIC_STEMS and not long_suffix)
            or stem in CN_COUNTRIES
            or any(ch in _FUNCTION_CHARS for ch in stem)
        ):
            continue
        if len(suffix) == 1 and (starts is None or m.start(2) not in starts):
            continue  # 院, 堂 alone: only where the segmenter also sees a word end there
        yield mk(stem_start, m.end(2), "organisation", _ORG_SUFFIX[suffix], "institution")
    for m in WARD.finditer(folded):
        yield mk(m.start(), m.end(), "organisation", "ward", "ward")
    for m in ADDRESS.finditer(folded):
        start = m.start()
        lead = _LEADING.match(folded, start, m.end())
        if lead and lead.end() < m.end() - 3:
            start = lead.end()
        yield mk(start, m.end(), "address", "address", "address", weak=False)
    for pattern, kind, role, rule in (
        (ROAD_ONLY, "place", "place", "road"),
        (PLACE_SUFFIX, "place", "district", "district"),
    ):
        for m in pattern.finditer(folded):
            start = m.start()
            lead = _LEADING.match(folded, start, m.end())
            if lead:
                start = lead.end()
            name = folded[start : m.end()]
            if (
                len(name) >= 3
                and (starts is None or start in starts)
                and name[:-1] not in _GENERIC_STEMS
                and name not in CN_COUNTRIES
                and not any(ch in _FUNCTION_CHARS for ch in name)
                and not _blocked(folded, start, m.end())
            ):
                yield mk(start, m.end(), kind, role, rule)
    for m in PLACES.finditer(folded):
        if starts is None or m.start() in starts or not is_cjk(m.start() - 1):
            yield mk(m.start(), m.end(), "place", "district", "gazetteer")
    for m in POSTCODE.finditer(folded):
        yield mk(m.start(), m.end(), "address", "address", "postcode", weak=False)
    for m in AGE.finditer(folded):
        yield mk(m.start(), m.end(), "age", "age", "age", weak=False)
    for m in AGE_CUE.finditer(folded):
        yield mk(m.start(1), m.end(1), "age", "age", "age")
