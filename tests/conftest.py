"""Shared fixtures.  ``reference_dir`` points at ../shared/reference (real
official files, present in CI); tests that need it skip with a reason otherwise."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = Path(os.environ.get("BENCHSUITE_REFERENCE_DIR", REPO_ROOT.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"official reference files not found at {REFERENCE_DIR} (CI provides ../shared/reference)")
    return REFERENCE_DIR
