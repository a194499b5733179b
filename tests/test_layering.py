"""The core and the CLI must work without Textual, and stay quick to import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, sys
import fieldscribe.core.vault, fieldscribe.core.study, fieldscribe.core.participants
import fieldscribe.core.consent, fieldscribe.core.sessions, fieldscribe.core.audit, fieldscribe.core.guides
import fieldscribe.core.demo, fieldscribe.core.recordings, fieldscribe.core.recovery, fieldscribe.core.timeline
import fieldscribe.core.transcripts, fieldscribe.core.editing, fieldscribe.core.transcription.models, fieldscribe.core.transcription.render
import fieldscribe.cli, fieldscribe.services
heavy = {'textual', 'rich', 'faster_whisper', 'ctranslate2', 'sounddevice', 'soundfile', 'av'}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('fieldscribe.core.audio.'))))
"""


def test_core_and_cli_import_without_textual_or_heavy_libraries():
    # numpy is not on the list: sqlite-utils imports it eagerly when it is installed.
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout)
    assert loaded == [], f"core/CLI pulled in {loaded}"


def test_textual_is_installed_so_the_check_above_means_something():
    pytest.importorskip("textual")
    out = subprocess.run(
        [sys.executable, "-c", "import textual, sys; print('textual' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == "True"


def test_no_core_module_mentions_textual_or_rich():
    from pathlib import Path

    from fieldscribe import core

    offenders = []
    for path in Path(core.__file__).parent.rglob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import textual", "from textual", "import rich", "from rich")):
                offenders.append(f"{path.name}: {stripped}")
    assert offenders == []


def test_importing_fieldscribe_creates_no_files(tmp_path):
    code = "import fieldscribe.cli, fieldscribe.core.vault, fieldscribe.core.paths"
    env_home = tmp_path / "home"
    env_home.mkdir()
    import os

    env = {
        **os.environ,
        "HOME": str(env_home),
        "XDG_DATA_HOME": str(env_home / "data"),
        "XDG_CONFIG_HOME": str(env_home / "config"),
        "XDG_CACHE_HOME": str(env_home / "cache"),
    }
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert list(env_home.rglob("*")) == []


def test_no_module_of_the_core_imports_itself_back():
    """Module-level cycles inside the core (import-linter checks packages; this checks every
    module, counting imports placed inside functions too, which only hide a cycle)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("fieldscribe")
    core = {m for m in graph.modules if m.startswith("fieldscribe.core")}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if w not in core:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(core):
        if module not in index:
            visit(module)
    assert cycles == [], f"import cycles in the core: {cycles}"


def test_no_file_uses_another_modules_underscore_names():
    """A leading underscore means "this module's own": nothing in src/, tests/ or scripts/
    imports one from a fieldscribe module or reaches one through a module it imported."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = []
    for path in [*(root / "src").rglob("*.py"), *(root / "tests").rglob("*.py"), *(root / "scripts").glob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules: set[str] = set()  # local names bound to fieldscribe modules
        for node in ast.walk(tree):
            if (isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("fieldscribe", "."))) or (
                isinstance(node, ast.ImportFrom) and node.level
            ):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(root)}:{node.lineno} imports {alias.name}")
                    modules.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("fieldscribe"):
                        modules.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert found == [], "\n".join(found)
