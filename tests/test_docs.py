"""The documentation builds in strict mode, and the code on its pages runs.

* ``mkdocs build --strict`` must succeed: broken links, missing pages and docstrings that
  mkdocstrings cannot render fail the build.
* Every ```` ```python ```` block of ``docs/index.md`` and ``docs/guide/*.md`` runs, in page
  order, in one fresh namespace per page (a page reads as one script), in the test process
  (which shares its compiled programs with the other tests; warnings filters, the working
  folder and open figures are restored after each page). A
  block is skipped when its fence carries more than the language
  (```` ```python title="..." ````) or when the line before the fence is
  ``<!-- no-test -->``. A failing block is reported with its page and its line in the
  Markdown file. A page whose first line is ``<!-- requires: NAME -->`` (an optional
  dependency, such as sktime) is skipped where ``NAME`` cannot be imported.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES_WITH_CODE = [DOCS / "index.md", *sorted((DOCS / "guide").glob("*.md"))]

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_NO_TEST = "<!-- no-test -->"
_REQUIRES = re.compile(r"^<!-- requires: (?P<module>[\w.]+) -->$")
_PYTHON = ("python", "py", "python3")  # a fence with attributes (title=...) is not run


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """The ``python`` code blocks of a Markdown page that should run: (first line, code)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        skipped = i > 0 and lines[i - 1].strip() == _NO_TEST
        if info in _PYTHON and not skipped:
            body = [line.removeprefix(indent) for line in lines[start:end]]
            blocks.append((start + 1, "\n".join(body)))
        i = end + 1
    return blocks


def _page_id(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_page_id)
def test_code_blocks_run(page: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requires = _REQUIRES.match(page.read_text(encoding="utf-8").partition("\n")[0])
    if requires:
        pytest.importorskip(requires["module"], reason="an optional dependency of the page")
    blocks = python_blocks(page)
    assert blocks, f"docs/{_page_id(page)} has no ```python blocks to run; is the fence right?"
    filename = f"docs/{_page_id(page)}"
    namespace = {"__name__": "__docs__"}
    monkeypatch.chdir(ROOT)
    with warnings.catch_warnings():
        for first_line, code in blocks:
            try:
                # padded with blank lines: tracebacks give the line in the Markdown file
                exec(compile("\n" * (first_line - 1) + code, filename, "exec"), namespace)
            except Exception:
                pytest.fail(
                    f"The code block at {filename}:{first_line} failed; fix the page or the "
                    f"code it documents.\n\n{code}\n\n{traceback.format_exc()}",
                    pytrace=False,
                )
            finally:
                if "matplotlib.pyplot" in sys.modules:
                    sys.modules["matplotlib.pyplot"].close("all")


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs tools come with the dev extra")
    pytest.importorskip("material", reason="the docs tools come with the dev extra")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs tools: dev extra")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        problems = [
            line for line in output.splitlines() if line.lstrip().startswith(("WARNING", "ERROR"))
        ]
        pytest.fail(
            "`mkdocs build --strict` failed; fix these (run `python -m mkdocs build --strict` "
            "to reproduce):\n" + "\n".join(problems or output.splitlines()[-30:]),
            pytrace=False,
        )
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "api" / "ssm" / "index.html").is_file()
