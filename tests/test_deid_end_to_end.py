"""The de-identification promise, end to end, with real components only.

A participant mentions a friend by name, the hospital she was taken to and her own phone
number — none of which anyone typed into fieldscribe as an identifier. The answer is spoken
(espeak-ng), sealed into a session, transcribed by the real offline Whisper tiny.en, run
through the real detectors (lists, rules, spaCy/jieba), accepted, reviewed, exported to an
age bundle for a key made here, and opened again: no file of the opened bundle (nor any
file inside its .qdpx and .docx zips) holds the friend's names, the hospital's name or the
phone number, in UTF-8 or UTF-16, in any letter case, with or without spaces.

A second test loads the name finders with the network blocked and checks they find an
English and a Chinese name on their own.
"""

from __future__ import annotations

import io
import re
import socket
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from fieldscribe.cli import cli
from fieldscribe.core import consent, participants, sessions
from fieldscribe.core.audio.importer import import_file
from fieldscribe.core.batch_transcription import transcribe_session
from fieldscribe.core.deid.lists import participant_identifiers, replacement_table, study_identifiers
from fieldscribe.core.deid.review import decide, mark_reviewed, suggestions
from fieldscribe.core.export.bundle import extract, open_bundle
from fieldscribe.core.export.exporter import export_sessions
from fieldscribe.core.transcripts import current_transcript, load_segments

from .speech import espeak_wav
from .test_cli import fs  # noqa: F401  (fs: a closed vault with the English study, for the CLI)
from .test_export import team as team  # the fixture: an analysis-team age key made in the test
from .test_plaintext_scan import encodings

# What a participant might really say: a friend, a London hospital, a UK mobile number read
# out the British way. The wording was checked against what Whisper tiny.en writes for
# espeak-ng at 150 wpm: "…drove me to the Whittington hospital last winter. If you need me,
# call me on 077 00 9 00 461."
SPEECH = (
    "My friend Gloria Pemberton drove me to the Whittington Hospital last winter. "
    "If you need me, call me on oh seven seven double oh, nine double oh, four six one."
)
PARTICIPANT = "Margaret Okafor"  # the only identifier anybody enters: her own name
FRIEND_FIRST, FRIEND_SURNAME = "Gloria", "Pemberton"
HOSPITAL = "Whittington"
PHONE = "07700900461"
MIN_PHONE_RUN = 7

# -- reading digits as Whisper may write them -------------------------------------------------------
_DIGIT_WORDS = {
    "oh": "0",
    "o": "0",
    "zero": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_REPEAT = {"double": 2, "triple": 3}
_BETWEEN_DIGITS = r"[\s\-–—.,()/]*"  # what may separate the digits of one number


def digit_runs(text: str) -> list[tuple[str, list[tuple[int, int]]]]:
    """Runs of digits in `text`, written as figures or as words ("oh seven seven double oh"),
    with the character span each digit came from."""
    runs: list[tuple[str, list[tuple[int, int]]]] = []
    digits: list[str] = []
    where: list[tuple[int, int]] = []
    repeat, repeat_start, last_end = 1, None, None

    def close() -> None:
        nonlocal digits, where, repeat, repeat_start
        if digits:
            runs.append(("".join(digits), where))
        digits, where, repeat, repeat_start = [], [], 1, None

    for m in re.finditer(r"\d+|[A-Za-z]+", text):
        if last_end is not None and not re.fullmatch(_BETWEEN_DIGITS, text[last_end : m.start()]):
            close()
        tok = m.group().lower()
        if tok in _REPEAT:
            repeat, repeat_start = _REPEAT[tok], m.start()
        elif tok.isdigit() or tok in _DIGIT_WORDS:
            start = m.start() if repeat_start is None else repeat_start
            if tok.isdigit():
                for i, ch in enumerate(tok):
                    digits += [ch] * (repeat if i == 0 else 1)
                    where += [(start if i == 0 else m.start() + i, m.start() + i + 1)] * (repeat if i == 0 else 1)
            else:
                digits += [_DIGIT_WORDS[tok]] * repeat
                where += [(start, m.end())] * repeat
            repeat, repeat_start = 1, None
        else:
            close()
        last_end = m.end()
    close()
    return runs


def phone_in(text: str) -> tuple[int, int, str] | None:
    """The longest stretch of PHONE's digits spoken in `text`: (start, end, digits)."""
    best: tuple[int, int, str] | None = None
    for digits, where in digit_runs(text):
        for i in range(len(digits)):
            for j in range(len(digits), i, -1):
                if digits[i:j] in PHONE and (best is None or j - i > len(best[2])):
                    best = (where[i][0], where[j - 1][1], digits[i:j])
                    break
    return best


# -- looking for what must not leave ----------------------------------------------------------------
def secret_patterns(transcribed_phone: str) -> dict[str, re.Pattern[str]]:
    """Case-insensitive patterns for every form of the secrets: the words, and the phone
    number (or any MIN_PHONE_RUN of its digits) with or without spaces or dashes."""
    pats = {w: re.compile(re.escape(w), re.IGNORECASE) for w in (FRIEND_FIRST, FRIEND_SURNAME, HOSPITAL)}
    for i in range(len(PHONE) - MIN_PHONE_RUN + 1):
        part = PHONE[i : i + MIN_PHONE_RUN]
        pats[f"phone digits {part}"] = re.compile(_BETWEEN_DIGITS.join(part))
    pats[f"phone as transcribed {transcribed_phone!r}"] = re.compile(re.escape(transcribed_phone), re.IGNORECASE)
    return pats


def _views(blob: bytes) -> list[str]:
    """The bytes read as UTF-8 and as UTF-16 in both byte orders and both alignments."""
    views = [blob.decode("utf-8", "ignore")]
    for codec in ("utf-16-le", "utf-16-be"):
        views += [blob.decode(codec, "ignore"), blob[1:].decode(codec, "ignore")]
    return views


def leaks(label: str, blob: bytes, patterns: dict[str, re.Pattern[str]], literals: list[str]) -> list[str]:
    found = []
    for name, pat in patterns.items():
        if any(pat.search(view) for view in _views(blob)):
            found.append(f"{name} in {label}")
    # and byte for byte, in each encoding the plaintext scan uses, in the usual letter cases
    for text in literals:
        for variant in {text, text.lower(), text.upper(), text.title()}:
            for codec, needle in encodings(variant).items():
                if needle in blob:
                    found.append(f"{variant!r} ({codec}) in {label}")
    return found


def scan_blob(label: str, blob: bytes, patterns, literals, seen: list[str]) -> list[str]:
    """Scan a file, and every member of it if it is a zip (.qdpx, .docx), recursively."""
    seen.append(label)
    found = leaks(label, blob, patterns, literals)
    if zipfile.is_zipfile(io.BytesIO(blob)):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            for member in z.namelist():
                found += scan_blob(f"{label}!{member}", z.read(member), patterns, literals, seen)
    return found


def scan_opened_bundle(folder: Path, sid: str, transcribed_phone: str) -> list[str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    names = {p.relative_to(folder).as_posix() for p in files}
    assert {
        "manifest.json",
        "peer-support-daycare.qdpx",
        "cases.csv",
        "export.json",
        f"transcripts/{sid}.txt",
        f"transcripts/{sid}.docx",
        f"subtitles/{sid}.vtt",
        f"subtitles/{sid}.srt",
    } <= names, names
    # the transcript did get out, de-identified (an empty export would prove nothing)
    assert "drove me to" in (folder / "transcripts" / f"{sid}.txt").read_text()
    literals = [
        FRIEND_FIRST,
        FRIEND_SURNAME,
        HOSPITAL,
        PHONE,
        transcribed_phone,
        f"{FRIEND_FIRST} {FRIEND_SURNAME}",
        f"{PHONE[:5]} {PHONE[5:]}",
    ]
    patterns = secret_patterns(transcribed_phone)
    seen: list[str] = []
    found: list[str] = []
    for path in files:
        found += scan_blob(path.relative_to(folder).as_posix(), path.read_bytes(), patterns, literals, seen)
    assert any(s == "peer-support-daycare.qdpx!project.qde" for s in seen), seen
    assert any(s.startswith("peer-support-daycare.qdpx!sources/") for s in seen), seen
    assert f"transcripts/{sid}.docx!word/document.xml" in seen, seen
    return found


# -- the shared checks -----------------------------------------------------------------------------------
def check_transcript(text: str) -> tuple[int, int, str]:
    """Whisper must really have written the secrets, or the test proves nothing."""
    assert FRIEND_SURNAME.lower() in text.lower(), f"Whisper did not write the friend's surname: {text!r}"
    assert HOSPITAL.lower() in text.lower(), f"Whisper did not write the hospital's name: {text!r}"
    phone = phone_in(text)
    assert phone and len(phone[2]) >= MIN_PHONE_RUN, f"Whisper did not write the phone number: {text!r}"
    # the scanner would find every secret in the raw transcript (it is not blind)
    found = leaks(
        "transcript", text.encode("utf-8") + text.encode("utf-16-le"), secret_patterns(text[phone[0] : phone[1]]), []
    )
    assert any(f.startswith(FRIEND_SURNAME) for f in found) and any(f.startswith(HOSPITAL) for f in found)
    assert any(f.startswith("phone") for f in found), found
    return phone


def check_nothing_typed_in(vault, pid: str) -> None:
    typed = [i.text for i in participant_identifiers(vault, pid) + study_identifiers(vault)]
    typed += list(replacement_table(vault))
    for ident in typed:
        assert not any(s.lower() in ident.lower() for s in (FRIEND_FIRST, FRIEND_SURNAME, HOSPITAL)), ident
        digits = re.sub(r"\D", "", ident)
        assert not any(PHONE[i : i + MIN_PHONE_RUN] in digits for i in range(len(PHONE) - MIN_PHONE_RUN + 1)), ident


def check_suggestions_cover_the_secrets(vault, sid: str) -> None:
    segments = {s.idx: s.text for s in load_segments(vault, current_transcript(vault, sid))}
    items = suggestions(vault, sid)
    listing = "\n".join(f"  seg {s.segment} [{s.start}:{s.end}] {s.original!r} {s.kind} ({s.source})" for s in items)

    def covered(idx: int, start: int, end: int) -> bool:
        return any(s.segment == idx and s.start <= start and s.end >= end for s in items)

    missed = []
    for what, needle in (("the friend's name", f"{FRIEND_FIRST} {FRIEND_SURNAME}"), ("the hospital", HOSPITAL)):
        hits = [
            (idx, m.start(), m.end())
            for idx, text in segments.items()
            for m in re.finditer(re.escape(needle), text, re.IGNORECASE)
        ]
        if not hits:
            # Whisper may have split the name across segments; each word must then be covered
            hits = [
                (idx, m.start(), m.end())
                for idx, text in segments.items()
                for w in needle.split()
                for m in re.finditer(re.escape(w), text, re.IGNORECASE)
            ]
        assert hits, (what, segments)
        missed += [
            f"{what}: {segments[i][a:b]!r} in segment {i}: {segments[i]!r}" for i, a, b in hits if not covered(i, a, b)
        ]
    phones = [(idx, p) for idx, text in segments.items() if (p := phone_in(text)) and len(p[2]) >= MIN_PHONE_RUN]
    assert phones, segments
    missed += [
        f"the phone number: {segments[i][a:b]!r} in segment {i}: {segments[i]!r}"
        for i, (a, b, _d) in phones
        if not covered(i, a, b)
    ]
    assert not missed, "not covered by any suggestion:\n" + "\n".join(missed) + "\nsuggestions:\n" + listing


def speech_file(tmp_path: Path) -> Path:
    wav, _pcm = espeak_wav(tmp_path, SPEECH, "answer")
    (tmp_path / "answer-raw.wav").unlink()
    return wav


# -- the tests ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_spoken_names_places_and_numbers_nobody_typed_in_do_not_reach_the_bundle(
    vault, study_en, team, tmp_path, monkeypatch
):
    monkeypatch.delenv("FIELDSCRIBE_NER", raising=False)  # the real name finders, always
    pid = participants.enrol(vault, study_en.study, group="service_user", name=PARTICIPANT)
    consent.record_consent(vault, study_en.study, pid, {c.id: True for c in study_en.study.consent})
    sid = sessions.create_session(vault, [pid])
    wav = speech_file(tmp_path)
    import_file(vault, sid, wav)
    wav.unlink()

    t = transcribe_session(vault, sid, model="tiny.en")
    assert t.state == "complete"
    text = " ".join(s.text.strip() for s in load_segments(vault, t) if s.text)
    print(f"\nWhisper tiny.en wrote: {text!r}")
    start, end, _digits = check_transcript(text)
    check_nothing_typed_in(vault, pid)
    check_suggestions_cover_the_secrets(vault, sid)

    decide(vault, sid, accept_all=True)
    mark_reviewed(vault, sid)
    key, recipient = team
    bundle = export_sessions(vault, [sid], tmp_path / "out", [recipient])
    extract(open_bundle(bundle, key), tmp_path / "opened")
    found = scan_opened_bundle(tmp_path / "opened", sid, text[start:end])
    assert not found, found


@pytest.mark.slow
def test_the_same_through_the_command_line(fs, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.delenv("FIELDSCRIBE_NER", raising=False)
    pid = fs.enrol(PARTICIPANT)
    fs.ok("consent", pid, "--all")
    sid = fs.ok("session", "create", "--participant", pid).stdout.strip()
    wav = speech_file(tmp_path)
    fs.ok("audio", "import", sid, str(wav))
    wav.unlink()
    fs.ok("transcribe", sid, "--model", "tiny.en")
    text = " ".join(fs.ok("transcript", "show", sid, "--plain").stdout.split())
    print(f"\nWhisper tiny.en wrote (CLI): {text!r}")
    start, end, _digits = check_transcript(text)
    with fs.open() as vault:
        check_nothing_typed_in(vault, pid)
        check_suggestions_cover_the_secrets(vault, sid)

    fs.ok("redact", sid)
    fs.ok("redact", sid, "--accept-all")
    assert "reviewed" in fs.ok("transcript", "review", sid, "--done").stdout
    runner = CliRunner()
    r = runner.invoke(cli, ["bundle", "keygen", "--out", str(tmp_path / "k" / "team")])
    assert r.exit_code == 0 and r.stdout.startswith("age1"), r.output
    bundle = fs.ok(
        "export", "--sessions", sid, "--to", str(tmp_path / "o"), "--recipient", str(tmp_path / "k" / "team.pub")
    ).stdout.strip()
    r = runner.invoke(
        cli, ["bundle", "open", bundle, "--identity", str(tmp_path / "k" / "team"), "--out", str(tmp_path / "opened")]
    )
    assert r.exit_code == 0 and "Opened" in r.stdout, r.output
    found = scan_opened_bundle(tmp_path / "opened", sid, text[start:end])
    assert not found, found


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to reach the network is recorded and refused."""
    attempts: list[str] = []

    def refuse(name):
        def blocked(*args, **_kwargs):
            attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
            raise OSError(f"network blocked in this test ({name})")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return attempts


EN_SENTENCE, EN_NAME = "My friend Gloria Pemberton came.", "Gloria Pemberton"
ZH_SENTENCE, ZH_NAME = "我表姐刘桂芳陪我去市第九人民医院看病。", "刘桂芳"


@pytest.mark.slow
def test_the_name_finders_load_and_find_names_without_the_network(no_network, monkeypatch):
    from fieldscribe.core.deid import detect, ner

    monkeypatch.delenv("FIELDSCRIBE_NER", raising=False)
    ner.forget()
    state = ner.warm_up()
    assert state == {"en": "ready", "zh": "ready"}, state
    detect.prepare([EN_SENTENCE, ZH_SENTENCE])
    missed = []
    for sentence, name in ((EN_SENTENCE, EN_NAME), (ZH_SENTENCE, ZH_NAME)):
        spans = detect.detect(sentence, [])
        a = sentence.index(name)
        if not any(s.kind == "person" and s.start <= a and s.end >= a + len(name) for s in spans):
            missed.append(f"{name!r} in {sentence!r}: {spans}")
    assert not missed, missed
    assert ner.status() == {"en": "ready", "zh": "ready"}
    assert no_network == [], no_network
