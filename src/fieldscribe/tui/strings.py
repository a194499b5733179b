"""The words on the screens, in English and Simplified Chinese.

The language follows the study (``study.language``) once the vault is unlocked, or the
``FIELDSCRIBE_UI_LANGUAGE`` setting; keys fall back to English so a missing translation is
never a crash.
"""

from __future__ import annotations

import os

_TEXT: dict[str, tuple[str, str]] = {
    "unlock.title": ("Unlock the study vault", "解锁研究数据库"),
    "unlock.prompt": ("Passphrase", "密码"),
    "unlock.recovery": ("Recovery key", "恢复密钥"),
    "unlock.hint": ("Enter to unlock · Ctrl+R recovery key · Ctrl+Q quit",
                    "回车解锁 · Ctrl+R 使用恢复密钥 · Ctrl+Q 退出"),
    "unlock.working": ("Unlocking…", "正在解锁…"),
    "home.participants": ("Participants", "参与者"),
    "home.sessions": ("Sessions", "访谈"),
    "home.attention": ("Needs attention", "待处理"),
    "home.nothing": ("Nothing needs attention.", "没有待处理事项。"),
    "state.ready": ("READY — press R to record", "就绪 — 按 R 开始录音"),
    "state.recording": ("● RECORDING", "● 正在录音"),
    "state.paused": ("❚❚ PAUSED", "❚❚ 已暂停"),
    "state.stopped": ("■ STOPPED", "■ 已停止"),
    "state.finishing": ("■ FINISHING TRANSCRIPT…", "■ 正在完成转写…"),
    "interview.next": ("Next", "下一题"),
    "interview.last": ("Last question of the guide", "访谈提纲最后一题"),
    "interview.probes": ("Probes", "追问"),
    "interview.live": ("Live transcript", "实时转写"),
    "interview.notes": ("Notes and flags", "备注与标记"),
    "interview.elapsed": ("elapsed", "已用时"),
    "interview.recorded": ("recorded", "已录"),
    "review.title": ("Transcript review", "转写审阅"),
    "review.suggestions": ("Redaction suggestions", "去标识建议"),
    "enrol.eligibility": ("Eligibility", "资格筛查"),
    "enrol.consent": ("Consent — read each item aloud", "知情同意 — 逐条宣读"),
    "enrol.audio": ("Audio recording (asked separately)", "录音同意（单独询问）"),
    "enrol.questionnaire": ("Baseline questionnaire", "基线问卷"),
}

_language = os.environ.get("FIELDSCRIBE_UI_LANGUAGE", "en")


def set_language(language: str) -> None:
    global _language
    _language = "zh" if language.lower().startswith("zh") else "en"


def language() -> str:
    return _language


def tr(key: str) -> str:
    en, zh = _TEXT.get(key, (key, key))
    return zh if _language == "zh" else en
