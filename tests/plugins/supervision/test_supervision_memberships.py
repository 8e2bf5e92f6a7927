"""Sandbox pool (沙盒, 包容期, 容错) and white list (白名单): entry, exits with reasons, no re-entry
within 12 months, history replayed when an older as_of is re-run."""

from __future__ import annotations

import datetime as dt

import pytest
from supervision_world import World

from credit_risk import supervision

AS_OFS = ["2024-06-30", "2024-07-31", "2024-08-31", "2024-10-31", "2025-06-30", "2025-07-31"]


@pytest.fixture(scope="module")
def history(module_world: World) -> tuple[World, dict[str, str]]:
    w = module_world
    e: dict[str, str] = {}
    # sandbox candidates (enterprise, 四新, A/B, industry tier not high)
    for name in (
        "ok",
        "ok_b",
        "tolerated",
        "entry_day_penalty",
        "first_large",
        "late_minor",
        "x_class",
        "x_i10",
        "x_sd",
        "x_pen",
        "x_gone",
        "stay",
    ):
        e[name] = w.entity(four_new=True)
    e["high_tier"] = w.entity(four_new=True, industry="1310")
    e["individual"] = w.entity(four_new=True, entity_type="individual")
    e["not_new"] = w.entity()
    e["class_c"] = w.entity(four_new=True)
    e["i10_zero"] = w.entity(four_new=True)
    # white-list candidates (industry group 725, ad_alliance_member honor in force, class A)
    for name in ("wl_ok", "wl_b", "wl_class", "wl_comp", "wl_pen", "wl_unsub"):
        e[name] = w.entity(industry="7251")
    e["wl_expired"] = w.entity(industry="7251")
    e["wl_other"] = w.entity(industry="7240")
    for name in ("wl_ok", "wl_b", "wl_class", "wl_comp", "wl_pen", "wl_unsub", "wl_other"):
        w.record("bizenv__honors", uscc=e[name], honor_type="ad_alliance_member", awarded_on="2024-01-01")
    w.record(
        "bizenv__honors",
        uscc=e["wl_expired"],
        honor_type="ad_alliance_member",
        awarded_on="2023-01-01",
        valid_until="2024-06-29",
    )
    w.record("bizenv__honors", uscc=e["wl_expired"], honor_type="quality_award", awarded_on="2024-01-01")

    pen = "samr__penalties"

    def penalty(who: str, day: str, severity: str) -> str:
        return w.record(
            pen,
            uscc=e[who],
            decision_no=f"{who}-{day}",
            decided_on=day,
            violation_type="v",
            severity=severity,
        )

    e["tolerated_pid"] = penalty("tolerated", "2024-08-15", "warning")
    penalty("tolerated", "2024-10-01", "fine_small")
    penalty("entry_day_penalty", "2024-06-30", "fine_large")  # decided on the entry as_of: not after entry
    penalty("first_large", "2024-08-01", "fine_large")
    penalty("late_minor", "2025-07-01", "warning")  # after the 包容期 (ends 2025-06-30)
    penalty("x_pen", "2024-07-05", "fine_large")
    w.record("samr__serious_dishonesty", uscc=e["x_sd"], listed_on="2024-07-10", reason="fraud")
    comp = "samr__complaints"
    w.record(
        comp, uscc=e["wl_comp"], received_on="2024-07-10", channel="12315", category="ad", substantiated=True
    )
    w.record(
        comp,
        uscc=e["wl_unsub"],
        received_on="2024-07-10",
        channel="12315",
        category="ad",
        substantiated=False,
    )
    w.record(
        pen,
        uscc=e["wl_pen"],
        decision_no="wl",
        decided_on="2024-07-20",
        violation_type="ad",
        severity="warning",
    )

    for as_of in AS_OFS:
        classes = {u: "A" for k, u in e.items() if not k.endswith("_pid")}
        classes[e["ok_b"]] = classes[e["wl_b"]] = "B"
        classes[e["class_c"]] = "C"
        i10 = {e["i10_zero"]: 0}
        if as_of != "2024-06-30":
            classes[e["x_class"]] = "C"
            classes[e["wl_class"]] = "B"
            i10[e["x_i10"]] = 0
            del classes[e["x_gone"]]
        if as_of >= "2025-06-30":  # back to A: may they come back?
            classes[e["x_class"]] = "A"
            classes[e["wl_class"]] = "A"
        w.publish(as_of, classes, i10=i10)
        supervision.run_all(dt.date.fromisoformat(as_of))
    return w, e


def members(w: World, table: str, as_of: str) -> set[str]:
    return {
        r[0]
        for r in w.query(
            f"select uscc from supervision.{table} where as_of = %s", dt.date.fromisoformat(as_of)
        )
    }


def spells(w: World, table: str, uscc: str) -> list[tuple]:
    return [
        (str(r[0]), str(r[1]) if r[1] else None, r[2])
        for r in w.query(
            f"select entered_as_of, exited_as_of, exit_reasons from supervision.{table} "
            "where uscc = %s order by entered_as_of",
            uscc,
        )
    ]


def test_sandbox_entry_conditions(history):
    w, e = history
    first = members(w, "sandbox_members", "2024-06-30")
    for name in ("ok", "ok_b", "tolerated", "x_class", "stay"):
        assert e[name] in first, name
    for name in ("high_tier", "individual", "not_new", "class_c", "i10_zero"):
        assert e[name] not in first, name
    assert w.query("select grace_ends_on from supervision.sandbox_memberships where uscc = %s", e["ok"]) == [
        (dt.date(2025, 6, 30),)
    ]


def test_sandbox_first_minor_penalty_is_tolerated(history):
    w, e = history
    assert e["tolerated"] in members(w, "sandbox_members", "2024-08-31")
    assert (
        w.scalar(
            "select tolerated_penalty_id from supervision.sandbox_members where as_of = '2024-08-31' "
            "and uscc = %s",
            e["tolerated"],
        )
        == e["tolerated_pid"]
    )
    # the second penalty removes it
    assert spells(w, "sandbox_memberships", e["tolerated"]) == [("2024-06-30", "2024-10-31", ["penalty"])]
    # a penalty decided on the entry as_of is not "after entry"
    assert e["entry_day_penalty"] in members(w, "sandbox_members", "2025-07-31")
    # the first penalty after entry that is not minor is not tolerated
    assert spells(w, "sandbox_memberships", e["first_large"]) == [("2024-06-30", "2024-08-31", ["penalty"])]
    # a minor penalty after the 包容期 is not tolerated
    assert spells(w, "sandbox_memberships", e["late_minor"]) == [("2024-06-30", "2025-07-31", ["penalty"])]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("x_class", "risk_class_c_or_d"),
        ("x_i10", "annual_report_not_filed"),
        ("x_sd", "serious_dishonesty"),
        ("x_pen", "penalty"),
        ("x_gone", "not_active"),
    ],
)
def test_sandbox_exit_rules(history, name, reason):
    w, e = history
    assert spells(w, "sandbox_memberships", e[name])[0] == ("2024-06-30", "2024-07-31", [reason])
    assert e[name] not in members(w, "sandbox_members", "2024-07-31")
    assert e["stay"] in members(w, "sandbox_members", "2024-07-31")


def test_sandbox_no_reentry_within_12_months(history):
    w, e = history
    # left 2024-07-31, class A again from 2025-06-30: blocked then, admitted 12 months after the exit
    assert e["x_class"] not in members(w, "sandbox_members", "2025-06-30")
    assert spells(w, "sandbox_memberships", e["x_class"]) == [
        ("2024-06-30", "2024-07-31", ["risk_class_c_or_d"]),
        ("2025-07-31", None, None),
    ]


def test_white_list_entry(history):
    w, e = history
    first = members(w, "white_list_members", "2024-06-30")
    for name in ("wl_ok", "wl_class", "wl_comp", "wl_pen", "wl_unsub"):
        assert e[name] in first, name
    for name in ("wl_b", "wl_expired", "wl_other", "ok"):
        assert e[name] not in first, name


@pytest.mark.parametrize(
    ("name", "reason"),
    [("wl_class", "risk_class_changed"), ("wl_comp", "substantiated_complaint"), ("wl_pen", "penalty")],
)
def test_white_list_exit_rules(history, name, reason):
    w, e = history
    assert spells(w, "white_list_memberships", e[name])[0] == ("2024-06-30", "2024-07-31", [reason])
    assert e["wl_unsub"] in members(w, "white_list_members", "2024-07-31")
    assert e["wl_ok"] in members(w, "white_list_members", "2025-07-31")


def test_white_list_no_reentry_within_12_months(history):
    w, e = history
    assert e["wl_class"] not in members(w, "white_list_members", "2025-06-30")
    assert e["wl_class"] in members(w, "white_list_members", "2025-07-31")
    events = w.query(
        "select as_of, event from supervision.membership_events where list = 'white_list' and uscc = %s "
        "order by as_of, event",
        e["wl_class"],
    )
    assert [(str(a), ev) for a, ev in events] == [
        ("2024-06-30", "entry"),
        ("2024-07-31", "exit"),
        ("2025-07-31", "entry"),
    ]


def test_rerunning_an_older_as_of_keeps_the_history(history):
    w, e = history
    snapshot = w.query("select * from supervision.sandbox_memberships order by uscc, entered_as_of")
    wl = w.query("select * from supervision.white_list_memberships order by uscc, entered_as_of")
    result = supervision.run_all(dt.date(2024, 7, 31))
    assert result["later_as_ofs_replayed"] == AS_OFS[2:]
    assert w.query("select * from supervision.sandbox_memberships order by uscc, entered_as_of") == snapshot
    assert w.query("select * from supervision.white_list_memberships order by uscc, entered_as_of") == wl
