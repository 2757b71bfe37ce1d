"""The package's layers and import graph: every import points down a layer (import-linter, with the
contract in pyproject.toml), and no module imports itself through others."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, src: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(LINT.parent), "PYTHONPATH": str(src), "HOME": str(cwd)}
    return subprocess.run(
        [str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_points_down_a_layer():
    result = _lint(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "src" / "cifarlab", tmp_path / "src" / "cifarlab")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    errors = tmp_path / "src" / "cifarlab" / "data" / "splits.py"
    errors.write_text(errors.read_text() + "\n\ndef _late():\n    from ..training.trainer import Trainer  # noqa\n")
    result = _lint(tmp_path, tmp_path / "src")
    assert result.returncode != 0
    assert "cifarlab.data.splits -> cifarlab.training.trainer" in result.stdout


def cycles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan): each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in imports.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(imports):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_through_others():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    graph = grimp.build_graph("cifarlab", cache_dir=None)
    # A package's __init__ importing its own modules is how a package is built, not a circle.
    imports = {
        m: {t for t in graph.find_modules_directly_imported_by(m) if not m.startswith(t + ".")} for m in graph.modules
    }
    assert cycles(imports) == []


# Readable in one sitting: DEVELOPERS.md's limits, with the few lines of slack that "about" allows.
MAX_MODULE_LINES = 420
MAX_FUNCTION_LINES = 62


def oversized(root: Path) -> list[str]:
    """Modules and functions under ``root`` over the limits, as 'path: N lines' / 'path:name: N lines'."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        rel = path.relative_to(root)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            found.append(f"{rel}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{rel}:{node.name}: {length} lines")
    return found


def test_modules_and_functions_stay_readable(tmp_path):
    assert oversized(ROOT / "src" / "cifarlab") == []
    # and the check sees what it should: a long module, a long function in it
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text("def f():\n" + body + "\n" + "\n" * MAX_MODULE_LINES)
    assert oversized(tmp_path) == [
        f"long.py: {MAX_FUNCTION_LINES + 1 + MAX_MODULE_LINES} lines",
        f"long.py:f: {MAX_FUNCTION_LINES + 1} lines",
    ]
