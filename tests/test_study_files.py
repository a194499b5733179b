"""Study files: the bundled example is complete in both languages, and a broken file gets
every problem reported with its line."""

from __future__ import annotations

import pytest

from fieldscribe.core.errors import GuideInvalid, InvalidAnswer
from fieldscribe.core.study import load_study, parse_study

from .conftest import STUDY_EN, STUDY_ZH

DOMAINS = ["peers", "mutual_help", "socialisation", "help_seeking", "daily_life"]


@pytest.mark.parametrize("path", [STUDY_EN, STUDY_ZH], ids=["en", "zh"])
def test_bundled_study_matches_the_protocol(path):
    study = load_study(path).study
    assert [d.id for d in study.guide.domains] == DOMAINS
    questions = study.questions("service_user")
    assert len(questions) == 7
    assert all(len(q.probes) >= 2 for _, q in questions)
    inclusion = {c.id for c in study.eligibility.inclusion}
    assert len(inclusion) == 4 and len(study.eligibility.exclusion) == 2
    assert [c.id for c in study.consent] == ["participation", "audio_recording", "quotes", "withdrawal"]
    assert study.audio_consent_item.id == "audio_recording"
    assert {f.id for f in study.questionnaire} >= {
        "age",
        "gender",
        "marital_status",
        "living_arrangement",
        "diagnosis",
        "years_attending",
    }


def test_english_and_chinese_files_share_every_code():
    en, zh = load_study(STUDY_EN).study, load_study(STUDY_ZH).study
    assert en.study.id == zh.study.id
    assert (en.study.language, zh.study.language) == ("en", "zh")

    def codes(s):
        return (
            [g.id for g in s.groups],
            [(d.id, [q.id for q in d.questions]) for d in s.guide.domains],
            [c.id for c in s.consent],
            [(f.id, f.type, sorted(getattr(f, "choices", {}) or {})) for f in s.questionnaire],
        )

    assert codes(en) == codes(zh)
    # the Chinese file is in Chinese
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in q.text) for _, q in zh.questions())


def test_per_group_variants_change_the_wording():
    study = load_study(STUDY_EN).study
    varied = [q for _, q in study.questions() if q.variants]
    assert varied, "the example should show a per-group variant"
    q = varied[0]
    group = next(iter(q.variants))
    assert q.text_for(group) != q.text_for("service_user")


BROKEN = """\
format: fieldscribe-study/1
study:
  id: Bad Id
  title: Broken
  ethics_reference: X
  language: fr
groups:
  - id: users
    label: Users
eligibility:
  inclusion: []
consent:
  - id: participation
    text: Take part
  - id: participation
    text: Again
questionnaire:
  - id: age
    label: Age
    type: number
    min: 65
    max: 18
  - id: mood
    label: Mood
    type: slider
guide:
  domains:
    - id: d1
      title: Domain
      questions:
        - id: q1
          text: Question
          groups: [carers]
          colour: blue
"""


def test_every_problem_is_reported_with_its_line():
    with pytest.raises(GuideInvalid) as err:
        parse_study(BROKEN, source="broken.yaml")
    problems = err.value.problems
    text = "\n".join(problems)
    expected = [
        ("line 3", "study.id"),  # pattern
        ("line 6", "study.language"),  # fr
        ("line 11", "eligibility.inclusion"),  # empty
        ("line 15", "duplicate consent item id"),
        ("line 18", "questionnaire[0]"),  # min > max
        ("line 23", "questionnaire[1]"),  # unknown type
        ("line 33", "unknown group 'carers'"),
        ("line 34", "colour"),
        ("line 12", "audio_recording"),  # no audio consent item
    ]
    for line, fragment in expected:
        assert any(p.startswith(line + ":") and fragment in p for p in problems), (line, fragment, text)
    # sorted by line so the author can work top to bottom
    lines = [int(p.split(":")[0].split()[1]) for p in problems]
    assert lines == sorted(lines)


def test_yaml_syntax_errors_and_duplicate_keys_have_lines():
    with pytest.raises(GuideInvalid) as err:
        parse_study("format: fieldscribe-study/1\nstudy: [unclosed\n")
    assert err.value.problems[0].startswith("line ")
    with pytest.raises(GuideInvalid) as err:
        parse_study(STUDY_EN.read_text(encoding="utf-8") + "\nformat: fieldscribe-study/1\n")
    assert any("duplicate key 'format'" in p for p in err.value.problems)


def test_wrong_format_and_empty_file():
    with pytest.raises(GuideInvalid, match="fieldscribe-study/1"):
        parse_study("format: something-else/9\n")
    with pytest.raises(GuideInvalid, match="empty"):
        parse_study("")


def test_non_utf8_and_missing_files(tmp_path):
    bad = tmp_path / "gbk.yaml"
    bad.write_bytes("format: fieldscribe-study/1\ntitle: 同伴支持\n".encode("gbk"))
    with pytest.raises(GuideInvalid, match="line 2: the file is not UTF-8"):
        load_study(bad)
    with pytest.raises(GuideInvalid, match="does not exist"):
        load_study(tmp_path / "nope.yaml")


def test_frozen_by_content_hash():
    a = load_study(STUDY_EN)
    b = parse_study(STUDY_EN.read_text(encoding="utf-8") + "\n# a comment changes the version\n")
    assert a.sha256 != b.sha256 and len(a.version) == 12


@pytest.mark.parametrize(
    "field,raw,expected",
    [("age", "34", 34), ("age", " 65 ", 65), ("gender", "female", "female"), ("gender", "Female", "female")],
)
def test_answers_are_typed(field, raw, expected):
    assert load_study(STUDY_EN).study.parse_answer(field, raw) == expected


@pytest.mark.parametrize(
    "field,raw,fragment",
    [
        ("age", "17", "outside the allowed range"),
        ("age", "thirty", "not a number"),
        ("age", "34.5", "whole number"),
        ("gender", "robot", "not one of the choices"),
        ("shoe_size", "42", "no field"),
    ],
)
def test_bad_answers_say_what_is_wrong(field, raw, fragment):
    with pytest.raises(InvalidAnswer, match=fragment):
        load_study(STUDY_EN).study.parse_answer(field, raw)


def test_chinese_labels_are_accepted_for_choices():
    zh = load_study(STUDY_ZH).study
    gender = zh.field("gender")
    code, label = next(iter(gender.choices.items()))
    assert zh.parse_answer("gender", label) == code
