"""The notebooks of ``examples/``: rendered into the docs, and executed to refresh them.

As a MkDocs hook (listed in ``mkdocs.yml``), every ``examples/*.ipynb`` becomes a page
``notebooks/<name>.md``, rendered from the committed notebook with its stored outputs:
Markdown cells as they are, code cells as Python blocks, text outputs as text blocks, tables
as HTML and figures as PNG files beside the page. Nothing is executed at build time, and
nothing beyond MkDocs is needed.

As a script, it runs the notebooks top to bottom in a fresh kernel with their default budget
and stores the outputs in place (this needs ``nbclient`` and ``ipykernel``, in the ``dev``
extra)::

    python docs/_notebooks.py                       # every notebook
    python docs/_notebooks.py examples/weather_tutorial.ipynb
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PAGES = "notebooks"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _fence(text: str, language: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


def render(notebook: dict, name: str) -> tuple[str, dict[str, bytes]]:
    """A notebook as Markdown, and its figures as PNG files (relative path -> bytes).

    Args:
        notebook: The notebook's JSON.
        name: The notebook's file name without the suffix; figures go to ``<name>/``.
    """
    blocks: list[str] = []
    images: dict[str, bytes] = {}
    for cell in notebook["cells"]:
        source = _text(cell["source"])
        if cell["cell_type"] == "markdown":
            blocks.append(source)
            continue
        if cell["cell_type"] != "code" or not source.strip():
            continue
        blocks.append(_fence(source, "python"))
        for output in cell.get("outputs", []):
            kind = output["output_type"]
            if kind == "stream":
                blocks.append(_fence(_text(output["text"]), "text"))
            elif kind == "error":
                blocks.append(_fence("\n".join(output["traceback"]), "text"))
            elif kind in ("execute_result", "display_data"):
                data = output.get("data", {})
                if "image/png" in data:
                    path = f"{name}/figure-{len(images) + 1}.png"
                    images[path] = base64.b64decode(_text(data["image/png"]))
                    blocks.append(f"![Figure {len(images)}]({path})")
                elif "text/html" in data:
                    html = _text(data["text/html"])
                    blocks.append(f'<div class="notebook-output">\n{html}\n</div>')
                elif "text/plain" in data:
                    blocks.append(_fence(_text(data["text/plain"]), "text"))
    source = f"examples/{name}.ipynb"
    note = (
        f"*This page is the notebook `{source}`, with the outputs stored in it. Open it in "
        "Jupyter to run it yourself.*"
    )
    if blocks and blocks[0].lstrip().startswith("# "):
        title, _, rest = blocks[0].lstrip().partition("\n")
        blocks[0] = f"{title}\n\n{note}\n{rest}"
    else:
        blocks.insert(0, note)
    return "\n\n".join(blocks) + "\n", images


def on_files(files, config):
    """MkDocs hook: add a page (and its figures) for every notebook in ``examples/``."""
    from mkdocs.structure.files import File

    for path in sorted(EXAMPLES.glob("*.ipynb")):
        page, images = render(json.loads(path.read_text(encoding="utf-8")), path.stem)
        files.append(File.generated(config, f"{PAGES}/{path.stem}.md", content=page))
        for relative, content in images.items():
            files.append(File.generated(config, f"{PAGES}/{relative}", content=content))
    return files


def execute(path: Path, timeout: int = 1800) -> None:
    """Run a notebook top to bottom in a fresh kernel and store its outputs in place."""
    import nbclient
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, path)
    print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1000:.0f} kB")


if __name__ == "__main__":
    targets = [Path(arg).resolve() for arg in sys.argv[1:]] or sorted(EXAMPLES.glob("*.ipynb"))
    for target in targets:
        execute(target)
