"""Issue 29: every command-line tool rejects a bad number (or a bad recipe setting) with one argparse error line and
exit code 2 before it starts any work, and no build tool deletes a folder it did not write."""

import argparse
import io
import sys
import tarfile
from pathlib import Path

import pytest
from benchmark_runner import ROOT, run_benchmark_script

from benchmarks.arguments import finite_float, non_negative_int, positive_float, positive_int, positive_ints

sys.path.insert(0, str(ROOT / "tools"))
from npm_vendor import fetch_vendor  # noqa: E402

HANG = 60  # seconds: a command still running by then counts as hung (dcgan_speed.py --seconds nan used to)

BAD_NUMBERS = [  # (folder, script, arguments, the flag the error must name)
    ("benchmarks", "dcgan_speed.py", ["--seconds", "nan"], "--seconds"),
    ("benchmarks", "dcgan_speed.py", ["--seconds", "-1"], "--seconds"),
    ("benchmarks", "dcgan_speed.py", ["--warmup", "-1"], "--warmup"),
    ("benchmarks", "dcgan_speed.py", ["--threads", "0"], "--threads"),
    ("benchmarks", "dcgan_speed.py", ["--peak-tflops", "inf"], "--peak-tflops"),
    ("benchmarks", "dcgan_speed.py", ["--configs", "28x0"], "--configs"),
    ("benchmarks", "sample_quality.py", ["--samples", "0"], "--samples"),
    ("benchmarks", "sample_quality.py", ["--threads", "-2"], "--threads"),
    ("benchmarks", "sample_quality.py", ["--models", "dcgan", "--set", "dcgan.g_lr=abc"], "--set"),
    ("benchmarks", "sample_quality.py", ["--models", "dcgan", "--set", "dcgan.nosuchfield=1"], "--set"),
    ("benchmarks", "sample_quality.py", ["--models", "dcgan", "--set", "dcgan.betas=0.5"], "--set"),
    ("benchmarks", "sample_quality.py", ["--models", "nosuch"], "--models"),
    ("benchmarks", "semi_supervised.py", ["--draws", "0"], "--draws"),
    ("benchmarks", "semi_supervised.py", ["--labels", "25"], "--labels"),
    ("benchmarks", "semi_supervised.py", ["--labels", "100000"], "--labels"),
    ("benchmarks", "semi_supervised.py", ["--threads", "0"], "--threads"),
    ("benchmarks", "vae.py", ["--test-dir", ".", "--epochs", "20,0"], "--epochs"),
    ("benchmarks", "vae.py", ["--test-dir", ".", "--reference-epochs", "1.5"], "--reference-epochs"),
    ("benchmarks", "vae.py", ["--test-dir", ".", "--iwae-samples", "0"], "--iwae-samples"),
    ("benchmarks", "shared_cores.py", ["--seconds", "nan"], "--seconds"),
    ("benchmarks", "shared_cores.py", ["--trainings", "0"], "--trainings"),
    ("tools", "build_site.py", ["--timeout", "0"], "--timeout"),
]


def refused(done, script: str) -> str:
    """Assert that ``done`` stopped with exit code 2 and one error line, before its work (a benchmark prints its
    device first, a build its first step); return the error line."""
    assert done.returncode == 2, f"exit code {done.returncode}:\n{done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr and not any(line.startswith(("device:", "site:", "slides:"))
                                                      for line in done.stdout.splitlines()), done.stdout
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and done.stderr.splitlines()[-1] == errors[0], done.stderr
    assert errors[0].startswith(f"{script}: error: "), errors[0]
    return errors[0]


@pytest.mark.parametrize("folder, script, arguments, flag", BAD_NUMBERS,
                         ids=[f"{script[:-3]} {' '.join(arguments)}" for _, script, arguments, _ in BAD_NUMBERS])
def test_a_bad_number_stops_the_command_with_one_line_naming_the_flag(tmp_path, folder, script, arguments, flag):
    done = run_benchmark_script(script, tmp_path, *arguments, timeout=HANG, folder=folder)
    assert refused(done, script).startswith(f"{script}: error: argument {flag}: ")


@pytest.mark.parametrize("parse, text", [(finite_float, "nan"), (finite_float, "-inf"), (finite_float, "abc"),
                                         (positive_float, "0"), (positive_float, "-0.5"), (positive_float, "inf"),
                                         (positive_int, "0"), (positive_int, "1.5"), (positive_int, "two"),
                                         (non_negative_int, "-1"), (positive_ints, "20,0"), (positive_ints, "20,x")])
def test_the_argument_types_refuse_bad_numbers(parse, text):
    with pytest.raises(argparse.ArgumentTypeError, match=repr(text.split(",")[-1])):
        parse(text)


def test_the_argument_types_take_good_numbers():
    assert finite_float("-2.5") == -2.5 and positive_float("1e-3") == 0.001 and non_negative_int("0") == 0
    assert positive_int("3") == 3 and positive_ints("20, 40,,60") == [20, 40, 60] and positive_ints("") == []


def test_set_reads_each_value_as_a_literal_that_the_recipe_checks():
    from benchmarks.sample_quality import parse_overrides

    overrides = parse_overrides(["dcgan.width=16", "dcgan.betas=0.5,0.9", "dcgan.g_lr=1e-3", "dcgan.loss=hinge",
                                 "dcgan.train_images=None", "vae.seed=2"], ["dcgan", "vae"])
    assert overrides == {"dcgan": {"width": 16, "betas": (0.5, 0.9), "g_lr": 1e-3, "loss": "hinge",
                                   "train_images": None}, "vae": {"seed": 2}}
    assert type(overrides["dcgan"]["g_lr"]) is float and type(overrides["dcgan"]["width"]) is int
    for setting, message in [("dcgan.width=1.5", "width must be a whole number (int), not the float 1.5"),
                             ("dcgan.g_lr=nan", "g_lr must be a finite number"),
                             ("dcgan.g_lr=abc", "g_lr must be a number (float), not the str 'abc'"),
                             ("dcgan.train_images=some", "train_images must be a whole number (int) or None"),
                             ("dcgan.betas=(0.5, 0.9, 1)", "betas must be a tuple of 2 numbers, not 3 of them"),
                             ("dcgan.wdth=8", r"DCGANRecipe has no field\(s\) \['wdth'\]")]:
        with pytest.raises(ValueError, match=message.replace("(int)", r"\(int\)").replace("(float)", r"\(float\)")):
            parse_overrides([setting], ["dcgan"])


@pytest.mark.parametrize("script", ["build_site.py", "build_slides.py"])
def test_a_build_refuses_a_folder_it_did_not_write_and_deletes_nothing(tmp_path, script):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    (mine / "sub" / ".hidden").write_text("mine too")
    done = run_benchmark_script(script, tmp_path, "--out", str(mine), *(["--executed", str(tmp_path)]
                                if script == "build_site.py" else ["--no-execute"]), timeout=HANG, folder="tools")
    line = refused(done, script)
    assert str(mine) in line and "not written by" in line
    assert sorted(str(p.relative_to(mine)) for p in mine.rglob("*")) == ["notes.txt", "sub", "sub/.hidden"]
    assert (mine / "notes.txt").read_text() == "mine" and not list(tmp_path.glob(".mine-*")), "no partial copy left"


def _tarball(path: Path, files: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))


def test_vendoring_removes_only_its_own_unfinished_copy(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    cache.mkdir()
    _tarball(cache / "requirejs-2.3.8.tgz", {"require.js": "// require", "README.md": "not needed"})
    (cache / "jquery-3.7.1.tgz").write_bytes(b"not a tarball")
    (out / "vendor" / "requirejs.partial").mkdir(parents=True)  # a name the old code deleted without asking
    (out / "vendor" / "requirejs.partial" / "keep.txt").write_text("mine")
    fetch_vendor(out, cache, ["requirejs"])
    assert (out / "vendor" / "requirejs" / "require.js").read_text() == "// require"
    assert not (out / "vendor" / "requirejs" / "README.md").exists()
    with pytest.raises(tarfile.ReadError):
        fetch_vendor(out, cache, ["jquery"])
    assert sorted(p.name for p in (out / "vendor").iterdir()) == ["requirejs", "requirejs.partial"]
    assert (out / "vendor" / "requirejs.partial" / "keep.txt").read_text() == "mine"
