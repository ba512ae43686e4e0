"""Shared helpers for the elections tests.

The real election data lives beside the repository, in ../shared/testdata (or wherever QUORUM_TESTDATA
points). Without it those tests skip, saying why; under CI=true they fail instead, so CI cannot pass by
silently skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def testdata_dir() -> Path:
    configured = os.environ.get("QUORUM_TESTDATA")
    return Path(configured) if configured else (REPO / ".." / "shared" / "testdata").resolve()


def elections_data() -> Path | None:
    path = testdata_dir() / "elections"
    return path if path.is_dir() else None


def require_elections_data() -> Path:
    path = elections_data()
    if path is None:
        message = f"election test data not found at {testdata_dir() / 'elections'} (set QUORUM_TESTDATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return path


@pytest.fixture
def elections_testdata() -> Path:
    return require_elections_data()
