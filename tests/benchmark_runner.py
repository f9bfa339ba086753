"""Run one script of ``benchmarks/`` (or ``tools/``) as a student would, in quick mode on the bundled digits with a
cache of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark_script(script: str, tmp_path: Path, *arguments: str, timeout: float = 600,
                         folder: str = "benchmarks") -> subprocess.CompletedProcess:
    """``python <folder>/<script> <arguments>`` with COURSE_QUICK=1, the bundled digits and ``tmp_path/cache``;
    ``subprocess.TimeoutExpired`` after ``timeout`` seconds."""
    env = dict(os.environ, COURSE_QUICK="1", COURSE_DATA="bundled", COURSE_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / folder / script), *arguments],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
