"""The 22 warning rules: each fires on a case made for it and not on its near miss; batches and
dispatch. as_of 2025-06-30: 12m = (2024-06-30, 2025-06-30], 3m = (2025-03-30, 2025-06-30]."""

from __future__ import annotations

import datetime as dt

import pytest
from supervision_world import World

from credit_risk import supervision
from credit_risk.supervision import settings as settings_mod

AS_OF = dt.date(2025, 6, 30)
CASES: dict[str, tuple[str, str]] = {}  # rule -> (hit uscc, near-miss uscc)


def build_cases(w: World) -> dict[str, str]:
    """Create the hit and near-miss entity of every rule; returns {uscc: class at AS_OF}."""
    classes: dict[str, str] = {}

    def pair(rule: str, **kw) -> tuple[str, str]:
        hit, miss = w.entity(**kw), w.entity(**kw)
        CASES[rule] = (hit, miss)
        classes[hit] = classes[miss] = "B"
        return hit, miss

    rc = "samr__registration_changes"
    hit, miss = pair("W01")
    for day in ("2024-07-01", "2025-01-01", "2025-06-30"):
        w.record(rc, uscc=hit, change_type="legal_rep", changed_on=day)
    for day in ("2024-06-30", "2025-01-01", "2025-06-30"):  # the first is just outside 12m
        w.record(rc, uscc=miss, change_type="legal_rep", changed_on=day)

    hit, miss = pair("W02")
    for day in ("2024-07-01", "2025-06-30"):
        w.record(rc, uscc=hit, change_type="address", changed_on=day)
    for day in ("2025-06-30", "2025-07-01"):  # dated after as_of: does not count yet
        w.record(rc, uscc=miss, change_type="address", changed_on=day)

    hit, miss = pair("W03")
    w.record(
        rc,
        uscc=hit,
        change_type="registered_capital",
        changed_on="2025-02-01",
        before_value="100",
        after_value="150",
    )
    w.record(
        rc,
        uscc=miss,
        change_type="registered_capital",
        changed_on="2025-02-01",
        before_value="100",
        after_value="149.99",
    )
    w.record(
        rc,
        uscc=miss,
        change_type="registered_capital",
        changed_on="2025-03-01",
        before_value="1 00",
        after_value="900",
    )  # not a plain decimal: unusable

    # W04: ten active entities at one normalized address (NFKC, whitespace removed)
    variants = [
        "黑龙江省 哈尔滨市 1号",
        "黑龙江省哈尔滨市１号",
        "黑龙江省\u3000哈尔滨市1号",
        " 黑龙江省哈尔滨市 1 号",
    ]
    crowd = [w.entity(address=variants[i % 4]) for i in range(10)]
    near = [w.entity(address="黑龙江省哈尔滨市2号") for _ in range(9)]
    w.entity(address="黑龙江省哈尔滨市 2号", status="deregistered")  # not classified: not active
    CASES["W04"] = (crowd[0], near[0])
    classes.update({u: "A" for u in crowd + near})

    many = [w.entity(legal_rep="rep-shared-5") for _ in range(5)]
    few = [w.entity(legal_rep="rep-shared-4") for _ in range(4)]
    CASES["W05"] = (many[0], few[0])
    classes.update({u: "A" for u in many + few})

    phones = [w.entity(phone="phone-shared-10") for _ in range(10)]
    fewer = [w.entity(phone="phone-shared-9") for _ in range(9)]
    CASES["W06"] = (phones[0], fewer[0])
    classes.update({u: "A" for u in phones + fewer})

    tax = "tax__monthly_returns"
    hit, miss = pair("W07", capital=100_000_000)
    w.monthly(tax, hit, "2024-07", declared=True, tax_paid=None, is_abnormal_taxpayer=False)
    w.monthly(tax, hit, "2025-06", declared=True, tax_paid=0, is_abnormal_taxpayer=False)
    w.monthly(tax, miss, "2024-07", declared=True, tax_paid=0.01, is_abnormal_taxpayer=False)

    si = "hrss__social_insurance"
    money = {"amount_due": 0, "amount_paid": 0, "arrears_balance": 0}
    hit, miss = pair("W08", capital=100_000_000)
    w.monthly(si, hit, "2025-06", insured_headcount=0, **money)
    w.monthly(si, miss, "2025-05", insured_headcount=0, **money)
    w.monthly(si, miss, "2025-06", insured_headcount=1, **money)

    comp = "samr__complaints"
    hit, miss = pair("W09")
    for i in range(5):
        w.record(comp, uscc=hit, received_on=f"2025-04-0{i + 1}", channel="12315", category="quality")
        w.record(comp, uscc=hit, received_on=f"2024-1{i % 3}-01", channel="12315", category="quality")
        w.record(comp, uscc=miss, received_on=f"2025-04-0{i + 1}", channel="12315", category="quality")
    for i in range(6):  # 5 in 3m but 6 in the 9 months before: no surge
        w.record(comp, uscc=miss, received_on=f"2024-0{7 + i % 3}-15", channel="12345", category="quality")

    hit, miss = pair("W10")
    w.monthly(tax, hit, "2025-05", declared=True, tax_paid=10, is_abnormal_taxpayer=False)
    w.monthly(tax, hit, "2025-06", declared=True, tax_paid=10, is_abnormal_taxpayer=True)
    w.monthly(tax, miss, "2025-05", declared=True, tax_paid=10, is_abnormal_taxpayer=True)
    w.monthly(tax, miss, "2025-06", declared=True, tax_paid=10, is_abnormal_taxpayer=True)

    hit, miss = pair("W11")
    w.monthly(si, hit, "2025-03", insured_headcount=10, **money)
    w.monthly(si, hit, "2025-05", insured_headcount=3, **money)
    w.monthly(si, hit, "2025-06", insured_headcount=0, **money)
    for p in ("2025-03", "2025-04", "2025-05"):
        w.monthly(si, miss, p, insured_headcount=9, **money)
    w.monthly(si, miss, "2025-06", insured_headcount=0, **money)

    hit, miss = pair("W12", established="2024-12-31")
    CASES["W12"] = (hit, w.entity(established="2025-01-01"))  # established after 31 Dec of Y
    classes[CASES["W12"][1]] = "B"

    pw = "power__utility_bills"
    bill = {"amount_billed": 0, "amount_paid": 0, "arrears_balance": 0}
    hit, miss = pair("W13")
    for p, kwh in (
        ("2025-01", 100),
        ("2025-02", 100),
        ("2025-03", 5),
        ("2025-04", 0),
        ("2025-05", 0),
        ("2025-06", 0),
    ):
        w.monthly(pw, hit, p, kwh=kwh, **bill)
        w.monthly(pw, miss, p, kwh=0 if p == "2025-01" else kwh, **bill)

    wa = "hrss__wage_arrears"
    hit, miss = pair("W14")
    w.record(wa, uscc=hit, case_no="C1", opened_on="2025-06-01", amount=1000, workers_affected=10)
    w.record(wa, uscc=miss, case_no="C2", opened_on="2025-05-31", amount=1000, workers_affected=50)
    w.record(wa, uscc=miss, case_no="C3", opened_on="2025-06-10", amount=1000, workers_affected=9)

    dd = "court__dishonest_debtors"
    hit, miss = pair("W15")
    w.record(dd, uscc=hit, case_no="D1", listed_on="2025-03-31")
    w.record(dd, uscc=miss, case_no="D2", listed_on="2025-03-30")

    lp = "fin__loan_performance"
    hit, miss = pair("W16")
    w.monthly(lp, hit, "2025-06", loans_outstanding=1, max_days_overdue=91)
    w.monthly(lp, miss, "2025-06", loans_outstanding=1, max_days_overdue=90)
    w.monthly(lp, miss, "2025-05", loans_outstanding=1, max_days_overdue=120)

    hit, miss = pair("W17")
    w.monthly(
        tax, hit, "2025-05", declared=True, tax_paid=1, arrears_balance=49_999.99, is_abnormal_taxpayer=False
    )
    w.monthly(
        tax, hit, "2025-06", declared=True, tax_paid=1, arrears_balance=100_000, is_abnormal_taxpayer=False
    )
    w.monthly(
        tax, miss, "2025-05", declared=True, tax_paid=1, arrears_balance=50_000, is_abnormal_taxpayer=False
    )
    w.monthly(
        tax, miss, "2025-06", declared=True, tax_paid=1, arrears_balance=100_000, is_abnormal_taxpayer=False
    )

    hit, miss = pair("W18")
    classes[hit] = classes[miss] = "C"  # previous: hit A (2 steps), miss B (1 step)

    hit, miss = pair("W19")
    for u, est in ((hit, "2024-12-30"), (miss, "2024-12-29")):  # 182 and 183 days before as_of
        w.conn.execute(
            "update staging.stg_samr__registration set established_on = %s where uscc = %s", (est, u)
        )
        w.registered[u]["established_on"] = est
        for i in range(3):
            w.record(comp, uscc=u, received_on=f"2025-06-0{i + 1}", channel="12315", category="fraud")

    ins = "samr__inspections"
    hit, miss = pair("W20")
    for u in (hit, miss):
        w.record(
            ins,
            uscc=u,
            task_id="T1",
            member_unit="SAMR",
            inspected_on="2025-05-10",
            inspection_type="random",
            result="not_found_at_address",
            inspector_ids="X1;X2",
        )
    w.record("samr__abnormal_list", uscc=miss, listed_on="2025-06-01", reason="unreachable_address")

    pen = "samr__penalties"
    hit, miss = pair("W21", industry="1310")  # division 13: high-risk tier
    w.record(
        pen, uscc=hit, decision_no="P1", decided_on="2025-06-01", violation_type="hygiene", severity="warning"
    )
    w.record(
        pen,
        uscc=miss,
        decision_no="P2",
        decided_on="2025-05-31",
        violation_type="hygiene",
        severity="warning",
    )

    hit, miss = pair("W22", four_new=True)
    classes[hit] = classes[miss] = "A"
    w.record(
        comp, uscc=hit, received_on="2025-06-10", channel="12315", category="quality", substantiated=True
    )
    w.record(
        comp, uscc=miss, received_on="2025-06-10", channel="12315", category="quality", substantiated=False
    )
    w.record(
        comp, uscc=miss, received_on="2025-03-30", channel="12315", category="quality", substantiated=True
    )
    return classes


@pytest.fixture(scope="module")
def results(module_world: World) -> World:
    w = module_world
    classes = build_cases(w)
    previous = dict(classes)
    previous[CASES["W18"][0]] = "A"
    previous[CASES["W18"][1]] = "B"
    w.publish("2025-05-31", previous)
    w.publish("2025-06-30", classes)
    w.inspector("S1", "SAMR", "230100")
    w.inspector("S2", "SAMR", "230100")
    supervision.run_all(AS_OF)
    return w


def hits(w: World, rule: str) -> set[str]:
    return {
        r[0]
        for r in w.query(
            "select uscc from supervision.warning_hits where as_of = %s and rule_id = %s", AS_OF, rule
        )
    }


RULES = [f"W{n:02d}" for n in range(1, 23)]


def test_config_has_the_22_rules():
    s = settings_mod.load()
    assert [r.id for r in s.rules] == RULES
    assert {r.severity for r in s.rules} == {"high", "medium"}
    by_id = {r.id: r for r in s.rules}
    assert by_id["W04"].dispatch_threshold == 1 and by_id["W01"].dispatch_threshold == 5
    assert all(r.verifying_unit == "SAMR" for r in s.rules)


@pytest.mark.parametrize("rule", RULES)
def test_rule_fires_on_its_case(results, rule):
    assert CASES[rule][0] in hits(results, rule)


@pytest.mark.parametrize("rule", RULES)
def test_rule_does_not_fire_on_its_near_miss(results, rule):
    assert CASES[rule][1] not in hits(results, rule)


def test_evidence_is_kept(results):
    ev = results.scalar(
        "select evidence from supervision.warning_hits where as_of = %s and rule_id = 'W01' and uscc = %s",
        AS_OF,
        CASES["W01"][0],
    )
    assert ev["legal_rep_changes_12m"] == 3
    ev = results.scalar(
        "select evidence from supervision.warning_hits where as_of = %s and rule_id = 'W18' and uscc = %s",
        AS_OF,
        CASES["W18"][0],
    )
    assert ev == {"risk_class": "C", "previous_risk_class": "A", "previous_as_of": "2025-05-31"}
    assert len(hits(results, "W04")) == 10


def test_one_warning_batch_per_rule_and_dispatch_by_threshold(results):
    assert results.scalar("select count(*) from supervision.warning_batches where as_of = %s", AS_OF) == 22
    batches = {
        r[0]: (r[1], r[2])
        for r in results.query(
            "select rule_id, entities, staffed_tasks from supervision.dispatch_batches "
            "where as_of = %s and prefecture = '230100'",
            AS_OF,
        )
    }
    # high rules dispatch from 1 hit; medium ones need 5 in the prefecture
    assert batches["W04"] == (10, 10)
    assert batches["W15"] == (1, 1)
    assert "W01" not in batches and "W03" not in batches
    tasks = results.query(
        "select member_unit, inspector_ids from supervision.dispatch_tasks where as_of = %s "
        "and dispatch_id like %s",
        AS_OF,
        "%-W15-%",
    )
    assert len(tasks) == 1 and tasks[0][0] == "SAMR" and sorted(tasks[0][1]) == ["S1", "S2"]


def test_rerun_keeps_dispatch_seeds_and_staffing(results):
    before = results.query(
        "select dispatch_id, seed from supervision.dispatch_batches where as_of = %s order by 1", AS_OF
    )
    staffing = results.query(
        "select task_id, inspector_ids from supervision.dispatch_tasks where as_of = %s order by 1", AS_OF
    )
    supervision.run_all(AS_OF)
    assert (
        results.query(
            "select dispatch_id, seed from supervision.dispatch_batches where as_of = %s order by 1", AS_OF
        )
        == before
    )
    assert (
        results.query(
            "select task_id, inspector_ids from supervision.dispatch_tasks where as_of = %s order by 1", AS_OF
        )
        == staffing
    )
