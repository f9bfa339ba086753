"""tools/time_notebooks.py --write: a CPU run fills the CPU columns, a GPU run the GPU columns, neither the other's.

Every test writes into a temporary copy of the README (and of a notebook), never the real ones.
"""

import re
import shutil
import sys
from datetime import date
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from time_notebooks import (  # noqa: E402  (tools/ is no package)
    COLUMNS, WARMUP_TITLE, rounded, title, write_readme, write_times)

GPU = "NVIDIA Fake 80GB, CUDA 12.4, PyTorch 2.5.1, Python 3.11.7"
CPU = "2-core x86_64 CPU, Python 3.11.7, device cpu"
GPU_COMMAND = "python tools/time_notebooks.py --write --warmup"
NOTEBOOK = ROOT / "notebooks" / "01_mse_blurriness.ipynb"


@pytest.fixture
def readme(tmp_path):
    """A copy of the real README, to write into."""
    return Path(shutil.copy(ROOT / "README.md", tmp_path / "README.md"))


def table(readme: Path) -> dict[str, dict[str, str]]:
    """The run-time table's rows as {column: cell} by title."""
    block = readme.read_text().split("<!-- run-times:start -->")[1].split("<!-- run-times:end -->")[0]
    rows = [[c.strip() for c in line.strip()[1:-1].split("|")] for line in block.splitlines() if line.startswith("|")]
    assert rows[0] == list(COLUMNS)
    return {cells[0]: dict(zip(COLUMNS, cells, strict=True)) for cells in rows[2:]}


def paragraphs(readme: Path) -> list[str]:
    """The paragraphs under the run-time table."""
    block = readme.read_text().split("<!-- run-times:start -->")[1].split("<!-- run-times:end -->")[0]
    return [p for p in re.split(r"\n\s*\n", block.strip()) if not p.startswith("|")]


def row(name: str, first: float, cached: float, minutes: int = 40) -> dict:
    """A row as time_notebooks.main measures it."""
    return {"title": name, "class_minutes": minutes, "first_s": first, "cached_s": cached}


def warmup(first: float) -> dict:
    return {"title": WARMUP_TITLE, "class_minutes": 0, "first_s": first, "cached_s": 0.0}


def test_gpu_write_fills_the_gpu_columns_and_paragraph_and_keeps_the_cpu_ones(readme):
    name = title(NOTEBOOK)
    before, cpu_paragraph = table(readme), paragraphs(readme)[0]
    for _ in range(2):  # a second write replaces the first, it does not add a row or a paragraph
        write_readme([row(name, 12.0, 3.0), warmup(400.0)], "cuda", GPU, GPU_COMMAND, readme)
    after = table(readme)
    assert after.keys() == before.keys()
    assert after[name]["GPU, first run"] == "10 s" and after[name]["GPU, cached"] == "5 s"
    assert after[WARMUP_TITLE]["GPU, first run"] == "6½ min" and after[WARMUP_TITLE]["GPU, cached"] == ""
    for title_, cells in before.items():
        cpu = ("class time", "full mode, first run", "full mode, cached")
        assert [after[title_][c] for c in cpu] == [cells[c] for c in cpu], title_
    cpu_after, gpu_after = paragraphs(readme)
    assert cpu_after == cpu_paragraph
    assert gpu_after.startswith("GPU columns: last measured")
    for fact in ("NVIDIA Fake 80GB", "CUDA 12.4", "PyTorch 2.5.1", f"{date.today():%Y-%m-%d}", f"`{GPU_COMMAND}`"):
        assert fact in gpu_after


def test_cpu_write_keeps_the_gpu_cells_and_paragraph(readme):
    name, other = title(NOTEBOOK), "00 · Getting started"
    write_readme([row(name, 12.0, 3.0), row(other, 100.0, 50.0, 10), warmup(400.0)], "cuda", GPU, GPU_COMMAND, readme)
    gpu_table, gpu_paragraph = table(readme), paragraphs(readme)[1]
    write_readme([row(name, 200.0, 61.0), warmup(3000.0)], "cpu", CPU, "python tools/time_notebooks.py --write", readme)
    after = table(readme)
    assert after[name]["full mode, first run"] == "3½ min" and after[name]["full mode, cached"] == "60 s"
    assert after[WARMUP_TITLE]["full mode, first run"] == "50 min"
    for title_, cells in gpu_table.items():
        assert (after[title_]["GPU, first run"], after[title_]["GPU, cached"]) == (cells["GPU, first run"],
                                                                                  cells["GPU, cached"]), title_
    assert after[other]["full mode, first run"] == gpu_table[other]["full mode, first run"]  # not measured: kept
    cpu_after, gpu_after = paragraphs(readme)
    assert cpu_after.startswith(f"Last measured on {date.today():%Y-%m-%d} ({CPU}; bundled digits)")
    assert gpu_after == gpu_paragraph


def test_a_new_notebook_shows_a_dash_in_the_columns_not_measured(readme):
    write_readme([row("13 · Measured on a GPU", 30.0, 10.0, 25)], "cuda", GPU, GPU_COMMAND, readme)
    write_readme([row("14 · Measured on a CPU", 30.0, 10.0, 35)], "cpu", CPU, "python tools/time_notebooks.py --write",
                 readme)
    cells = table(readme)
    assert list(cells["13 · Measured on a GPU"].values())[1:] == ["25 min", "—", "—", "30 s", "10 s"]
    assert list(cells["14 · Measured on a CPU"].values())[1:] == ["35 min", "30 s", "10 s", "—", "—"]
    assert list(cells)[-1] == WARMUP_TITLE


@pytest.mark.parametrize("seconds", [3.0, 44.0, 89.0, 91.0, 105.0, 1772.0])
def test_cells_are_rounded_as_rounded(readme, seconds):
    name = title(NOTEBOOK)
    write_readme([row(name, seconds, seconds / 2)], "cuda", GPU, GPU_COMMAND, readme)
    assert table(readme)[name]["GPU, first run"] == rounded(seconds)
    assert table(readme)[name]["GPU, cached"] == rounded(seconds / 2)


def test_rounded():
    assert [rounded(s) for s in (1, 44, 89, 91, 105, 1772)] == ["5 s", "45 s", "90 s", "1½ min", "2 min", "29½ min"]


@pytest.mark.parametrize("device_type", ["cuda", "cpu"])
def test_only_a_cpu_write_touches_the_notebooks_run_time_line(readme, tmp_path, device_type):
    notebook = Path(shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name))
    before = notebook.read_text()
    write_times([notebook], [row(title(notebook), 200.0, 61.0), warmup(400.0)], device_type,
                GPU if device_type == "cuda" else CPU, "python tools/time_notebooks.py --write", readme)
    head = nbformat.read(notebook, as_version=4).cells[0].source
    if device_type == "cuda":
        assert notebook.read_text() == before
    else:
        assert "about 3½ min the first time, 60 s once its models are cached" in head
