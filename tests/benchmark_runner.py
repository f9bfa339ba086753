"""Run one script of ``benchmarks/`` as a student would, in quick mode on the bundled digits with a cache of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark_script(script: str, tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``python benchmarks/<script> <arguments>`` with COURSE_QUICK=1, the bundled digits and ``tmp_path/cache``."""
    env = dict(os.environ, COURSE_QUICK="1", COURSE_DATA="bundled", COURSE_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *arguments],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
