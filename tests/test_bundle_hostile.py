"""Hostile bundles: what `bundle open` must refuse, in one sentence, in bounded memory, and
without leaving anything behind. Every bundle here is built by hand and signed by a key of the
attacker's own, because a valid signature proves nothing about whose it is (device keys are
pinned elsewhere): the checks must hold for a validly signed hostile manifest too."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pyrage
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyrage import x25519

from fieldscribe.core.errors import InvalidInput
from fieldscribe.core.export import bundle as bundle_mod
from fieldscribe.core.export.bundle import (
    BundleRefused,
    Opened,
    extract,
    open_bundle,
)
from fieldscribe.core.export.keys import keygen, public_hex
from fieldscribe.core.sanitise import printable

GIB = 1024**3
ESC_TITLE = "Study \x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202eexe.txt\x9b1m\u2028end"


@pytest.fixture
def team(tmp_path):
    return keygen(tmp_path / "keys" / "team.key")


# -- building bundles by hand ---------------------------------------------------------------------------
def manifest_for(signer: Ed25519PrivateKey, content: dict[str, bytes], **changes) -> dict:
    manifest = {
        "format": "fieldscribe-bundle/1",
        "created_at": "2025-01-01T00:00:00Z",
        "device_public_key": public_hex(signer),
        "device_id": "device-1",
        "fieldscribe_version": "0",
        "study": {"id": "s1", "title": "A study", "ethics_reference": "REC-1"},
        "sessions": [{"id": "S1", "wave": 1, "guide_version": "1", "participants": ["P1"]}],
        "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in content.items()},
        "redactions": {"PERSON": 2},
        "audio_included": False,
    }
    manifest.update(changes)
    return manifest


def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, **attrs) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def tar_of(members: list[tuple[tarfile.TarInfo, bytes]], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


def raw_members(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """Members without tar's end-of-archive blocks, so hand-made headers can follow."""
    out = b""
    for info, data in members:
        out += info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data + b"\0" * (-len(data) % 512)
    return out


END = b"\0" * 10240


def signed(signer: Ed25519PrivateKey, manifest: dict | list | bytes) -> list[tuple[tarfile.TarInfo, bytes]]:
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    return [member("manifest.json", raw), member("manifest.sig", signer.sign(raw))]


def seal(tmp_path: Path, recipient: str, plain: bytes, name: str = "crafted.fsbundle.age") -> Path:
    out = tmp_path / name
    out.write_bytes(pyrage.encrypt(plain, [x25519.Recipient.from_str(recipient)]))
    return out


def craft(
    tmp_path: Path,
    recipient: str,
    files: dict[str, bytes],
    *,
    manifest: dict | list | bytes | None = None,
    members: list | None = None,
    name: str = "crafted.fsbundle.age",
) -> Path:
    """A bundle whose manifest (default: listing FILES) is validly signed by a fresh key."""
    signer = Ed25519PrivateKey.generate()
    if manifest is None:
        manifest = manifest_for(signer, files)
    elif isinstance(manifest, dict):
        manifest = {**manifest, "device_public_key": public_hex(signer)}
    body = members if members is not None else [member(n, d) for n, d in files.items()]
    return seal(tmp_path, recipient, tar_of(signed(signer, manifest) + body), name)


def gnu_sparse(name: str, realsize: int) -> bytes:
    """A GNU sparse member (type 'S') of 512 stored bytes claiming REALSIZE once expanded:
    tarfile cannot write one, so the header is patched by hand and its checksum redone."""
    info = tarfile.TarInfo(name)
    info.type = tarfile.GNUTYPE_SPARSE
    info.size = 512
    header = bytearray(info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape"))
    header[386:398] = b"%011o\0" % (realsize - 512)  # one sparse extent at the very end...
    header[398:410] = b"%011o\0" % 512  # ...of 512 bytes; the rest is a hole
    header[482] = 0  # no extended sparse headers
    header[483:495] = b"%011o\0" % realsize  # the size once the holes are filled
    header[148:156] = b" " * 8
    header[148:155] = b"%06o\0" % sum(header)
    return bytes(header) + b"\0" * 512


def assert_one_sentence(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in message), message


# -- bombs: sparse members and huge declared sizes, in bounded memory -----------------------------------
MEMORY_PROBE = r"""
import json, resource, sys
from pathlib import Path
from fieldscribe.core.export.bundle import BundleRefused, open_bundle

key, good, *hostile = sys.argv[1:]
open_bundle(Path(good), Path(key))          # warm up: lazy imports do not count
results = []
for path in hostile:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        open_bundle(Path(path), Path(key))
        error = None
    except BundleRefused as exc:
        error = str(exc)
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024   # KiB on Linux
    results.append({"path": path, "error": error, "grown_mb": grown})
print(json.dumps(results))
"""


def test_sparse_members_and_huge_declared_sizes_are_refused_in_bounded_memory(team, tmp_path):
    key, recipient = team
    signer = Ed25519PrivateKey.generate()
    big = {"sha256": "0" * 64, "size": 3 * GIB}

    def with_manifest(listed: dict, tail: bytes, name: str) -> Path:
        m = manifest_for(signer, {}, files=listed)
        return seal(tmp_path, recipient, raw_members(signed(signer, m)) + tail + END, name)

    huge_header = tarfile.TarInfo("big.bin")
    huge_header.size = 3 * GIB
    huge = huge_header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + b"x" * 1024
    pax_sparse = raw_members(
        [
            member(
                "big.bin",
                b"1\n0\n512\n".ljust(512, b"\0") + b"y" * 512,
                pax_headers={
                    "GNU.sparse.major": "1",
                    "GNU.sparse.minor": "0",
                    "GNU.sparse.name": "big.bin",
                    "GNU.sparse.realsize": str(3 * GIB),
                },
            )
        ]
    )
    huge_pax = tarfile.TarInfo("././@PaxHeader")
    huge_pax.type = tarfile.XHDTYPE
    huge_pax.size = 2 * GIB
    hostile = {
        # a sparse member as the very first entry: nothing is read before the manifest
        "sparse-first": seal(tmp_path, recipient, gnu_sparse("big.bin", 3 * GIB) + END, "a.age"),
        # listed in a validly signed manifest with the expanded size: still not a regular file
        "sparse-listed": with_manifest({"big.bin": big}, gnu_sparse("big.bin", 3 * GIB), "b.age"),
        "pax-sparse": with_manifest({"big.bin": big}, pax_sparse, "c.age"),
        # a header claiming 3 GiB over 1 KiB of data: listed small, refused before reading
        "size-lie": with_manifest({"big.bin": {"sha256": "0" * 64, "size": 1024}}, huge, "d.age"),
        # listed as 3 GiB too: read as far as the data goes, then refused as truncated
        "size-huge": with_manifest({"big.bin": big}, huge, "e.age"),
        # a manifest.json that claims 3 GiB
        "huge-manifest": seal(tmp_path, recipient, _renamed(huge_header, "manifest.json") + b"{}" + END, "f.age"),
        # a PAX extended header claiming 2 GiB before anything else
        "huge-pax-header": seal(
            tmp_path,
            recipient,
            huge_pax.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict") + b"30 path=" + b"a" * 21 + b"\n" + END,
            "g.age",
        ),
        # ...and one that really carries 64 MiB: tarfile would hold it all; the budget stops it
        "real-pax-header": seal(tmp_path, recipient, _pax_header_of(64 * 1024**2) + END, "h.age"),
    }
    good = craft(tmp_path, recipient, {"a.txt": b"hello"}, name="good.age")
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(key), str(good), *map(str, hostile.values())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    results = {Path(r["path"]).name: r for r in json.loads(out.stdout)}
    for case, path in hostile.items():
        r = results[path.name]
        assert r["error"], f"{case} was accepted"
        assert_one_sentence(r["error"])
        assert r["grown_mb"] < 200, f"{case} grew the process by {r['grown_mb']:.0f} MB: {r['error']}"
    assert "signed manifest" in results["a.age"]["error"]
    assert "not a regular file" in results["b.age"]["error"] and "not a regular file" in results["c.age"]["error"]
    assert "manifest says 1,024" in results["d.age"]["error"]
    assert "more data than its manifest accounts for" in results["h.age"]["error"]


def test_data_beyond_what_the_manifest_lists_is_refused(team, tmp_path):
    key, recipient = team
    junk = [member(f"junk{i}", b"j" * 1024**2) for i in range(8)]
    path = craft(tmp_path, recipient, {"a.txt": b"x"}, members=[member("a.txt", b"x"), *junk])
    with pytest.raises(BundleRefused, match="more data than its manifest accounts for"):
        open_bundle(path, key)
    # and after the archive's end, no more than tar's padding
    signer = Ed25519PrivateKey.generate()
    m = manifest_for(signer, {"a.txt": b"x"})
    tail = seal(tmp_path, recipient, tar_of(signed(signer, m) + [member("a.txt", b"x")]) + b"z" * 4 * 1024**2, "t.age")
    with pytest.raises(BundleRefused, match="more data than its manifest accounts for"):
        open_bundle(tail, key)


def _pax_header_of(size: int) -> bytes:
    record = b" comment=" + b"x" * (size - 20) + b"\n"
    record = str(len(record) + 10).encode().rjust(10, b"0") + record
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = len(record)
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict") + record + b"\0" * (-len(record) % 512)


def _renamed(info: tarfile.TarInfo, name: str) -> bytes:
    copy = info.replace(name=name, deep=False)
    return copy.tobuf(tarfile.PAX_FORMAT, "utf-8", "strict")


def test_the_signature_is_checked_before_any_other_member_is_looked_at(team, tmp_path):
    key, recipient = team
    signer = Ed25519PrivateKey.generate()
    raw = json.dumps(manifest_for(signer, {"big.bin": b"x"})).encode()
    forged = [member("manifest.json", raw), member("manifest.sig", b"\0" * 64)]
    path = seal(tmp_path, recipient, tar_of(forged) + gnu_sparse("big.bin", 3 * GIB))
    with pytest.raises(BundleRefused, match="not validly signed"):
        open_bundle(path, key)


@pytest.mark.parametrize(
    "order", [["manifest.sig", "manifest.json"], ["a.txt", "manifest.json", "manifest.sig"], ["manifest.json"]]
)
def test_manifest_and_signature_must_come_first(team, tmp_path, order):
    key, recipient = team
    signer = Ed25519PrivateKey.generate()
    raw = json.dumps(manifest_for(signer, {"a.txt": b"x"})).encode()
    data = {"manifest.json": raw, "manifest.sig": signer.sign(raw), "a.txt": b"x"}
    path = seal(tmp_path, recipient, tar_of([member(n, data[n]) for n in order]))
    with pytest.raises(BundleRefused, match="does not begin with a signed manifest") as err:
        open_bundle(path, key)
    assert_one_sentence(str(err.value))


# -- member types ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kind", [tarfile.DIRTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.CONTTYPE]
)
def test_non_regular_members_are_refused(team, tmp_path, kind):
    key, recipient = team
    path = craft(tmp_path, recipient, {"a.txt": b"x"}, members=[member("a.txt", b"x"), member("thing", b"", kind)])
    with pytest.raises(BundleRefused, match="'thing', which is not a regular file"):
        open_bundle(path, key)


@pytest.mark.parametrize(
    "kind,target",
    [
        (tarfile.SYMTYPE, "/etc/passwd"),
        (tarfile.SYMTYPE, "../../x"),
        (tarfile.LNKTYPE, "a.txt"),
        (tarfile.LNKTYPE, "/etc/shadow"),
    ],
)
def test_links_are_refused_even_when_listed(team, tmp_path, kind, target):
    key, recipient = team
    path = craft(
        tmp_path,
        recipient,
        {"a.txt": b"x", "link": b""},
        members=[member("a.txt", b"x"), member("link", b"", kind, linkname=target)],
    )
    with pytest.raises(BundleRefused, match="'link', which is not a regular file"):
        open_bundle(path, key)


# -- members against the manifest -----------------------------------------------------------------------
def test_a_member_whose_size_differs_from_the_manifest_is_refused_before_reading(team, tmp_path, monkeypatch):
    key, recipient = team
    signer = Ed25519PrivateKey.generate()
    m = manifest_for(signer, {"a.txt": b"x"})
    path = seal(tmp_path, recipient, tar_of(signed(signer, m) + [member("a.txt", b"xx")]))
    read = []
    real = bundle_mod.read_member
    monkeypatch.setattr(bundle_mod, "read_member", lambda tar, mem, *a: read.append(mem.name) or real(tar, mem, *a))
    with pytest.raises(BundleRefused, match=r"'a.txt' in crafted.fsbundle.age is 2 bytes but its manifest says 1"):
        open_bundle(path, key)
    assert read == ["manifest.json", "manifest.sig"]


def test_a_member_whose_content_differs_from_its_hash_is_refused(team, tmp_path):
    key, recipient = team
    signer = Ed25519PrivateKey.generate()
    m = manifest_for(signer, {"a.txt": b"x"})
    path = seal(tmp_path, recipient, tar_of(signed(signer, m) + [member("a.txt", b"y")]))
    with pytest.raises(BundleRefused, match="does not match its manifest hash"):
        open_bundle(path, key)


@pytest.mark.parametrize(
    "members,fragment",
    [
        ([("a.txt", b"x"), ("b.txt", b"y")], r"unlisted: 'b.txt'; missing: none"),
        ([], r"unlisted: none; missing: 'a.txt'"),
        ([("a.txt", b"x"), ("a.txt", b"x")], r"'a.txt' twice"),
        ([("a.txt", b"x"), ("./a.txt", b"x")], r"'a.txt' twice"),
        ([("a.txt", b"x"), ("manifest.json", b"{}")], r"'manifest.json' twice"),
        ([("a.txt", b"x"), ("evil\x1b[2J", b"z")], r"unsafe path 'evil\\x1b\[2J'"),
    ],
)
def test_unlisted_missing_and_repeated_members_are_refused(team, tmp_path, members, fragment):
    key, recipient = team
    path = craft(tmp_path, recipient, {"a.txt": b"x"}, members=[member(n, d) for n, d in members])
    with pytest.raises(BundleRefused, match=fragment) as err:
        open_bundle(path, key)
    assert_one_sentence(str(err.value))


# -- hostile manifests (validly signed by the attacker's own key) ----------------------------------------
def _m(**changes) -> dict:
    return manifest_for(Ed25519PrivateKey.generate(), {"a.txt": b"x"}, **changes)


def _files(**entries) -> dict:
    return {"files": entries}


HOSTILE_MANIFESTS = {
    "a list": ["not", "a", "mapping"],
    "a string": "manifest",
    "missing study": {k: v for k, v in _m().items() if k != "study"},
    "study is a list": _m(study=["s1"]),
    "study without title": _m(study={"id": "s1"}),
    "study id with escapes": _m(study={"id": "s1\x1b[2J", "title": "t"}),
    "files is a list": _m(files=["a.txt"]),
    "size is a string": _m(files={"a.txt": {"sha256": hashlib.sha256(b"x").hexdigest(), "size": "1"}}),
    "size is negative": _m(files={"a.txt": {"sha256": hashlib.sha256(b"x").hexdigest(), "size": -1}}),
    "size is true": _m(files={"a.txt": {"sha256": hashlib.sha256(b"x").hexdigest(), "size": True}}),
    "size is too big": _m(files={"a.txt": {"sha256": hashlib.sha256(b"x").hexdigest(), "size": 5 * GIB}}),
    "sha256 is a number": _m(files={"a.txt": {"sha256": 1, "size": 1}}),
    "file meta is a list": _m(files={"a.txt": [1, 2]}),
    "file and folder clash": _m(files={"a": {"sha256": "0" * 64, "size": 0}, "a/b": {"sha256": "0" * 64, "size": 0}}),
    "case clash": _m(files={"A.txt": {"sha256": "0" * 64, "size": 0}, "a.txt": {"sha256": "0" * 64, "size": 0}}),
    "manifest.json as a folder": _m(files={"manifest.json/x": {"sha256": "0" * 64, "size": 0}}),
    "manifest.json listed": _m(files={"manifest.json": {"sha256": "0" * 64, "size": 0}}),
    "control character in a name": _m(files={"a\x1b]0;x\x07.txt": {"sha256": "0" * 64, "size": 0}}),
    "bidi override in a name": _m(files={"a\u202etxt.exe": {"sha256": "0" * 64, "size": 0}}),
    "parent path": _m(files={"../a.txt": {"sha256": "0" * 64, "size": 0}}),
    "non-canonical name": _m(files={"./a.txt": {"sha256": "0" * 64, "size": 0}}),
    "backslash": _m(files={"a\\b.txt": {"sha256": "0" * 64, "size": 0}}),
    "sessions is a mapping": _m(sessions={"S1": {}}),
    "session without id": _m(sessions=[{"wave": 1}]),
    "wave is a string": _m(sessions=[{"id": "S1", "wave": "1"}]),
    "participants is a string": _m(sessions=[{"id": "S1", "participants": "P1"}]),
    "device_id missing": {k: v for k, v in _m().items() if k != "device_id"},
    "device_id is a number": _m(device_id=7),
    "unknown format": _m(format="fieldscribe-bundle/9"),
    "redactions are text": _m(redactions={"PERSON": "two"}),
    "audio flag is a string": _m(audio_included="yes"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MANIFESTS))
def test_hostile_manifests_are_refused_in_one_sentence(team, tmp_path, case):
    key, recipient = team
    path = craft(tmp_path, recipient, {"a.txt": b"x"}, manifest=HOSTILE_MANIFESTS[case])
    with pytest.raises(BundleRefused) as err:
        open_bundle(path, key)
    assert_one_sentence(str(err.value))
    assert "refused" in str(err.value).lower()


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[" * 100_000, b'{"a": NaN}', b"\xff\xfe\x00", b'{"format": 1, "format": 2}']
)
def test_manifests_that_are_not_plain_json_are_refused(team, tmp_path, raw):
    key, recipient = team
    with pytest.raises(BundleRefused, match="not valid JSON"):
        open_bundle(craft(tmp_path, recipient, {}, manifest=raw), key)


def test_a_well_formed_crafted_bundle_still_opens(team, tmp_path):
    key, recipient = team
    files = {"a.txt": b"x", "dir/b.txt": b"y" * 100_000, "dir/sub/c.txt": b"", "\u6587\u4ef6/" + "n" * 150: b"z"}
    opened = open_bundle(craft(tmp_path, recipient, files), key)
    assert opened.files == files and opened.manifest["study"]["id"] == "s1"


# -- the input file itself -------------------------------------------------------------------------------
def test_special_files_are_refused_without_reading(team, tmp_path):
    key, _ = team
    fifo = tmp_path / "pipe.age"
    os.mkfifo(fifo)
    code = (
        "import sys; from pathlib import Path; from fieldscribe.core.export.bundle import BundleRefused, open_bundle\n"
        "for p in sys.argv[2:]:\n"
        "    try: open_bundle(Path(p), Path(sys.argv[1]))\n"
        "    except BundleRefused as exc: print(exc)\n"
    )
    # a subprocess with a timeout: reading /dev/zero or a FIFO would otherwise hang the test run
    out = subprocess.run(
        [sys.executable, "-c", code, str(key), "/dev/zero", str(fifo), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = out.stdout.splitlines()
    assert out.returncode == 0 and len(lines) == 3, out.stderr
    assert all("is not a regular file" in line for line in lines)
    with pytest.raises(InvalidInput, match="is not a regular file"):
        open_bundle(craft(tmp_path, team[1], {}), Path("/dev/zero"))


def test_cli_bundle_open_dev_zero_is_one_sentence(team, tmp_path):
    from fieldscribe.cli import cli

    key, _ = team
    r = CliRunner().invoke(cli, ["bundle", "open", "/dev/zero", "--identity", str(key), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and r.stderr.startswith("Error:") and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


# -- extracting: all or nothing, private modes ------------------------------------------------------------
def test_unpacked_files_are_0600_and_folders_0700(team, tmp_path):
    key, recipient = team
    files = {"a.txt": b"x", "transcripts/S1.txt": b"y", "deep/er/z.txt": b"z"}
    out = tmp_path / "new" / "opened"
    old = os.umask(0)  # even with a permissive umask
    try:
        written = extract(open_bundle(craft(tmp_path, recipient, files), key), out)
    finally:
        os.umask(old)
    assert sorted(p.relative_to(out).as_posix() for p in written) == sorted([*files, "manifest.json"])
    for path in [out, *out.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"
    assert (out / "deep" / "er" / "z.txt").read_bytes() == b"z"
    assert [p.name for p in out.parent.iterdir()] == ["opened"]  # no temporary folder left beside it


def test_the_unpacked_manifest_is_the_signed_one(team, tmp_path):
    key, recipient = team
    opened = open_bundle(craft(tmp_path, recipient, {"a.txt": b"x"}), key)
    extract(opened, tmp_path / "o")
    assert hashlib.sha256((tmp_path / "o" / "manifest.json").read_bytes()).hexdigest() == opened.manifest_sha256


def _opened(files: dict[str, bytes]) -> Opened:
    return Opened(manifest_for(Ed25519PrivateKey.generate(), files), files)


@pytest.mark.parametrize(
    "files",
    [{"a": b"1", "a/b": b"2"}, {"x/a": b"1", "X/A": b"2"}, {"../a": b"1"}, {"manifest.json": b"{}"}, {"a\x1b": b"1"}],
)
def test_extract_refuses_clashing_names_before_writing_anything(tmp_path, files):
    out = tmp_path / "parent" / "o"
    with pytest.raises(BundleRefused):
        extract(_opened(files), out)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_extract_leaves_nothing_behind(tmp_path, monkeypatch):
    files = {"a.txt": b"1", "b/c.txt": b"2", "d.txt": b"3"}
    calls = []
    real = bundle_mod.write_private

    def fail_on_third(target, data):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(target, data)

    monkeypatch.setattr(bundle_mod, "write_private", fail_on_third)
    out = tmp_path / "new" / "deeper" / "o"
    with pytest.raises(InvalidInput, match=r"No space left on device.*nothing was left behind") as err:
        extract(_opened(files), out)
    assert_one_sentence(str(err.value))
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("setup", ["file", "non-empty folder", "symlink", "parent is a file"])
def test_extract_refuses_an_unusable_output_path(tmp_path, setup):
    out = tmp_path / "o"
    if setup == "file":
        out.write_text("keep")
    elif setup == "non-empty folder":
        out.mkdir()
        (out / "keep").write_text("keep")
    elif setup == "symlink":
        (tmp_path / "elsewhere").mkdir()
        out.symlink_to(tmp_path / "elsewhere")
    else:
        (tmp_path / "f").write_text("keep")
        out = tmp_path / "f" / "o"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(InvalidInput) as err:
        extract(_opened({"a.txt": b"1"}), out)
    assert_one_sentence(str(err.value))
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_extract_into_an_existing_empty_folder(tmp_path):
    (tmp_path / "o").mkdir()
    extract(_opened({"a.txt": b"1"}), tmp_path / "o")
    assert (tmp_path / "o" / "a.txt").read_bytes() == b"1"


# -- terminal escapes -------------------------------------------------------------------------------------
def test_printable_shows_control_characters_instead_of_sending_them():
    assert printable("plain 中文 text, ZWNJ\u200c kept") == "plain 中文 text, ZWNJ\u200c kept"
    shown = printable(ESC_TITLE + "\ud800\x00\x7f")
    assert shown == ("Study \\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mred\\u202eexe.txt\\x9b1m\\u2028end\\ud800\\x00\\x7f")
    assert shown.isprintable()


def test_cli_output_from_a_bundle_is_sanitised(team, tmp_path):
    from fieldscribe.cli import cli

    key, recipient = team
    signer = Ed25519PrivateKey.generate()
    m = manifest_for(signer, {"a.txt": b"x"}, study={"id": "s1", "title": ESC_TITLE, "ethics_reference": "\x1b[8m"})
    path = seal(tmp_path, recipient, tar_of(signed(signer, m) + [member("a.txt", b"x")]), "evil\x1b[2J.fsbundle.age")
    r = CliRunner().invoke(cli, ["bundle", "open", str(path), "--identity", str(key), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "Opened evil\\x1b[2J.fsbundle.age: Study \\x1b]0;pwned\\x07" in r.stdout
    for raw in ("\x1b", "\x07", "\x9b", "\u202e", "\u2028"):
        assert raw not in r.output


def test_refusals_quote_hostile_names_printably(team, tmp_path):
    from fieldscribe.cli import cli

    key, recipient = team
    path = craft(
        tmp_path,
        recipient,
        {"a.txt": b"x"},
        members=[member("a.txt", b"x"), member("\x1b]0;owned\x07\u202e", b"", tarfile.SYMTYPE, linkname="/")],
    )
    r = CliRunner().invoke(cli, ["bundle", "open", str(path), "--identity", str(key), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "\\x1b]0;owned\\x07\\u202e" in r.stderr
    assert "\x1b" not in r.output and "\u202e" not in r.output and not (tmp_path / "o").exists()


# -- keygen ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["/proc/self/x", "folder", "existing", "below a file", "existing pub"])
def test_keygen_to_an_unusable_path_is_one_sentence(tmp_path, where):
    target = {
        "/proc/self/x": Path("/proc/self/x"),
        "folder": tmp_path,
        "existing": tmp_path / "k",
        "below a file": tmp_path / "k" / "x",
        "existing pub": tmp_path / "j",
    }[where]
    (tmp_path / "k").write_text("keep")
    (tmp_path / "j.pub").write_text("keep")
    before = sorted(tmp_path.iterdir())
    with pytest.raises(InvalidInput) as err:
        keygen(target)
    assert_one_sentence(str(err.value))
    assert sorted(tmp_path.iterdir()) == before and (tmp_path / "k").read_text() == "keep"


def test_cli_keygen_to_proc_is_one_sentence():
    from fieldscribe.cli import cli

    r = CliRunner().invoke(cli, ["bundle", "keygen", "--out", "/proc/self/x"])
    assert r.exit_code == 1 and r.stderr.startswith("Error:") and "Traceback" not in r.output


def test_keygen_creates_the_identity_0600_in_one_step(tmp_path, monkeypatch):
    def no_chmod(*args, **kwargs):
        raise AssertionError("the identity must be created 0600, not chmod-ed afterwards")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(Path, "chmod", no_chmod)
    old = os.umask(0)
    try:
        path, recipient = keygen(tmp_path / "team")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (tmp_path / "team.pub").read_text().strip() == recipient
    assert "AGE-SECRET-KEY-" in path.read_text()


def test_a_recipient_file_that_is_not_text_is_one_sentence(tmp_path):
    from fieldscribe.core.export.keys import read_recipients

    binary = tmp_path / "team.pub"
    binary.write_bytes(b"\xff\xfe\x00age1")
    with pytest.raises(InvalidInput, match="cannot be read as text"):
        read_recipients([str(binary)])
