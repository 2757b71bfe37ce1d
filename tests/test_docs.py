"""The documentation speaks to users: no absolute paths of the machine a figure was measured on, and
no story of how the work was done (sessions, issue numbers, borrowed machines, worktrees)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABSOLUTE = re.compile(r"(?<![\w.$])(?:/work/|/root/|/home/[a-z]|/tmp/|/Users/|[A-Z]:\\\\Users)")
STORY = re.compile(r"\b(?:sessions?|issue \d+|lent|worktrees?)\b", re.IGNORECASE)


def _tracked(*patterns: str) -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / p for p in out.stdout.splitlines() if (ROOT / p).is_file()]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return None  # binary (images, databases)
    return data.decode("utf-8", errors="replace")


def test_no_absolute_machine_paths_in_the_docs():
    found = []
    for path in _tracked("docs", "README.md", "DEVELOPERS.md", "notebooks"):
        text = _text(path)
        for n, line in enumerate((text or "").splitlines(), 1):
            if ABSOLUTE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found, "absolute paths of a machine (write them relative, or as OUT/, WORKDIR/):\n" + "\n".join(found)


def test_the_user_docs_tell_no_story_of_the_work():
    found = []
    for path in _tracked("README.md", "docs/*.md"):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if STORY.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not found, "words about how the work was done, not about the project:\n" + "\n".join(found)


def test_the_patterns_catch_what_they_should():
    assert ABSOLUTE.search('"run_dir": "/root/out/runs/x"') and ABSOLUTE.search("cd /work/main")
    assert not ABSOLUTE.search("OUT/runs/x") and not ABSOLUTE.search("../shared/data") and not ABSOLUTE.search("$OUT/x")
    assert STORY.search("in another session") and STORY.search("see issue 12") and not STORY.search("sessional")
