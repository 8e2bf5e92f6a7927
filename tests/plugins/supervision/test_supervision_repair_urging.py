"""Credit-repair eligibility at each rule's edge, queue, guidance list and counts; annual-report
urging lists by class. as_of 2025-06-30: 6 months before = 2024-12-30, 12 months / 1 year before
= 2024-06-30, 3 years before = 2022-06-30."""

from __future__ import annotations

import datetime as dt

import pytest
from supervision_world import World

from credit_risk import supervision

AS_OF = dt.date(2025, 6, 30)
CASE: dict[str, str] = {}  # case -> application id (or uscc for guidance / urging cases)
E: dict[str, str] = {}  # case -> uscc


@pytest.fixture(scope="module")
def world_run(module_world: World) -> World:
    w = module_world
    classes: dict[str, str] = {}

    def entity(name: str, cls: str = "B", **kw) -> str:
        E[name] = w.entity(**kw)
        classes[E[name]] = cls
        return E[name]

    def penalty(
        u: str, day: str, severity: str = "fine_small", vtype: str = "v1", repaired: str | None = None
    ) -> str:
        return w.record(
            "samr__penalties",
            uscc=u,
            decision_no=f"D-{day}",
            decided_on=day,
            violation_type=vtype,
            severity=severity,
            repaired_on=repaired,
        )

    def apply(
        name: str,
        target_type: str,
        target: str,
        applied: str = "2025-06-01",
        status: str = "submitted",
        decided: str | None = None,
    ) -> None:
        CASE[name] = w.record(
            "samr__credit_repairs",
            uscc=E[name],
            target_type=target_type,
            target_record_id=target,
            applied_on=applied,
            status=status,
            decided_on=decided,
        )

    # -- penalties
    for name, day, kw in (
        ("pen_6m", "2024-12-30", {}),
        ("pen_recent", "2024-12-31", {}),
        ("food_recent", "2024-12-01", {"industry": "1310"}),
        ("food_12m", "2024-06-30", {"industry": "1310"}),
        ("drug_recent", "2025-01-01", {"industry": "2710"}),
        ("pen_warning", "2024-01-01", {}),
        ("pen_later", "2024-01-01", {}),
        ("pen_later_other_type", "2024-01-01", {}),
        ("pen_later_repaired", "2024-01-01", {}),
        ("pen_sd", "2024-01-01", {}),
        ("pen_ab", "2024-01-01", {}),
        ("pen_ab_removed", "2024-01-01", {}),
    ):
        u = entity(name, **kw)
        apply(name, "penalty", penalty(u, day, "warning" if name == "pen_warning" else "fine_small"))
    penalty(E["pen_later"], "2024-03-01")
    penalty(E["pen_later_other_type"], "2024-03-01", vtype="v2")
    penalty(E["pen_later_repaired"], "2024-03-01", repaired="2025-06-01")
    w.record("samr__serious_dishonesty", uscc=E["pen_sd"], listed_on="2025-01-01", reason="r")
    w.record("samr__abnormal_list", uscc=E["pen_ab"], listed_on="2025-01-01", reason="unreachable_address")
    w.record(
        "samr__abnormal_list",
        uscc=E["pen_ab_removed"],
        listed_on="2024-05-01",
        reason="unreachable_address",
        removed_on="2025-05-01",
    )

    # -- abnormal listings
    def listing(name: str, reason: str, listed: str, removed: str | None = None) -> None:
        # established after 2024: not urged, and no blanket 2024 report (any report cures these two reasons)
        late = reason in ("false_info", "failure_to_disclose")
        u = entity(name, **({"established": "2025-01-01"} if late else {}))
        apply(
            name,
            "abnormal_list",
            w.record("samr__abnormal_list", uscc=u, listed_on=listed, reason=reason, removed_on=removed),
        )

    def report(name: str, year: int, filed: str) -> None:
        w.record("samr__annual_reports", uscc=E[name], report_year=year, filed_on=filed)

    listing("ab_report_cured", "annual_report_missing", "2024-07-01")
    report("ab_report_cured", 2023, "2024-08-01")
    listing("ab_report_wrong_year", "annual_report_missing", "2024-07-01")
    report("ab_report_wrong_year", 2024, "2025-03-01")
    listing("ab_report_future", "annual_report_missing", "2024-07-01")
    report("ab_report_future", 2023, "2025-07-01")
    listing("ab_address_cured", "unreachable_address", "2024-09-01")
    w.record(
        "samr__registration_changes",
        uscc=E["ab_address_cured"],
        change_type="address",
        changed_on="2024-10-01",
    )
    listing("ab_address_not", "unreachable_address", "2024-09-01")
    w.record(
        "samr__registration_changes",
        uscc=E["ab_address_not"],
        change_type="legal_rep",
        changed_on="2024-10-01",
    )
    listing("ab_false_cured", "false_info", "2024-09-01")
    report("ab_false_cured", 2023, "2024-09-02")
    listing("ab_false_not", "false_info", "2024-09-01")
    report("ab_false_not", 2023, "2024-09-01")
    listing("ab_disclose_cured", "failure_to_disclose", "2024-09-01")
    report("ab_disclose_cured", 2024, "2025-04-01")
    listing("ab_removed", "unreachable_address", "2024-09-01", removed="2025-01-01")
    w.record(
        "samr__registration_changes", uscc=E["ab_removed"], change_type="address", changed_on="2024-10-01"
    )

    # -- serious dishonesty
    def sd(name: str, listed: str) -> str:
        u = entity(name)
        apply(
            name,
            "serious_dishonesty",
            w.record("samr__serious_dishonesty", uscc=u, listed_on=listed, reason="r"),
        )
        return u

    sd("sd_1y", "2024-06-30")
    sd("sd_lt1y", "2024-07-01")
    sd("sd_3y", "2022-06-30")
    sd("sd_lt3y", "2022-07-01")
    penalty(sd("sd_pen", "2023-06-01"), "2024-01-01")
    penalty(sd("sd_pen_listing_day", "2023-06-01"), "2023-06-01")

    # -- the queue at as_of
    u = entity("decided_later")
    apply("decided_later", "penalty", penalty(u, "2024-01-01"), status="approved", decided="2025-07-15")
    u = entity("rejected")
    apply("rejected", "penalty", penalty(u, "2024-01-01"), status="rejected", decided="2025-06-15")
    u = entity("applied_later")
    apply("applied_later", "penalty", penalty(u, "2024-01-01"), applied="2025-07-01")
    entity("not_found")
    apply("not_found", "penalty", "NO-SUCH-RECORD")

    # -- guidance list (C and D holding a record that would be eligible)
    penalty(entity("g_c", "C"), "2024-01-01")
    w.record(
        "samr__abnormal_list", uscc=entity("g_d", "D"), listed_on="2024-09-01", reason="unreachable_address"
    )
    w.record("samr__registration_changes", uscc=E["g_d"], change_type="address", changed_on="2024-10-01")
    penalty(entity("g_a", "A"), "2024-01-01")
    penalty(entity("g_c_recent", "C"), "2025-05-01")
    u = entity("g_c_pending", "C")
    apply("g_c_pending", "penalty", penalty(u, "2024-01-01"), applied="2025-06-10")
    u = entity("g_c_approved", "C")
    apply(
        "g_c_approved",
        "penalty",
        penalty(u, "2024-01-01"),
        applied="2025-05-10",
        status="approved",
        decided="2025-06-10",
    )
    u = entity("g_c_rejected", "C")
    apply(
        "g_c_rejected",
        "penalty",
        penalty(u, "2024-01-01"),
        applied="2025-03-10",
        status="rejected",
        decided="2025-04-10",
    )

    # -- annual-report urging (report year 2024 at 2025-06-30)
    for name, cls, kw in (
        ("u_a", "A", {}),
        ("u_b", "B", {}),
        ("u_c", "C", {}),
        ("u_d", "D", {"region": "230203"}),
        ("u_filed", "C", {}),
        ("u_late", "C", {}),
        ("u_wrong_year", "D", {}),
        ("u_new", "C", {"established": "2025-01-01"}),
    ):
        entity(name, cls, **kw)
    report("u_filed", 2024, "2025-05-01")
    report("u_late", 2024, "2025-07-02")
    report("u_wrong_year", 2023, "2024-05-01")
    # everyone else filed for 2024, so the urging lists hold only the cases above
    for name, u in E.items():
        if not name.startswith(("u_", "ab_false", "ab_disclose")):
            w.record("samr__annual_reports", uscc=u, report_year=2024, filed_on="2025-03-01")
    w.publish("2025-05-31", classes)
    w.publish("2025-06-30", classes)
    supervision.run_all(dt.date(2025, 5, 31))
    supervision.run_all(AS_OF)
    return w


def queue(w: World) -> dict[str, tuple[bool, list[str]]]:
    return {
        r[0]: (r[1], r[2])
        for r in w.query(
            "select application_id, is_eligible, failing_conditions from supervision.repair_queue "
            "where as_of = %s",
            AS_OF,
        )
    }


@pytest.mark.parametrize(
    ("case", "failing"),
    [
        ("pen_6m", []),
        ("pen_recent", ["decided_less_than_6_months_ago"]),
        ("food_recent", ["decided_less_than_12_months_ago"]),
        ("food_12m", []),
        ("drug_recent", ["decided_less_than_12_months_ago"]),
        ("pen_warning", ["severity_warning"]),
        ("pen_later", ["later_penalty_same_violation_type"]),
        ("pen_later_other_type", []),
        ("pen_later_repaired", []),
        ("pen_sd", ["on_serious_dishonesty_list"]),
        ("pen_ab", ["on_abnormal_list"]),
        ("pen_ab_removed", []),
        ("ab_report_cured", []),
        ("ab_report_wrong_year", ["reason_not_cured"]),
        ("ab_report_future", ["reason_not_cured"]),
        ("ab_address_cured", []),
        ("ab_address_not", ["reason_not_cured"]),
        ("ab_false_cured", []),
        ("ab_false_not", ["reason_not_cured"]),
        ("ab_disclose_cured", []),
        ("ab_removed", ["no_longer_listed"]),
        ("sd_1y", []),
        ("sd_lt1y", ["listed_less_than_1_years_ago"]),
        ("sd_3y", ["listed_3_years_or_more_ago"]),
        ("sd_lt3y", []),
        ("sd_pen", ["penalty_since_listing"]),
        ("sd_pen_listing_day", []),
        ("decided_later", []),
        ("not_found", ["target_not_found"]),
    ],
)
def test_repair_eligibility(world_run, case, failing):
    assert queue(world_run)[CASE[case]] == (not failing, failing)


def test_repair_queue_holds_only_applications_submitted_at_as_of(world_run):
    q = queue(world_run)
    assert CASE["rejected"] not in q and CASE["applied_later"] not in q and CASE["g_c_approved"] not in q
    assert CASE["decided_later"] in q and CASE["g_c_pending"] in q


def test_repair_guidance_list(world_run):
    rows = world_run.query(
        "select uscc, risk_class, target_type from supervision.repair_guidance where as_of = %s", AS_OF
    )
    got = {(u, c, t) for u, c, t in rows}
    assert got == {
        (E["g_c"], "C", "penalty"),
        (E["g_d"], "D", "abnormal_list"),
        (E["g_c_rejected"], "C", "penalty"),
    }


def test_repair_counts(world_run):
    stats = world_run.query("select * from supervision.repair_stats where as_of = %s", AS_OF)[0]
    in_june = sum(1 for n in CASE if n not in ("g_c_approved", "g_c_rejected", "applied_later"))
    assert stats[1:5] == (in_june, in_june + 2, 1, 1)  # applications month / year; approvals month / year
    assert stats[5] == len(queue(world_run))
    assert stats[6] == sum(1 for ok, _ in queue(world_run).values() if ok)
    assert stats[7:] == (3, 3)


def urging(w: World, as_of: dt.date) -> dict[str, str]:
    return dict(
        w.query("select uscc, urging_list from supervision.annual_report_urging where as_of = %s", as_of)
    )


def test_urging_lists_by_class(world_run):
    got = urging(world_run, AS_OF)
    assert got == {
        E["u_a"]: "reminder",
        E["u_b"]: "reminder",
        E["u_c"]: "interview",
        E["u_d"]: "interview",
        E["u_late"]: "interview",
        E["u_wrong_year"]: "interview",
    }
    counts = world_run.query(
        "select prefecture, urging_list, entities from supervision.annual_report_urging_counts "
        "where as_of = %s order by 1, 2",
        AS_OF,
    )
    assert counts == [("230100", "interview", 3), ("230100", "reminder", 2), ("230200", "interview", 1)]


def test_no_urging_before_30_june(world_run):
    assert urging(world_run, dt.date(2025, 5, 31)) == {}
    assert (
        world_run.scalar(
            "select count(*) from supervision.warning_hits where as_of = '2025-05-31' and rule_id = 'W12'"
        )
        == 0
    )
