"""Synthetic department feeds: a landing zone exactly as the delivery contract (feeds.md) describes.

    generate(out, scale, seed, through="2025-06", defects=False) -> summary
    extend(landing) -> summary                    # the next month's deliveries
    estimate(scale) -> expected records per feed  # no files written

The population, latent risk and every event rate are in `params.py`; the
reference scorer used for calibration is `calibration.py`.
"""

from __future__ import annotations

from credit_risk.generator.core import estimate, extend, generate, truth_dir
from credit_risk.generator.params import DEFAULT, SCALES, Params

__all__ = ["generate", "extend", "estimate", "truth_dir", "Params", "DEFAULT", "SCALES"]
