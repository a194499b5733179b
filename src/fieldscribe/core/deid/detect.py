"""Finding identifiers in English and Chinese transcript text, in three layers.

1. Lists: what a person typed in — the participant's own identifiers, the study's (sites
   and their short forms, staff and places from the study file) and every original the
   study's replacement table already holds. Exact, so they win every overlap.
2. Rules: formats with check digits (identity and health numbers), phone numbers however
   Whisper writes them, contact details, dates, ages, addresses, institutions by suffix, and
   names after titles, relations and Chinese forms of address (`rules_*`).
3. Models: offline NER (`ner`), spaCy for English and jieba for Chinese.

Every span says which layer found it, so a reviewer can trust an exact list match and look
twice at a model's guess. Full-width digits and letters are folded to ASCII for matching,
one character for one, so every span points at the original text.
"""

from __future__ import annotations

import re

from . import ner, rules_common, rules_en, rules_zh
from .descriptors import has_cjk, language_of
from .spans import LIST, Identifier, Span

__all__ = ["Identifier", "Span", "apply", "detect", "find_listed", "fold", "prepare"]

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


def fold(text: str) -> str:
    """Full-width ASCII forms to ASCII, keeping every offset."""
    return text.translate(_FULLWIDTH)


def _list_pattern(ident: str) -> re.Pattern[str]:
    """Chinese identifiers match anywhere; Latin ones only as whole words, and only with
    the capitalisation given when they start with a capital (so the name 'Hope' does not
    take every 'hope'), tolerant of any whitespace inside multi-word names."""
    body = r"\s+".join(re.escape(fold(part)) for part in ident.split())
    if has_cjk(ident):
        return re.compile(body)
    flags = 0 if ident[:1].isupper() else re.IGNORECASE
    return re.compile(r"(?<![\w'’-])" + body + r"(?![\w-])", flags)


def find_listed(text: str, identifiers: list[Identifier], folded: str | None = None) -> list[Span]:
    """The list layer alone: every occurrence of the given identifiers, overlaps kept."""
    folded = fold(text) if folded is None else folded
    found = []
    for ident in identifiers:
        if not ident.text.strip():
            continue
        for m in _list_pattern(ident.text.strip()).finditer(folded):
            found.append(Span(m.start(), m.end(), text[m.start() : m.end()], ident.kind, ident.descriptor, LIST))
    return found


def _priority(span: Span) -> int:
    """Lower wins an overlap: lists, then format rules, then name rules, then models, and
    last the weakest cue ('in Peckham' may as well be 'in Mark's kitchen')."""
    if span.layer == LIST:
        return 0
    if span.source in ("rule:place_cue", "ner:lexicon"):
        return 4
    if span.layer == "ner":
        return 3
    return 2 if span.weak else 1


def prepare(texts: list[str]) -> None:
    """Run the models over many texts in one batch (a transcript), so each later
    `detect` call finds its result cached."""
    english = [t for t in texts if not has_cjk(t)]
    if english:
        ner.english(english)
    for t in texts:
        if has_cjk(t):
            ner.chinese(fold(t))


def detect(text: str, identifiers: list[Identifier], *, use_ner: bool = True) -> list[Span]:
    """Every identifier found, lists first, then the longer of two overlapping finds."""
    folded = fold(text)
    found = find_listed(text, identifiers, folded)
    lang = language_of(text)
    found += rules_common.find(text, folded, lang)
    found += rules_en.find(text, folded)
    if lang == "zh":
        analysis = ner.chinese(folded) if use_ner else None
        found += rules_zh.find(text, folded, analysis.tokens if analysis else None)
        if analysis:
            found += [
                Span(s.start, s.end, text[s.start : s.end], s.kind, s.descriptor, s.source, s.weak)
                for s in analysis.spans
            ]
    elif use_ner:
        found += ner.english([text])[0]
    return _resolve_overlaps(text, found)


def _resolve_overlaps(text: str, spans: list[Span]) -> list[Span]:
    """Keep the stronger layer, then the longer span; a weaker span that reaches past a
    kept one stretches it (nothing found by any layer is left half-replaced)."""
    ranked = sorted(spans, key=lambda s: (_priority(s), -(s.end - s.start), s.start))
    kept: list[Span] = []
    for s in ranked:
        overlapping = [k for k in kept if s.start < k.end and k.start < s.end]
        if not overlapping:
            kept.append(s)
            continue
        if len(overlapping) == 1:
            k = overlapping[0]
            if s.start < k.start or s.end > k.end:
                start, end = min(s.start, k.start), max(s.end, k.end)
                if all(not (start < o.end and o.start < end) for o in kept if o is not k):
                    kept[kept.index(k)] = Span(start, end, text[start:end], k.kind, k.descriptor, k.source, k.weak)
    return sorted(kept, key=lambda s: s.start)


def apply(text: str, spans: list[Span], descriptors: dict[str, str] | None = None) -> str:
    """Replace spans (non-overlapping, any order) with their descriptors, right to left."""
    out = text
    for s in sorted(spans, key=lambda s: s.start, reverse=True):
        replacement = (descriptors or {}).get(s.text, s.descriptor)
        out = out[: s.start] + replacement + out[s.end :]
    return out
