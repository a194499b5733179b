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
    "unlock.hint": (
        "Enter to unlock · Ctrl+R recovery key · Ctrl+Q quit",
        "回车解锁 · Ctrl+R 使用恢复密钥 · Ctrl+Q 退出",
    ),
    "unlock.working": ("Unlocking…", "正在解锁…"),
    "home.participants": ("Participants", "参与者"),
    "home.sites": ("Sites", "研究地点"),
    "home.sessions": ("Sessions", "访谈"),
    "home.attention": ("Needs attention", "待处理"),
    "home.nothing": ("Nothing needs attention.", "没有待处理事项。"),
    "state.ready": ("READY — press R to record", "就绪 — 按 R 开始录音"),
    "state.starting": ("… STARTING THE MICROPHONE", "… 正在启动麦克风"),
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

# footer and help labels of the key bindings
_KEYS_ZH = {
    "Record": "录音",
    "Next Q": "下一题",
    "Prev Q": "上一题",
    "Note": "备注",
    "Flag": "标记敏感",
    "Pause/resume": "暂停/继续",
    "Speaker": "发言人",
    "Stop": "停止",
    "Back": "返回",
    "Enrol": "登记",
    "New interview": "新访谈",
    "Interview": "访谈",
    "Transcribe": "转写",
    "Review": "审阅",
    "Help": "帮助",
    "Lock": "锁定",
    "Quit": "退出",
    "Play": "播放",
    "Edit": "编辑",
    "Accept": "接受",
    "Reject": "拒绝",
    "Redact words": "遮蔽词语",
    "Accept all": "全部接受",
    "Reviewed": "完成审阅",
    "Next step": "下一步",
    "Cancel": "取消",
    "Agrees": "同意",
    "Does not agree": "不同意",
    "Recovery key": "恢复密钥",
    "Yes": "是",
    "No": "否",
    "Close": "关闭",
    "Live on/off": "实时转写开关",
    "Cancel work": "暂停任务",
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


def key_label(description: str) -> str:
    return _KEYS_ZH.get(description, description) if _language == "zh" else description
