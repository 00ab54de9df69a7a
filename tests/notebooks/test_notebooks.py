"""The walkthrough notebooks run green on a real kernel; their cells assert what they show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS][:2] == ["01-feeds.ipynb", "02-jobs.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this environment: the notebook talks to the test server.
    monkeypatch.setenv("THOONK_REDIS_URL", redis_url)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on failure
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code_cells)
    errors = [o for c in code_cells for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []
    assert os.environ["THOONK_REDIS_URL"] == redis_url


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_run_all_leaves_the_views_on_screen(path: Path) -> None:
    # A newcomer's "Run All" must end with live views, not blank outputs: no
    # cell closes a view or the connection (the clean-up cell is commented out).
    notebook = nbformat.read(path, as_version=4)
    closing = [
        line.strip()
        for cell in notebook.cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if ".close()" in line and not line.lstrip().startswith("#")
    ]
    assert all(line.startswith("sub.close()") for line in closing), closing
    last = [c for c in notebook.cells if c.cell_type == "code"][-1].source
    assert "t.close()" in last and all(
        line.startswith("#") for line in last.splitlines() if line.strip()
    ), "the last cell is the commented-out clean-up"
