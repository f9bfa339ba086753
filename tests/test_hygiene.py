"""Repository hygiene: notebooks are committed clean, present as slides, and are all listed in the README."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb files"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_and_stripped(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts; run `make strip` before committing"
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_has_slide_metadata(path):
    notebook = nbformat.read(path, as_version=4)
    missing = [i for i, cell in enumerate(notebook.cells)
               if cell.metadata.get("slideshow", {}).get("slide_type") not in SLIDE_TYPES]
    assert not missing, f"{path.name}: cells {missing} lack slideshow metadata (slide_type one of {sorted(SLIDE_TYPES)})"
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ") and first.metadata.slideshow.slide_type == "slide", \
        "the first cell must be the title slide: a markdown cell starting with '# '"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_name_is_numbered(path):
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", path.name), f"{path.name}: name notebooks like 03_vae_elbo.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_hard_coded_device(path):
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not re.search(r"""["']cuda(:\d+)?["']|\.cuda\(\)""", cell.source), \
                f"{path.name} cell {index} hard-codes CUDA; use course_utils.engine.device.get_device()"


def test_readme_lists_every_notebook():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if f"(notebooks/{p.name})" not in readme]
    assert not missing, f"README.md's table of contents does not link {missing}"


def test_readme_links_only_existing_notebooks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\(notebooks/([^)]+\.ipynb)\)", readme))
    assert linked <= {p.name for p in NOTEBOOKS}, f"README links notebooks that do not exist: {linked - {p.name for p in NOTEBOOKS}}"


@pytest.mark.parametrize("path", sorted((ROOT / "img").glob("*.svg")), ids=lambda p: p.name)
def test_svg_diagrams_are_well_formed(path):
    import xml.dom.minidom

    xml.dom.minidom.parse(str(path))


@pytest.mark.parametrize("path", sorted((ROOT / "img").glob("*.svg")), ids=lambda p: p.name)
def test_every_diagram_is_shown_somewhere_and_every_shown_diagram_exists(path):
    texts = [p.read_text() for p in [ROOT / "README.md", *NOTEBOOKS]]
    assert any(f"img/{path.name}" in text for text in texts), f"img/{path.name} is in no notebook and not in the README"
    for text in texts:
        for shown in re.findall(r"\(\.\./img/([\w.-]+\.svg)\)", text):
            assert (ROOT / "img" / shown).is_file(), f"a notebook shows img/{shown}, which does not exist"


SECTION_MINUTES = re.compile(r"^#{2,3} .*\*\((\d+) min\b", flags=re.MULTILINE)
DURATION = r"(\d+½? (?:s|min))"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_class_time_in_the_title_is_the_sum_of_the_sections(path):
    notebook = nbformat.read(path, as_version=4)
    promised = re.search(r"\*About (\d+) minutes", notebook.cells[0].source)
    assert promised, f"{path.name}: the title cell should say '*About N minutes.*'"
    sections = sum(int(m) for cell in notebook.cells if cell.cell_type == "markdown"
                   for m in SECTION_MINUTES.findall(cell.source))
    assert int(promised.group(1)) == sections, \
        f"{path.name}: the title promises {promised.group(1)} minutes, the section headings add up to {sections}"


RUN_TIME_COLUMNS = ["notebook", "class time", "full mode, first run", "full mode, cached", "GPU, first run", "GPU, cached"]


def run_time_block() -> str:
    """The README's run-time block, between its two markers, which tools/time_notebooks.py --write rewrites."""
    readme = (ROOT / "README.md").read_text()
    return readme.split("<!-- run-times:start -->")[1].split("<!-- run-times:end -->")[0]


def run_time_table() -> tuple[list[str], dict[str, dict[str, str]]]:
    """The run-time table's header and its rows as {column: cell} by notebook title, so tests read columns by name."""
    rows = [[cell.strip() for cell in line.strip()[1:-1].split("|")]
            for line in run_time_block().splitlines() if line.startswith("|")]
    header, _, *body = rows
    return header, {cells[0]: dict(zip(header, cells)) for cells in body}


def test_run_time_table_has_cpu_and_gpu_columns_and_a_paragraph_for_each():
    header, rows = run_time_table()
    assert header == RUN_TIME_COLUMNS
    for title, row in rows.items():
        assert len(row) == len(header), f"README's run-time row '{title}' has {len(row)} cells, the header {len(header)}"
        times = [row[column] for column in header[2:] if not (title.startswith("`make warmup`") and "cached" in column)]
        assert all(re.fullmatch(rf"{DURATION}|—", cell) for cell in times), f"'{title}': {times}: a time or —, please"
    paragraphs = [p for p in re.split(r"\n\s*\n", run_time_block().strip()) if not p.startswith("|")]
    assert [p.startswith("GPU columns:") for p in paragraphs] == [False, True], \
        "under the table: the CPU columns' paragraph, then the one starting 'GPU columns:'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_run_time_under_the_title_is_the_one_measured_in_the_readme(path):
    """The line under the title promises the CPU ("full mode") columns' times; the GPU columns are not its business."""
    head = nbformat.read(path, as_version=4).cells[0].source
    stated = re.search(rf"\*Run time in full mode[^*]*?about {DURATION}(?: the first time, {DURATION} once)?", head)
    assert stated, f"{path.name}: no measured run time under the title; run `python tools/time_notebooks.py --write`"
    first, cached = stated.group(1), stated.group(2) or stated.group(1)
    title = head.splitlines()[0].lstrip("# ").strip()
    row = run_time_table()[1].get(title)
    assert row, f"README's run-time table has no row for '{title}'; run `python tools/time_notebooks.py --write`"
    in_readme = row["full mode, first run"], row["full mode, cached"]
    assert in_readme == (first, cached), \
        f"{path.name} says {first} / {cached}, the README {in_readme[0]} / {in_readme[1]}: time both again on a CPU"
    assert f"*About {row['class time'].removesuffix(' min')} minutes" in head, \
        f"{path.name}: class time differs from the README's"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_at_least_two_think_questions_with_hidden_answers(path):
    """A "Think!" cell asks before the notebook shows; its answer stays folded until clicked (<details>)."""
    cells = [cell for cell in nbformat.read(path, as_version=4).cells if "think" in cell.metadata.get("tags", [])]
    assert len(cells) >= 2, f"{path.name} has {len(cells)} Think! questions; at least two, please"
    for cell in cells:
        question, _, answer = cell.source.partition("<details>")
        assert question.startswith("**Think!** ") and question.rstrip().endswith("?"), cell.source[:200]
        assert answer.startswith("<summary>Show the answer</summary>") and answer.rstrip().endswith("</details>")
        assert cell.metadata["slideshow"]["slide_type"] in ("slide", "subslide"), "a Think! question gets its own slide"
