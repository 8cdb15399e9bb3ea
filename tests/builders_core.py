"""Running the CLI with the test plugins on the path, and the tiny LA corpus of
:mod:`benchsuite.testing` (bona fide harmonic tones, spoof re-quantised with noise)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchsuite.testing import write_tiny_spoof_corpus as write_tiny_la  # noqa: F401 (used by the tests)

REPO = Path(__file__).resolve().parents[1]
TESTPLUGIN = REPO / "tests" / "testplugin"


def env_with_testplugin(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a subprocess that sees the test plugin's entry points."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTPLUGIN), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


def benchsuite_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchsuite", *args]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(benchsuite_cmd(*args), env=env or env_with_testplugin(), capture_output=True, text=True,
                          timeout=timeout)
