"""De-identification of realistic English and Chinese transcripts: every identifier is
found and replaced consistently, reviewers decide, and nothing unreviewed gets out."""

from __future__ import annotations

import pytest

from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.deid.detect import Identifier, apply, detect, fold
from fieldscribe.core.deid.lists import add_participant_identifiers, add_study_identifiers, replacement_table
from fieldscribe.core.deid.review import decide, deidentified_segments, is_reviewed, mark_reviewed, suggestions
from fieldscribe.core.errors import InvalidTransition
from fieldscribe.core.transcription.engine import EngineSettings
from fieldscribe.core.transcription.guard import Segment
from fieldscribe.core.transcripts import begin_transcript, complete_transcript, store_segments

EN_TRANSCRIPT = [
    "My name is Ann Lee, but everyone at Harbour View calls me Annie.",
    "I was annoyed at first. The Annual party was when I met Hope, she is my best friend now.",
    "I hope she stays. My sister Mary Lee phones me on 9123 4567 every Sunday.",
    "You can reach me at ann.lee@example.com or on WeChat: annlee_88.",
    "I'm 47 years old and I moved to 17 Wyndham Crescent on 3rd of March 2021.",
    "Dr Wong at Harbour View changed my tablets. My HKID is A123456(7).",
    "Ann, Mary and Hope came to the Harbour View barbecue.",
]
ZH_TRANSCRIPT = [
    "我叫王小明，大家都叫我小明。",
    "我妹妹王小红每个星期天打电话给我，她的电话是１３８００１３８０００。",
    "我今年四十五岁，2023年5月出院以后就来港景日间中心了。",
    "我住在弥敦道１２３号，微信号是wxid_abc123。",
    "李医生说我恢复得很好。小明你要坚持。",
    "我的身份证号码是110101199003071234。",
]
EN_IDENTIFIERS = ["Annie={pid}", "Mary Lee=sister", "Mary=sister", "Hope=female friend"]
STUDY_IDENTIFIERS = ["Harbour View=day-care centre", "港景日间中心=日间中心", "Dr Wong=doctor", "李医生=医生"]
ZH_IDENTIFIERS = ["小明", "王小红=妹妹"]

EN_SECRETS = [
    "Ann Lee",
    "Annie",
    "Harbour View",
    "Hope",
    "Mary",
    "9123 4567",
    "ann.lee@example.com",
    "annlee_88",
    "47",
    "Wyndham",
    "3rd of March 2021",
    "Wong",
    "A123456",
]
ZH_SECRETS = [
    "王小明",
    "小明",
    "王小红",
    "１３８００１３８０００",
    "13800138000",
    "四十五",
    "2023年5月",
    "港景",
    "弥敦道",
    "wxid_abc123",
    "李医生",
    "110101199003071234",
]


def transcript_session(vault, study, name, lines, language="en", events=()):
    """A session with a stored transcript of `lines` (one 4 s segment every 5 s), as
    Whisper would have left it, with timeline events (kind, t, data) recorded first."""
    from fieldscribe.core import timeline

    pid = participants.enrol(vault, study, group="service_user", name=name)
    consent.record_consent(vault, study, pid, {c.id: True for c in study.consent})
    sid = sessions.create_session(vault, [pid])
    sessions.start_recording(vault, sid)  # recorded (without audio); transcribed on completion
    sessions.set_status(vault, sid, sessions.RECORDED)
    key = sessions.session_key(vault, sid)
    for kind, t_event, data in events:
        timeline.add_event(vault, sid, kind, t_event, key, **data)
    t = begin_transcript(vault, sid, EngineSettings(model="test", language=language), len(lines) * 5.0)
    segs = [Segment(i * 5.0, i * 5.0 + 4.0, line) for i, line in enumerate(lines)]
    store_segments(vault, t, key, segs, timeline.events(vault, sid, key), len(lines) * 5.0)
    complete_transcript(vault, t)
    return pid, sid


@pytest.fixture
def en_session(vault, study_en):
    pid, sid = transcript_session(vault, study_en.study, "Ann Lee", EN_TRANSCRIPT)
    # a nickname is said to be the participant's own; a name without a descriptor is not
    add_participant_identifiers(vault, pid, [e.replace("{pid}", pid) for e in EN_IDENTIFIERS])
    add_study_identifiers(vault, STUDY_IDENTIFIERS)
    return pid, sid


def test_english_identifiers_are_all_replaced_consistently(vault, en_session):
    pid, sid = en_session
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    out = [s.text for s in deidentified_segments(vault, sid)]
    joined = "\n".join(out)
    for secret in EN_SECRETS:
        assert secret not in joined, (secret, joined)
    # names inside longer words and the common word are left alone
    assert "annoyed" in out[1] and "Annual party" in out[1] and out[2].startswith("I hope she stays")
    assert out[0] == f"My name is [{pid}], but everyone at [day-care centre] calls me [{pid}]."
    assert "[female friend]" in out[1] and "[sister]" in out[2] and "[phone number]" in out[2]
    assert out[6] == f"[{pid}], [sister] and [female friend] came to the [day-care centre] barbecue."
    assert "[doctor] at [day-care centre]" in out[5] and "[ID number]" in out[5]


def test_chinese_identifiers_with_full_width_digits_are_replaced(vault, study_zh):
    from fieldscribe.core.guides import import_guide

    import_guide(vault, study_zh)
    pid, sid = transcript_session(vault, study_zh.study, "王小明", ZH_TRANSCRIPT, "zh")
    add_participant_identifiers(vault, pid, ZH_IDENTIFIERS)
    add_study_identifiers(vault, STUDY_IDENTIFIERS)
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    out = [s.text for s in deidentified_segments(vault, sid)]
    joined = "".join(out)
    for secret in ZH_SECRETS:
        assert secret not in joined, (secret, joined)
    assert out[0] == f"我叫[{pid}]，大家都叫我[{pid}]。"
    assert "[妹妹]" in out[1] and "[电话号码]" in out[1]  # descriptors in the transcript's language
    assert "[日间中心]" in out[2] and "[年龄]" in out[2] and "[日期]" in out[2]


def test_the_same_original_gets_the_same_descriptor_across_transcripts(vault, study_en, en_session):
    _pid, first = en_session
    items = suggestions(vault, first)
    n_hope = next(s.n for s in items if s.original == "Hope")
    decide(vault, first, edit={n_hope: "friend from the centre"}, accept_all=True)
    assert replacement_table(vault)["Hope"] == "[friend from the centre]"
    _p2, second = transcript_session(vault, study_en.study, "Bob Chan", ["Hope visited me at Harbour View."])
    later = {s.original: s.descriptor for s in suggestions(vault, second)}
    assert later == {"Hope": "[friend from the centre]", "Harbour View": "[day-care centre]"}


def test_rejected_suggestions_stay_in_the_text(vault, en_session):
    _pid, sid = en_session
    n = next(s.n for s in suggestions(vault, sid) if s.kind == "age" and "47" in s.original)
    decide(vault, sid, reject=[n])
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    assert "I'm 47 years old" in deidentified_segments(vault, sid)[4].text


def test_nothing_is_exportable_before_review_and_a_new_decision_reopens_it(vault, en_session):
    _pid, sid = en_session
    with pytest.raises(InvalidTransition, match="has not been reviewed"):
        deidentified_segments(vault, sid)
    with pytest.raises(InvalidTransition, match="not decided yet"):
        mark_reviewed(vault, sid)
    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    assert is_reviewed(vault, sid) and sessions.get_session(vault, sid).status == sessions.REVIEWED
    decide(vault, sid, reject=[1])
    assert not is_reviewed(vault, sid)


def test_the_replacement_table_and_identifiers_are_sealed(vault, vault_path, en_session):
    _pid, sid = en_session
    decide(vault, sid, accept_all=True)
    vault.shred_residue()
    for f in vault_path.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for secret in ("Annie", "Wyndham", "annlee_88", "Mary Lee"):
                assert secret.encode() not in data and secret.encode("utf-16-le") not in data


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Call me on +852 2345 6789.", "Call me on [phone number]."),
        ("email: someone.else@uni.edu.hk", "email: [email address]"),
        ("see https://example.org/page, thanks", "see [website], thanks"),
        ("passport number E12345678", "passport number [ID number]"),
        ("my QQ is 12345678", "my QQ is [social media handle]"),
        ("I turned 60 last year", "I turned [age] last year"),
        ("on 12/03/2024 I went back", "on [date] I went back"),
        ("我住在人民路45号", "我住在[地址]"),
        ("我今年三十五岁", "我今年[年龄]"),
        ("电话：１３９　１２３４　５６７８", "电话：[电话号码]"),
    ],
)
def test_rules(text, expected):
    assert apply(text, detect(text, [])) == expected


def test_folding_keeps_offsets():
    text = "電話１３８００１３８０００。"
    assert len(fold(text)) == len(text) and fold(text)[2:13] == "13800138000"


def test_a_capitalised_name_that_is_a_common_word_only_matches_capitalised():
    spans = detect(
        "I hope Hope will come. Will said so.", [Identifier("Hope", "[friend]"), Identifier("Will", "[brother]")]
    )
    assert [s.text for s in spans] == ["Hope", "Will"]


def test_cli_identifiers_redact_review(vault, study_en):
    from click.testing import CliRunner

    from fieldscribe.cli import cli

    from .conftest import PASSPHRASE

    pid, sid = transcript_session(
        vault, study_en.study, "Ann Lee", EN_TRANSCRIPT[:3], events=[("flag", 6.0, {"text": "tearful"})]
    )
    path = str(vault.path)
    vault.close()
    env = {"FIELDSCRIBE_PASSPHRASE": PASSPHRASE}
    run = lambda *a: CliRunner().invoke(cli, ["--vault", path, *a], env=env)  # noqa: E731
    r = run("participant", "identifiers", pid, "--add", "Hope=female friend", "--add", "Annie")
    assert r.exit_code == 0 and "'Annie'" in r.stdout and f"[{pid}]" in r.stdout
    r = run("study", "identifiers", "--add", "Harbour View=day-care centre")
    assert r.exit_code == 0
    r = run("redact", sid)
    assert r.exit_code == 0 and "suggested" in r.stdout and "sensitive moment flagged at 0:00:06: tearful" in r.stderr
    r = run("transcript", "review", sid, "--done")
    assert r.exit_code == 1 and "not decided yet" in r.stderr
    hope = next(
        line.split(".")[0].strip()
        for line in r.stdout.splitlines() or run("redact", sid).stdout.splitlines()
        if "'Hope'" in line
    )
    r = run("redact", sid, "--edit", f"{hope}=friend", "--accept-all")
    assert r.exit_code == 0 and "[friend]" in r.stdout and "suggested" not in r.stdout
    r = run("transcript", "review", sid, "--done")
    assert r.exit_code == 0 and f"{sid} reviewed." in r.stdout
    r = run("redact", sid, "--accept", "999")
    assert r.exit_code == 1 and "No suggestion number 999" in r.stderr
