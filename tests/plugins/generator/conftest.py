"""Landing zones shared by the generator tests (tiny scale, generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gen_landing_check import SEED

from credit_risk import generator


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A clean tiny landing zone and the generator's summary."""
    out = tmp_path_factory.mktemp("gen_clean") / "landing"
    summary = generator.generate(out, scale="tiny", seed=SEED, through="2025-06")
    return out, summary


@pytest.fixture(scope="session")
def tiny_defects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny landing zone with every kind of injected fault."""
    out = tmp_path_factory.mktemp("gen_defects") / "landing"
    summary = generator.generate(out, scale="tiny", seed=SEED + 1, through="2025-06", defects=True)
    return out, summary
