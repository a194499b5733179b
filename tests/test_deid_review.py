"""Reviewing suggestions in a vault: one decision per distinct string, decisions that hold
for the whole study, numbered descriptors that keep two people two people, identifiers
typed in without a descriptor, the study file as a source of identifiers, and field notes
scrubbed before export."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fieldscribe.core.deid.descriptors import base_of
from fieldscribe.core.deid.lists import (
    add_participant_identifiers,
    added_study_identifiers,
    replacement_table,
    study_identifiers,
)
from fieldscribe.core.deid.review import (
    ACCEPTED,
    REJECTED,
    SUGGESTED,
    decide,
    deidentified_segments,
    mark_reviewed,
    suggestions,
)
from fieldscribe.core.guides import import_guide
from fieldscribe.core.study import StudyFile, parse_study
from fieldscribe.core.transcripts import current_transcript, load_segments
from fieldscribe.core.vault import Vault

from .conftest import FAST_KDF, PASSPHRASE, STUDY_EN
from .test_deidentify import transcript_session


def by_original(items, original: str):
    return [s for s in items if s.original == original]


def listing(items) -> str:
    return (
        "\n".join(
            f"  {s.n}. seg {s.segment} {s.original!r} {s.kind} {s.descriptor} {s.status} ({s.source})" for s in items
        )
        or "  nothing"
    )


def review_all(vault, sid) -> list[str]:
    """Accept everything still suggested, mark reviewed, return the export-ready texts."""
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    return [s.text for s in deidentified_segments(vault, sid)]


# -- one group per distinct string ---------------------------------------------------------------------------
def test_every_occurrence_of_a_name_is_one_group_and_one_decision(vault, study_en):
    lines = [
        "My friend Gloria Pemberton drove me to the hospital.",
        "I don't know what I'd do without Gloria Pemberton, honestly.",
        "You can ring me on 07700 900461.",
        "Gloria Pemberton is a star, she really is.",
    ]
    _pid, sid = transcript_session(vault, study_en.study, "Ann Lee", lines)
    items = suggestions(vault, sid)
    gloria = by_original(items, "Gloria Pemberton")
    assert sorted(s.segment for s in gloria) == [0, 1, 3], listing(items)
    assert len({s.n for s in gloria}) == 1 and len({s.descriptor for s in gloria}) == 1, listing(items)
    n = gloria[0].n
    others = sorted({s.n for s in items if s.n != n})
    assert others, listing(items)  # the phone number is a group of its own

    after = decide(vault, sid, accept=[n])
    assert [s.status for s in by_original(after, "Gloria Pemberton")] == [ACCEPTED] * 3, listing(after)
    assert all(s.status == SUGGESTED for s in after if s.n != n), listing(after)

    decide(vault, sid, reject=others)
    mark_reviewed(vault, sid)
    out = [s.text for s in deidentified_segments(vault, sid)]
    joined = "\n".join(out)
    assert "Gloria" not in joined and "Pemberton" not in joined, joined
    descriptor = gloria[0].descriptor
    assert out[0] == f"My friend {descriptor} drove me to the hospital."
    assert out[1] == f"I don't know what I'd do without {descriptor}, honestly."
    assert out[2] == "You can ring me on 07700 900461."  # rejected: left as it was said
    assert out[3] == f"{descriptor} is a star, she really is."


# -- decisions hold for the whole study ----------------------------------------------------------------------
def test_accepting_and_rejecting_hold_in_every_other_transcript(vault, study_en):
    _p1, first = transcript_session(
        vault,
        study_en.study,
        "Ann Lee",
        ["My friend Gloria Pemberton drove me there.", "We used to meet on Elm Crescent, it's a long road."],
    )
    items = suggestions(vault, first)
    gloria = by_original(items, "Gloria Pemberton")
    street = by_original(items, "Elm Crescent")
    assert gloria and street, listing(items)
    decide(vault, first, accept=[gloria[0].n], reject=[street[0].n])  # a street that long identifies nobody

    _p2, second = transcript_session(
        vault, study_en.study, "Bob Chan", ["Gloria Pemberton rang me yesterday.", "I walked down Elm Crescent again."]
    )
    later = suggestions(vault, second)
    g2, s2 = by_original(later, "Gloria Pemberton"), by_original(later, "Elm Crescent")
    assert [(s.status, s.descriptor) for s in g2] == [(ACCEPTED, gloria[0].descriptor)], listing(later)
    assert [s.status for s in s2] == [REJECTED], listing(later)
    out = review_all(vault, second)
    assert out == [f"{gloria[0].descriptor} rang me yesterday.", "I walked down Elm Crescent again."]


# -- numbered descriptors ------------------------------------------------------------------------------------
def test_two_people_get_two_numbered_descriptors_and_a_first_name_follows_its_full_name(vault, study_en):
    lines = [
        "My friend Gloria Pemberton drove me to the hospital.",
        "And my friend Sandra Okonkwo came to visit.",
        "Marcus Reid was there as well.",
        "Gloria always calls on Sundays.",
    ]
    _pid, sid = transcript_session(vault, study_en.study, "Ann Lee", lines)
    items = suggestions(vault, sid)
    d = {s.original: s.descriptor for s in items}
    assert {"Gloria Pemberton", "Sandra Okonkwo", "Marcus Reid", "Gloria"} <= set(d), listing(items)
    # two friends stay two friends, and a third person is a third
    assert d["Gloria Pemberton"] != d["Sandra Okonkwo"], listing(items)
    assert base_of(d["Gloria Pemberton"]) == base_of(d["Sandra Okonkwo"]) == "[friend]", listing(items)
    assert base_of(d["Marcus Reid"]) in ("[person]", "[name]"), listing(items)
    assert len({d["Gloria Pemberton"], d["Sandra Okonkwo"], d["Marcus Reid"]}) == 3
    # the bare first name later in the transcript is the same person
    assert d["Gloria"] == d["Gloria Pemberton"], listing(items)
    out = review_all(vault, sid)
    assert out[3] == f"{d['Gloria Pemberton']} always calls on Sundays."


def test_a_first_name_in_a_later_transcript_takes_the_accepted_full_names_descriptor(vault, study_en):
    _p1, first = transcript_session(
        vault,
        study_en.study,
        "Ann Lee",
        ["My friend Gloria Pemberton drove me to the hospital.", "And my friend Sandra Okonkwo came to visit."],
    )
    decide(vault, first, accept_all=True)
    table = replacement_table(vault)
    assert "Gloria" not in table  # only the full name was ever accepted
    _p2, second = transcript_session(
        vault, study_en.study, "Bob Chan", ["Gloria came round again.", "My friend Nkechi Adeyemi came too."]
    )
    later = suggestions(vault, second)
    assert [s.descriptor for s in by_original(later, "Gloria")] == [table["Gloria Pemberton"]], listing(later)
    # numbering goes on across the study: a new friend is not friend 1 or 2 again
    new = by_original(later, "Nkechi Adeyemi")
    assert len(new) == 1 and base_of(new[0].descriptor) == "[friend]", listing(later)
    assert new[0].descriptor not in (table["Gloria Pemberton"], table["Sandra Okonkwo"]), listing(later)


@pytest.mark.xfail(
    strict=True,
    reason="review._number_descriptors links a bare first name to an accepted full "
    "name only when the span's kind is person; spaCy tags 'Sandra' in 'Sandra "
    "said hello.' as ORG, so the group (and its person-tagged occurrences in "
    "the same transcript) reads [organisation 1] instead of the friend's "
    "accepted descriptor",
)
def test_a_first_name_follows_its_full_name_even_when_the_model_calls_it_an_organisation(vault, study_en):
    _p1, first = transcript_session(vault, study_en.study, "Ann Lee", ["And my friend Sandra Okonkwo came to visit."])
    decide(vault, first, accept_all=True)
    friend = replacement_table(vault)["Sandra Okonkwo"]
    _p2, second = transcript_session(
        vault, study_en.study, "Bob Chan", ["Sandra said hello.", "I told Sandra about it."]
    )
    later = suggestions(vault, second)
    assert [s.descriptor for s in by_original(later, "Sandra")] == [friend, friend], listing(later)


@pytest.mark.xfail(
    strict=True,
    reason="ner._unknown_words returns each capitalised unknown word as its own "
    "span: 'Tunde Bakare' (not tagged by spaCy) becomes two groups, "
    "[name 1] and [name 2], so one person reads as two in the export",
)
def test_one_full_name_is_one_group_and_one_descriptor(vault, study_en):
    _pid, sid = transcript_session(vault, study_en.study, "Ann Lee", ["Tunde Bakare came too, he was lovely."])
    items = suggestions(vault, sid)
    assert [s.original for s in items] == ["Tunde Bakare"], listing(items)


# -- identifiers typed in without a descriptor ---------------------------------------------------------------
def test_a_name_typed_in_without_a_descriptor_is_not_the_participant(vault, study_en):
    pid, sid = transcript_session(
        vault,
        study_en.study,
        "Ann Lee",
        ["My friend Peter Walsh taught me the guitar.", "Ann, you have to practise, he always said."],
    )
    [peter] = add_participant_identifiers(vault, pid, ["Peter Walsh"])
    assert peter.descriptor != f"[{pid}]" and pid not in peter.descriptor, peter
    assert base_of(peter.descriptor) in ("[person]", "[name]", "[friend]"), peter
    # the participant's own given name, typed in the same way, is the participant
    [own] = add_participant_identifiers(vault, pid, ["Ann"])
    assert own.descriptor == f"[{pid}]", own
    out = review_all(vault, sid)
    assert "Peter" not in out[0] and "Walsh" not in out[0], out
    assert pid not in out[0], out  # "My friend [P1] taught me" would say something false about her
    assert out[0].startswith("My friend [") and out[0].endswith("] taught me the guitar."), out
    assert out[1] == f"[{pid}], you have to practise, he always said.", out


# -- the study file names identifiers too --------------------------------------------------------------------
SITES_IN_EXAMPLE = '''  sites:
    - id: harbour_view
      name: "Harbour View Day Centre"
    - id: riverside
      name: "Riverside Day Centre"
    - id: hillside
      name: "Hillside Day Centre"
'''
OUR_SITE = '''  sites:
    - id: harbour_view
      name: "Harbour View Day Centre"
      short_names: ["the View"]
'''
STAFF = '''
deidentification:
  identifiers:
    - "Dr Helen Marsh=consultant psychiatrist"
'''


def study_with_site_and_staff() -> StudyFile:
    text = STUDY_EN.read_text(encoding="utf-8")
    assert SITES_IN_EXAMPLE in text and "deidentification:" not in text
    return parse_study(text.replace(SITES_IN_EXAMPLE, OUR_SITE) + STAFF, source="variant")


@pytest.fixture
def site_vault(tmp_path) -> Iterator[tuple[Vault, StudyFile]]:
    """A vault that knows only the variant study file: its site and staff were typed in nowhere else."""
    study = study_with_site_and_staff()
    v, _recovery = Vault.create(tmp_path / "site-vault", PASSPHRASE, kdf=FAST_KDF)
    import_guide(v, study)
    yield v, study
    v.close()


def test_sites_short_names_and_staff_from_the_study_file_are_suggested(site_vault):
    vault, study = site_vault
    assert study.study.identifiers() == [
        ("Harbour View Day Centre", "study site"),
        ("the View", "study site"),
        ("Harbour View", "study site"),
        ("Dr Helen Marsh", "consultant psychiatrist"),
    ]
    lines = [
        "I started going to Harbour View in 2019.",
        "Harbour View Day Centre is where I met everyone.",
        "Dr Helen Marsh changed my tablets.",
        "We all just call it the View.",
    ]
    _pid, sid = transcript_session(vault, study.study, "Ann Lee", lines)
    assert added_study_identifiers(vault) == [] and replacement_table(vault) == {}  # nothing typed in
    assert {i.text for i in study_identifiers(vault)} == {
        "Harbour View Day Centre",
        "the View",
        "Harbour View",
        "Dr Helen Marsh",
    }
    items = suggestions(vault, sid)
    d = {s.original: s.descriptor for s in items}
    assert d.get("Harbour View") == "[study site]", listing(items)
    assert d.get("Harbour View Day Centre") == "[study site]", listing(items)
    assert d.get("the View") == "[study site]", listing(items)
    assert d.get("Dr Helen Marsh") == "[consultant psychiatrist]", listing(items)
    out = review_all(vault, sid)
    assert out == [
        "I started going to [study site] in 2019.",  # a year alone is not a date
        "[study site] is where I met everyone.",
        "[consultant psychiatrist] changed my tablets.",
        "We all just call it [study site].",
    ], out


@pytest.mark.xfail(
    strict=True,
    reason="a staff member listed as 'Dr Helen Marsh=consultant psychiatrist' is "
    "matched only with the title: 'Helen Marsh' alone is found by spaCy and "
    "numbered [person 1], so one person gets two descriptors (Study.identifiers "
    "/ review._number_descriptors do not link the name without its title)",
)
def test_a_listed_staff_members_name_without_the_title_takes_the_listed_descriptor(site_vault):
    vault, study = site_vault
    _pid, sid = transcript_session(vault, study.study, "Ann Lee", ["Helen Marsh was my consultant, she was lovely."])
    items = suggestions(vault, sid)
    assert [s.descriptor for s in by_original(items, "Helen Marsh")] == ["[consultant psychiatrist]"], listing(items)


@pytest.mark.xfail(
    strict=True,
    reason="detect._list_pattern matches an identifier that starts in lower case "
    "ignoring case, so the short name 'the View' also takes 'the view' in "
    "'I enjoy the view from my window' — in the same group as the site, so "
    "accepting the site redacts the ordinary phrase too",
)
def test_a_short_name_with_a_capital_does_not_take_the_ordinary_phrase(site_vault):
    vault, study = site_vault
    _pid, sid = transcript_session(
        vault, study.study, "Ann Lee", ["We all just call it the View.", "I enjoy the view from my window."]
    )
    items = suggestions(vault, sid)
    assert [s.segment for s in items if s.original.casefold() == "the view"] == [0], listing(items)


# -- field notes ---------------------------------------------------------------------------------------------
def test_field_notes_are_scrubbed_with_every_layer_before_export(vault, study_en):
    notes = [
        ("note", 1.0, {"text": "talked about Gloria Pemberton at Whittington Hospital"}),
        ("flag", 6.0, {"text": "gave her number 07700 900461 and cried"}),
        ("note", 7.0, {"text": "misses Harbour View"}),
    ]
    _pid, sid = transcript_session(
        vault,
        study_en.study,
        "Ann Lee",
        ["I had a good week, really.", "We went for a walk by the river."],
        events=notes,
    )
    # the notes were attached to the segments (the check below is not vacuous)
    stored = [n["text"] for seg in load_segments(vault, current_transcript(vault, sid)) for n in seg.notes]
    assert stored == [e[2]["text"] for e in notes]
    # none of it was said, so none of it is in the table or the suggestions
    assert not any("Gloria" in s.original or "Whittington" in s.original for s in suggestions(vault, sid))
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    out = [n["text"] for seg in deidentified_segments(vault, sid) for n in seg.notes]
    joined = "\n".join(out)
    for secret in ("Gloria", "Pemberton", "Whittington", "07700", "900461", "Harbour View"):
        assert secret not in joined, (secret, out)
    assert out[0].startswith("talked about [") and "] at [" in out[0], out  # a model and a rule
    assert out[1] == "gave her number [phone number] and cried", out  # a rule
    assert out[2] == "misses [study site]", out  # the study file's list
