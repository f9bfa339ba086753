"""tools/gpu_check.py: issue 34's measurements prepared here and run as one command on a lent GPU machine. What can be
checked without a GPU: the parts' commands, the wheels it would carry, and its refusals."""

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import gpu_check  # noqa: E402  (tools/ is no package)


def test_each_part_runs_existing_scripts_with_the_device_machines_python():
    for part in gpu_check.PARTS:
        for command in gpu_check.commands(part, []):
            assert command[0] == sys.executable
            scripts = [argument for argument in command if argument.endswith(".py")]
            assert all((ROOT / script).is_file() for script in scripts), command
    assert all((ROOT / test).is_file() for test in gpu_check.CUDA_TESTS)
    assert set(gpu_check.LIMITS) == set(gpu_check.PARTS) and max(gpu_check.LIMITS.values()) < 600


def test_the_notebooks_part_times_the_chosen_notebooks_only():
    (command,) = gpu_check.commands("notebooks", ["03", "12"])
    assert [Path(c).name[:2] for c in command if c.endswith(".ipynb")] == ["03", "12"]
    (everything,) = gpu_check.commands("notebooks", [])
    assert len([c for c in everything if c.endswith(".ipynb")]) == len(list((ROOT / "notebooks").glob("*.ipynb")))


def test_what_the_gpu_image_holds_is_not_carried_and_what_the_course_needs_is():
    image = gpu_check.ON_THE_GPU_IMAGE
    assert {"torch", "numpy", "matplotlib", "pytest", "markdown-it-py", "pytest-mock"} <= image
    assert not set(map(gpu_check.normalised, gpu_check.NEEDED)) & image


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("arguments, words", [
    (["--parts", "tests"], "no CUDA GPU here"),
    (["--parts", "tests,flying"], "unknown ['flying']"),
])
def test_it_refuses_to_start_where_it_cannot_measure(arguments, words, capsys):
    with pytest.raises(SystemExit) as stopped:
        gpu_check.main(arguments)
    assert stopped.value.code == 2 and words in capsys.readouterr().err
