"""The words that replace an identifier: neutral, by kind, in the transcript's language.

Analysts need to know *what* was removed ("[doctor] changed my tablets", "[医院]") to code
the passage, but nothing that points back at the person. A descriptor is chosen here from
the role a rule or model saw (a title, a relation, an institution's suffix) and is written
in English for English text and in Chinese for Chinese text.
"""

from __future__ import annotations

# role → (English, Chinese)
ROLES: dict[str, tuple[str, str]] = {
    "person": ("person", "某人"),
    "name": ("name", "名字"),
    "doctor": ("doctor", "医生"),
    "nurse": ("nurse", "护士"),
    "staff": ("staff member", "工作人员"),
    "social worker": ("social worker", "社工"),
    "teacher": ("teacher", "老师"),
    "faith leader": ("faith leader", "宗教人士"),
    "relative": ("relative", "亲属"),
    "friend": ("friend", "朋友"),
    "place": ("place", "地点"),
    "district": ("district", "地区"),
    "organisation": ("organisation", "机构"),
    "hospital": ("hospital", "医院"),
    "clinic": ("clinic", "诊所"),
    "ward": ("ward", "病区"),
    "school": ("school", "学校"),
    "university": ("university", "大学"),
    "centre": ("centre", "中心"),
    "community office": ("community office", "居委会"),
    "workplace": ("workplace", "单位"),
    "shop": ("shop", "商店"),
    "place of worship": ("place of worship", "宗教场所"),
    "address": ("address", "地址"),
    "phone": ("phone number", "电话号码"),
    "id_number": ("ID number", "证件号码"),
    "email": ("email address", "电子邮箱"),
    "handle": ("social media handle", "社交账号"),
    "url": ("website", "网址"),
    "date": ("date", "日期"),
    "age": ("age", "年龄"),
}


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def language_of(text: str) -> str:
    """'zh' when the text is written in Chinese characters at all, else 'en'."""
    return "zh" if has_cjk(text) else "en"


def descriptor(role: str, lang: str) -> str:
    """'[hospital]' or '[医院]'; an unknown role is used as written (a relation such as 'sister')."""
    en, zh = ROLES.get(role, (role, role))
    return f"[{zh if lang == 'zh' else en}]"


def base_of(descriptor_text: str) -> str:
    """'[person 3]' → '[person]'; '[某人2]' → '[某人]'."""
    inner = descriptor_text.strip("[]").rstrip("0123456789").rstrip()
    return f"[{inner}]"


def numbered(descriptor_text: str, n: int) -> str:
    inner = descriptor_text.strip("[]")
    return f"[{inner}{n}]" if has_cjk(inner) else f"[{inner} {n}]"
