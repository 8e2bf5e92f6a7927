"""Unit tests of the gate package's own code (no database, no GX run)."""

from __future__ import annotations

import datetime as dt

import pytest

from credit_risk.gates import GateReport, dbt_report, schema, settings
from credit_risk.gates.reference import load as load_reference
from credit_risk.gates.report import describe

AS_OF = dt.date(2025, 6, 30)


def test_settings_defaults_and_env_overrides():
    s = settings.load(environ={})
    assert (s.quarantine_rate_max, s.orphan_rate_max, s.drift_max_points) == (0.01, 0.01, 2.0)
    assert s.freshness_feeds == ("monthly_returns", "social_insurance", "loan_performance", "utility_bills")
    assert s.date_min == dt.date(1949, 10, 1)
    s = settings.load(
        environ={
            "CREDIT_RISK_GATES__RAW__QUARANTINE_RATE_MAX": "0.05",
            "credit_risk_gates__raw__per_feed__penalties__orphan_rate_max": "0.2",
            "CREDIT_RISK_GATES__OUTPUT__DRIFT_MAX_POINTS": "3.5",
        }
    )
    assert s.quarantine_rate_max == 0.05 and s.drift_max_points == 3.5
    assert s.feed_limit("penalties", "orphan_rate_max") == 0.2
    assert s.feed_limit("honors", "orphan_rate_max") == 0.01


def test_settings_reject_a_rate_above_one():
    with pytest.raises(ValueError):
        settings.load(environ={"CREDIT_RISK_GATES__RAW__ORPHAN_RATE_MAX": "5"})


def test_reference_comes_from_the_seeds():
    ref = load_reference()
    assert [s.code for s in ref.class_systems] == ["ENT", "IND", "COOP"]
    assert [s.code for s in ref.grade_systems] == ["IBE"]
    assert ref.classes["ENT"] == ("A", "B", "C", "D") and ref.classes["IBE"] == ("AAA", "AA", "A", "B", "C")
    assert len(ref.indicator_codes) == 44 and all(len(v) == 20 for v in ref.level2_codes.values())
    assert "R6" in ref.rule_codes["COOP"] and "R6" not in ref.rule_codes["ENT"]


def test_published_level2_columns_are_the_library_codes():
    """published.level2_scores has one column per second-level code of every system, in
    library order (what dbt's level2_scores model generates from the same seed)."""
    ref = load_reference()
    assert all(tuple(c.lower() for c in v) == schema.LEVEL2 for v in ref.level2_codes.values())
    assert schema.columns("level2_scores") == ["as_of", "uscc", "system_code", *schema.LEVEL2]
    assert schema.TABLES["level2_scores"][1] == ("as_of", "uscc", "system_code")


@pytest.mark.parametrize(
    ("results", "ok", "failed"),
    [
        ({"success": True, "tasks": 4, "failed_tasks": []}, True, 0),
        ({"success": False, "tasks": 4, "failed_tasks": ["dbt_build.test"]}, False, 1),
        ({"passed": 10, "failed": 0}, True, 0),
        ({"passed": 9, "failed": 1, "failing": ["not_null_x"]}, False, 1),
        (
            {
                "results": [
                    {"unique_id": "model.credit_risk.a", "status": "success"},
                    {"unique_id": "test.credit_risk.t1", "status": "pass"},
                    {"unique_id": "test.credit_risk.t2", "status": "warn"},
                ]
            },
            True,
            0,
        ),
        (
            {
                "results": [
                    {"unique_id": "model.credit_risk.a", "status": "error"},
                    {"unique_id": "test.credit_risk.t1", "status": "skipped"},
                ]
            },
            False,
            2,
        ),
        ({"something": "else"}, False, 1),
    ],
)
def test_dbt_results_forms(results, ok, failed):
    r = dbt_report(AS_OF, "run", results)
    assert r.name == "dbt_tests" and r.success is ok
    assert r.meta["failed"] == failed


def test_report_round_trips_through_its_dict_and_summarises_failures():
    failing = {
        "suite": "raw.penalties",
        "expectation": "expect_column_max_to_be_between",
        "column": "quarantine_rate",
        "success": False,
        "observed": 0.05,
        "threshold": {"min": None, "max": 0.01},
    }
    r = GateReport("raw", AS_OF, "run-1", False, [failing], "/x/index.html", 1.5, {"since_delivery_id": 3})
    back = GateReport.coerce(r.to_dict())
    assert back == r
    text = back.summary()
    assert "FAILED" in text and "raw.penalties: quarantine_rate <= 0.01 (observed 0.05)" in text
    assert "/x/index.html" in text
    assert describe({**failing, "threshold": {"min": 0, "max": 0}, "observed": 3}).endswith(
        "= 0 (observed 3)"
    )
