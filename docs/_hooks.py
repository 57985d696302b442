"""MkDocs hooks for the ssmcast docs: render saved benchmark output as Markdown tables.

A page line ``<!-- scan-table: benchmarks/scan-cpu.txt -->`` (a path under ``docs/``) is
replaced by the output that ``python benchmarks/scan.py`` printed into that file, with each
fixed-width table turned into a Markdown table and the raw text kept in a collapsed block.
To update a page, rerun the benchmark into the file; nothing is copied by hand.

A line ``<!-- include: benchmarks/accuracy-report.txt -->`` is replaced by that file's text,
Markdown written by a benchmark script (``benchmarks/accuracy.py --report``, ``speed.py``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

_MARKER = re.compile(r"^<!-- scan-table: (?P<path>\S+) -->$", re.MULTILINE)
_INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->$", re.MULTILINE)
_TABLE_HEADER = re.compile(r"^\s+T\s")


def _header_cells(line: str) -> list[str]:
    """Column names of a header line; a trailing unit ("sequential ms") joins its name."""
    cells: list[str] = []
    for token in line.split():
        if token == "ms" and cells:
            cells[-1] += " ms"
        else:
            cells.append(token)
    return cells


def _table(lines: list[str], source: str) -> list[str]:
    """A Markdown table from a header line and rows; ``name=value`` tokens become columns."""
    header = _header_cells(lines[0])
    extra_names: list[str] = []
    rows = []
    for line in lines[1:]:
        tokens = line.split()
        plain = [t for t in tokens if "=" not in t]
        extra = dict(t.split("=", 1) for t in tokens if "=" in t)
        if len(plain) != len(header):
            raise PluginError(
                f"{source}: a row has {len(plain)} columns but the header {header} has "
                f"{len(header)}: {line.strip()!r}. Is the file the output of benchmarks/scan.py?"
            )
        extra_names += [name for name in extra if name not in extra_names]
        rows.append((plain, extra))
    names = header + [f"{name} ms" for name in extra_names]
    numeric = [re.fullmatch(r"[\d.]+x?", rows[0][0][i]) is not None for i in range(len(header))]
    numeric += [True] * len(extra_names)
    out = [
        "| " + " | ".join(names) + " |",
        "|" + "|".join("---:" if num else "---" for num in numeric) + "|",
    ]
    for plain, extra in rows:
        cells = plain + [extra.get(name, "") for name in extra_names]
        out.append("| " + " | ".join(cells) + " |")
    return out


def render_scan_output(text: str, source: str) -> str:
    """Markdown for the output of ``benchmarks/scan.py`` (or ``pallas.py``): text, tables, raw."""
    lines = text.rstrip().splitlines()
    if not lines or not lines[0].startswith(("ssmcast scan benchmark", "ssmcast Pallas kernels")):
        raise PluginError(
            f"{source} does not start like the output of benchmarks/scan.py or pallas.py."
        )
    out: list[str] = []
    i = 0
    while i < len(lines):
        if _TABLE_HEADER.match(lines[i]):
            end = i + 1
            while end < len(lines) and lines[end].strip():
                end += 1
            out += ["", *_table(lines[i:end], source), ""]
            i = end
        else:
            if lines[i].strip():
                out += ["", lines[i].strip()]
            i += 1
    raw = "\n".join(f"        {line}" for line in lines)
    out += ["", f'??? note "Raw output ({Path(source).name})"', "", "    ```text", raw, "    ```"]
    return "\n".join(out) + "\n"


def on_page_markdown(markdown: str, *, config: Any, **kwargs: Any) -> str:
    """Replace each ``scan-table`` and ``include`` marker with the benchmark output."""

    def replace(match: re.Match[str]) -> str:
        path = Path(config["docs_dir"]) / match["path"]
        if not path.is_file():
            raise PluginError(f"The benchmark output {path} named on a docs page is missing.")
        return render_scan_output(path.read_text(encoding="utf-8"), f"docs/{match['path']}")

    def include(match: re.Match[str]) -> str:
        path = Path(config["docs_dir"]) / match["path"]
        if not path.is_file():
            raise PluginError(f"The benchmark output {path} named on a docs page is missing.")
        return path.read_text(encoding="utf-8")

    return _INCLUDE.sub(include, _MARKER.sub(replace, markdown))
