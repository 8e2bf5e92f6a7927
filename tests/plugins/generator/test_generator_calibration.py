"""The reference scorer runs on a generated landing zone and lands near the calibration bands.

Tiny scale is noisy (2 000 entities), so the bands here are wider than the
target (A 65–73 %, B 19–25 %, C 5–8 %, D 1.5–3 %, checked at small/medium scale).
"""

from __future__ import annotations

import datetime as dt

from credit_risk import generator
from credit_risk.generator import calibration, estimate


def test_class_shares_near_the_bands_and_d_concentrates_in_high_risk(tiny):
    landing, _ = tiny
    r = calibration.report(landing, dt.date(2025, 6, 30))
    s = r["shares"]
    assert 0.60 <= s["A"] <= 0.78 and 0.14 <= s["B"] <= 0.30
    assert 0.03 <= s["C"] <= 0.11 and 0.005 <= s["D"] <= 0.05
    d = r["d_share_by_decile"]
    assert d[10] > d[9] > max(d[1], d[2], d[3])
    assert r["rules"]["R0"] > 0 and r["rules"]["R4"] > 0 and r["rules"]["R6"] > 0


def test_estimate_scales_with_entities():
    e = estimate("small", basis="tiny")
    assert e["simulated_at"] == "tiny"
    assert set(e["records"]) >= {"registration", "monthly_returns"}
    assert e["records"]["inspection_items"] == 753 * 4
    assert e["monthly_share"] > 0.45
    assert generator.SCALES["small"].entities == 15 * generator.SCALES["tiny"].entities
