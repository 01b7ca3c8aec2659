"""The dependency direction ui -> app -> models -> core, checked on every module's imports,
and core importing with the heavy engines made unavailable."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = {
    "PySide6",
    "shiboken6",
    "torch",
    "llama_cpp",
    "sentence_transformers",
    "rapidocr",
    "onnxruntime",
    "transformers",
    "mss",
    "Xlib",
}
# What each layer must not import (first component of the module path).
FORBIDDEN = {
    "core": HEAVY | {"app", "ui", "models"},
    "models": {"app", "ui", "PySide6", "shiboken6"},
    "app": {"ui"},
    "ui": {"models", "torch", "llama_cpp", "sentence_transformers", "rapidocr", "onnxruntime"},
}
# Widgets reach the domain through `app` services; from `core` they may use only its value
# types and declarations (DESIGN.md: "ui imports app, and core types/errors").
UI_MAY_USE_FROM_CORE = {
    "core.errors",  # UserFacingError and its kinds, to show them as such
    "core.types",  # the value types services hand back
    "core.version",  # the About box
    "core.settings",  # the declared settings the Settings page is built from
    "core.passphrase",  # the strength meter under a passphrase field (a pure function)
    "core.erase",  # EraseSpec / Preview / Receipt: the values of an erase
    "core.clients",  # consent states and Scope: the values the Connected apps page edits
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_layers_import_only_downwards() -> None:
    problems = []
    for layer, banned in FORBIDDEN.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            bad = imported_roots(path) & banned
            if bad:
                problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not problems, "layering violated:\n" + "\n".join(problems)


def core_modules_imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "core")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "core":
                found.update(f"core.{a.name}" for a in node.names)
            elif node.module.startswith("core."):
                found.add(node.module)
    return found


def test_widgets_use_only_core_types_and_errors() -> None:
    problems = []
    for path in sorted((ROOT / "ui").rglob("*.py")):
        bad = core_modules_imported(path) - UI_MAY_USE_FROM_CORE
        if bad:
            problems.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not problems, "ui must reach core through app services:\n" + "\n".join(problems)


def test_core_imports_without_heavy_engines() -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "core").rglob("*.py")
    )
    code = (
        "import sys, importlib\n"
        f"blocked = {sorted(HEAVY)!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in blocked:\n"
        "            raise ImportError('blocked in this test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print('ok', len(" + repr(modules) + "))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


# Modules mypy still exempts (pyproject.toml, [[tool.mypy.overrides]] ignore_errors). The list
# may only shrink: a module made clean is taken off both lists; none is ever added.
MYPY_EXEMPT_AT_MOST = {
    "app.cli",
    "app.trust_service",
    "bench.capture",
    "bench.ocr",
    "bench.trust_ingest",
    "models.llm_host",
    "models.ocr",
    "ui.about",
    "ui.chat_window",
    "ui.result_list",
    "ui.search_page",
    "ui.timeline_page",
    "ui.trust_review",
    "ui.unlock",
}


def test_mypy_covers_every_package_and_its_exemptions_only_shrink() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert set(config["files"]) >= {"core", "models", "app", "ui", "bench", "main.py"}
    exempt = {
        m
        for override in config.get("overrides", [])
        if override.get("ignore_errors")
        for m in (
            [override["module"]] if isinstance(override["module"], str) else override["module"]
        )
    }
    grown = exempt - MYPY_EXEMPT_AT_MOST
    assert not grown, f"modules newly exempt from mypy (make them clean instead): {sorted(grown)}"


# Import circles between our modules (any import: top level, TYPE_CHECKING or in a function).
# Each entry is one circle that still exists; the list may only shrink.
KNOWN_CIRCLES: list[set[str]] = []


def _module_graph() -> dict[str, set[str]]:
    files = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for layer in FORBIDDEN
        for p in (ROOT / layer).rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{a.name}" for a in node.names)
        # A package's __init__ gathering its own submodules is how packages work, not a circle.
        graph[name] = {
            t for t in targets if t in files and t != name and not t.startswith(name + ".")
        }
    return graph


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_circle_finder_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [{"a", "b", "c"}]


def test_no_new_import_circles() -> None:
    circles = _circles(_module_graph())
    new = [sorted(c) for c in circles if c not in KNOWN_CIRCLES]
    assert not new, f"modules importing each other: {new}"
    gone = [sorted(c) for c in KNOWN_CIRCLES if c not in circles]
    assert not gone, f"circles broken: take them off KNOWN_CIRCLES: {gone}"


# Where a thread may be started by hand: the lanes themselves and the few objects that own a
# thread guarding their own state. Everything else submits to a lane (core.lanes).
THREAD_OWNERS = {
    "core/lanes.py": "the lanes' pool threads",
    "core/store.py": "the store's single writer (every write goes through it, in order)",
    "core/vector_index.py": "the index's writer (adds and snapshots in order)",
    "app/capture_service.py": "the capture loop: grab and read threads paced by the screen",
    "models/llm_host.py": (
        "the model process's supervision: the spawner (PDEATHSIG binds a child to the thread"
        " that started it, so it must outlive the child), a pipe reader per child, the watchdog"
        " and the restart delay"
    ),
    "models/llm_child.py": "inside the model's own process (its stdin reader)",
}


def _thread_starts(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("Thread", "Timer", "ThreadPoolExecutor", "QThread", "QThreadPool"):
                lines.append(node.lineno)
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if name in ("Thread", "QThread", "QRunnable"):
                    lines.append(node.lineno)
    return lines


def test_threads_start_only_on_lanes_and_in_their_owners() -> None:
    found = {
        str(p.relative_to(ROOT)): lines
        for layer in ("core", "models", "app", "ui")
        for p in (ROOT / layer).rglob("*.py")
        if (lines := _thread_starts(p))
    }
    assert "core/lanes.py" in found  # the finder sees threads
    stray = {path: lines for path, lines in found.items() if path not in THREAD_OWNERS}
    assert not stray, f"threads started outside the lanes (submit to core.lanes): {stray}"


def test_no_test_doubles_ship_in_the_product() -> None:
    """Fakes of the engines live with the tests (tests/fakes.py, tests/capture_fakes.py): the
    product's packages hold no fake class, so none can be wired in by mistake or bundled."""
    shipped = []
    for layer in FORBIDDEN:
        for p in (ROOT / layer).rglob("*.py"):
            tree = ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
            shipped += [
                f"{p.relative_to(ROOT)}:{n.name}"
                for n in ast.walk(tree)
                if isinstance(n, ast.ClassDef) and n.name.startswith("Fake")
            ]
    assert not shipped, f"test doubles in product modules (move them to tests/): {shipped}"
