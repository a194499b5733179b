"""Whisper mixes Traditional and Simplified characters in Mandarin output; studies in
mainland settings need Simplified throughout, so zh text is normalised with OpenCC (t2s)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

ZH_PROMPT = "以下是普通话访谈的录音，使用简体中文和标点符号。"


@lru_cache(maxsize=1)
def _converter() -> Any:  # opencc is untyped
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_converter().convert(text)) if text else text
