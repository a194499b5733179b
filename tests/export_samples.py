"""Export content built by hand, for unit tests of the formats: one interview with speakers
(an overlap, a note, a voice nobody named, a segment the hallucination guard emptied), one
transcript with no speakers known, one with every kind of note, and one in Chinese."""

from __future__ import annotations

from fieldscribe.core.export.content import CaseInfo, ExportContent, SessionExport
from fieldscribe.core.transcripts import StoredSegment


def seg(idx, start, end, text, speaker=None, voice=None, question="q1", domain="peers", **kw) -> StoredSegment:
    return StoredSegment(
        idx=idx,
        start=start,
        end=end,
        text=text,
        speaker=speaker,
        voice=voice,
        question=question,
        domain=domain,
        **kw,
    )


IV = "interviewer"
INTERVIEW = [
    seg(0, 0.0, 3.0, "Could you tell me about the people here?", IV, 0),
    seg(1, 3.5, 6.0, "Mostly [friend] and the cooks.", "P1", 1, notes=[{"kind": "note", "t": 5.0, "text": "laughs"}]),
    seg(2, 6.0, 9.0, "We play cards after lunch.", "P1", 1),
    seg(3, 9.5, 11.0, "And how is that?", IV, 0),
    seg(4, 10.5, 14.0, "Good, mostly good.", "P1", 1, overlap=True),
    seg(5, 14.0, 16.0, "Tell me about a time someone helped you.", IV, 0, "q3", "mutual_help"),
    seg(6, 16.5, 20.0, "She helped me once, a staff member.", None, 2, "q3", "mutual_help"),
    seg(7, 20.0, 21.0, "", None, None, "q3", "mutual_help", flags=["dropped:repeat"]),
    seg(8, 61.0, 65.0, "Yes, that was in [month].", "P1", 1, "q3", "mutual_help"),
]
# no diarization and no K marks: today's unlabelled form
UNLABELLED = [
    seg(0, 0.0, 4.0, "Hello, I am here."),
    seg(1, 4.0, 8.0, "It is fine."),
    seg(2, 9.0, 12.0, "We help each other.", question="q3", domain="mutual_help"),
]


def session(sid: str, segments: list[StoredSegment], language: str = "en") -> SessionExport:
    return SessionExport(
        session_id=sid,
        kind="interview",
        wave=1,
        guide_version="f84d7fce6609",
        language=language,
        participants=["P1"],
        segments=segments,
        questions={
            "q1": ("Experience with peers in the day-care centre", "Who do you spend time with here?"),
            "q3": ("Experience of mutual help with peers", "A time when someone here helped you?"),
        },
        domains={"peers": "Experience with peers in the day-care centre", "mutual_help": "Mutual help"},
        probes={"q1": ["Who else do you talk to?", "What do you do together?"]},
    )


def sample_content(study) -> ExportContent:
    """S1: an interview with speakers, an overlap, a note and an unnamed voice; S2: the same
    guide with no speakers known."""
    return ExportContent(
        study=study,
        cases={"P1": CaseInfo("P1", "service_user", {"Age": "45–54"}, "Service user")},
        sessions=[session("S1", INTERVIEW), session("S2", UNLABELLED)],
        redaction_counts={},
    )


# what each turn of S1 says, in order
TURNS = [
    ("[00:00:00]", "Interviewer", False, "Could you tell me about the people here?"),
    ("[00:00:03]", "P1", False, "Mostly [friend] and the cooks. We play cards after lunch."),
    ("[00:00:09]", "Interviewer", False, "And how is that?"),
    ("[00:00:10]", "P1", True, "Good, mostly good."),
    ("[00:00:14]", "Interviewer", False, "Tell me about a time someone helped you."),
    ("[00:00:16]", "Speaker C", False, "She helped me once, a staff member."),
    ("[00:01:01]", "P1", False, "Yes, that was in [month]."),
]


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"[{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}]"


def turn_line(stamp: str, who: str, overlap: bool, text: str) -> str:
    """The transcript line of a turn of TURNS: its stamp and speaker once, then each further
    segment of the turn (looked up in INTERVIEW) with its own stamp before its words."""
    words = text
    for i, first in enumerate(INTERVIEW):
        if _hms(first.start) != stamp:
            continue
        run = [s for s in INTERVIEW[i:] if s.text]
        for n in range(1, len(run) + 1):
            if " ".join(s.text for s in run[:n]) == text:
                words = " ".join([run[0].text, *[f"{_hms(s.start)} {s.text}" for s in run[1:n]]])
                break
    return f"{stamp} {who}: " + ("(overlapping) " if overlap else "") + words


# every kind of mark: a probe (its words come from the guide), a note with a preset, a flag typed
# during a segment the hallucination guard emptied (it shows under the next turn), a note over
# two lines, and words a subtitle reader could take for markup
NOTED = [
    seg(0, 0.0, 4.0, "Who do you spend time with here?", IV, 0, notes=[{"kind": "probe", "t": 3.0, "probe": 2}]),
    seg(
        1,
        4.5,
        9.0,
        "Mostly the cooks.",
        "P1",
        1,
        notes=[{"kind": "note", "t": 6.0, "preset": "laughs", "text": "at [friend]"}],
    ),
    seg(
        2,
        9.0,
        12.0,
        "",
        None,
        None,
        flags=["dropped:repeat"],
        notes=[{"kind": "flag", "t": 10.0, "text": "the [hospital] stay"}],
    ),
    seg(3, 12.0, 15.0, "We play cards --> after <lunch> & R&amp;D.", "P1", 1),
    seg(
        4,
        75.0,
        78.0,
        "Good.",
        "P1",
        1,
        "q3",
        "mutual_help",
        notes=[{"kind": "note", "t": 76.0, "text": "first line\n\nsecond --> line"}, {"kind": "flag", "t": 77.0}],
    ),
]
# a Chinese interview, for fonts in the rendered document
CHINESE = [
    seg(0, 0.0, 3.0, "你平时在这里和谁在一起？", IV, 0),
    seg(1, 3.5, 7.0, "主要是厨房的师傅们。", "P1", 1, notes=[{"kind": "note", "t": 5.0, "text": "笑了"}]),
    seg(2, 7.0, 10.0, "我们午饭后一起打牌。", "P1", 1),
]


def document_content(study) -> ExportContent:
    """S1 as in sample_content, S5 with every kind of note, S6 in Chinese: what the tests that
    open the documents in real readers export."""
    return ExportContent(
        study=study,
        cases={
            "P1": CaseInfo("P1", "service_user", {"Age": "45–54", "Role": "=cmd|' /C calc'!A0"}, "Service user"),
            "P2": CaseInfo("P2", "staff", {"Age": "35–44"}),
        },
        sessions=[session("S1", INTERVIEW), session("S5", NOTED), session("S6", CHINESE, "zh")],
        redaction_counts={},
    )
