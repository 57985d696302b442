"""Every notebook in ``examples/`` runs top to bottom in a fresh kernel, on a tiny budget.

As the scripts in ``test_examples.py``, each notebook reads ``SSMCAST_EXAMPLE_FAST=1`` (a
tiny model on a few weeks of data) and ``SSMCAST_EXAMPLE_EPOCHS=1``. The kernel inherits the
compiler settings and the compilation cache of the test session (see ``conftest.py``). The
committed notebooks keep the outputs of a run with their default budget, which the docs
render; they must stay small.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))
MAX_BYTES = 300_000


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"weather_tutorial.ipynb", "stations_xarray.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_small_and_executed(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: store the outputs of a small run"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    counts = [cell["execution_count"] for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name} must be committed as run top to bottom in a fresh kernel, with its "
        "outputs: run `python docs/_notebooks.py`"
    )
    outputs = [output for cell in code for output in cell["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "it shows its figures"
    source = "".join("".join(cell["source"]) for cell in code)
    assert "SSMCAST_EXAMPLE_FAST" in source and "SSMCAST_EXAMPLE_EPOCHS" in source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch, tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook tools come with the dev extra")
    nbclient = pytest.importorskip("nbclient", reason="the notebook tools come with the dev extra")
    pytest.importorskip("ipykernel", reason="the notebook tools come with the dev extra")
    monkeypatch.setenv("SSMCAST_EXAMPLE_FAST", "1")
    monkeypatch.setenv("SSMCAST_EXAMPLE_EPOCHS", "1")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors
