"""What runs outside `make test`: the oldest-PyTorch session tests exactly the lower bounds users read in
pyproject.toml, and the GitHub workflow is valid (it cannot run here, so a schema checker reads it)."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _noxfile_list(name: str) -> list[str]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    found = [node.value for node in tree.body if isinstance(node, ast.Assign) and
             any(isinstance(target, ast.Name) and target.id == name for target in node.targets)]
    assert found, f"noxfile.py defines no {name}"
    return ast.literal_eval(found[0])


def test_the_oldest_torch_session_pins_the_lower_bounds_of_pyproject():
    declared = dict(re.findall(r'"(torch|torchvision|numpy)>=([\d.]+)"', (ROOT / "pyproject.toml").read_text()))
    pinned = dict(requirement.split("==") for requirement in _noxfile_list("OLDEST"))
    assert set(pinned) == {"torch", "torchvision", "numpy"}
    for package, version in pinned.items():
        assert version.startswith(declared[package]), \
            f"pyproject.toml says {package}>={declared[package]} but the oldest session tests {package}=={version}"


def _check_workflow(path: Path) -> subprocess.CompletedProcess:
    here = str(Path(sys.executable).parent)                     # the test environment's own scripts first
    checker = shutil.which("check-jsonschema", path=here) or shutil.which("check-jsonschema")
    if checker is None:
        pytest.skip("check-jsonschema is not installed (make test installs it)")
    return subprocess.run([checker, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_github_workflow_is_valid(path):
    done = _check_workflow(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_checker_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOWS[0].read_text().replace("runs-on:", "run-on:", 1))
    done = _check_workflow(broken)
    assert done.returncode != 0 and "runs-on" in done.stdout + done.stderr


def test_the_workflow_runs_ci_on_push_and_the_newest_torch_weekly():
    text = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert re.search(r"^  push:", text, flags=re.M) and "bash .ci/run" in text
    assert re.search(r'cron: "\d+ \d+ \* \* \d"', text) and "nox --session newest-torch" in text
