"""The course against the oldest and the newest PyTorch it supports: ``make torch-range`` (or ``nox -s NAME``).

Each session builds its own virtual environment under ``.nox/``, installs the course with one end of the supported
range, and runs the unit tests and every notebook in quick mode (the browser tests check the decks and the site,
not PyTorch, and stay with ``make test``). ``OLDEST`` must match the lower bounds in ``pyproject.toml`` (a test
checks it), so the bounds that users read are the versions that were tested.
"""

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["oldest-torch", "newest-torch"]

# torch 2.2's wheels were built against NumPy 1.x, so the oldest session keeps NumPy below 2 as well.
OLDEST = ["torch==2.2.2", "torchvision==0.17.2", "numpy==1.24.4"]
NEWEST = ["torch", "torchvision", "numpy"]


def _quick_tests(session: nox.Session) -> None:
    """The unit tests and the notebooks, in quick mode with the bundled digits, as ``make test`` runs them."""
    session.run("python", "-c", "import torch, torchvision, numpy; print('torch', torch.__version__, '| torchvision', "
                "torchvision.__version__, '| numpy', numpy.__version__)")
    cache = os.path.join(session.create_tmp(), "test-cache")
    env = {"PYTHONPATH": os.getcwd(), "COURSE_QUICK": "1", "COURSE_DATA": "bundled", "COURSE_CACHE": cache,
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    session.run("python", "-m", "pytest", "-n", os.environ.get("WORKERS", "2"), "--dist", "loadscope",
                "--no-loadscope-reorder", "-p", "no:cacheprovider", "--ignore=tests/browser", *session.posargs, env=env)


@nox.session(name="oldest-torch")
def oldest_torch(session: nox.Session) -> None:
    """The lower bounds of ``pyproject.toml``: torch, torchvision and NumPy pinned to them."""
    session.install("-e", ".[test,editions]", *OLDEST)
    _quick_tests(session)


@nox.session(name="newest-torch")
def newest_torch(session: nox.Session) -> None:
    """Whatever the registry serves as newest today (run weekly by the GitHub workflow)."""
    session.install("--upgrade", "-e", ".[test,editions]", *NEWEST)
    _quick_tests(session)
