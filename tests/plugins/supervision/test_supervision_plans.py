"""Spot-check plans: strata and sample sizes, seeds and re-draws, auditor verification, joint
tasks (一业一查), inspectors with 回避, unstaffable tasks, sandbox / white list in the frame."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from supervision_world import World

from credit_risk import supervision
from credit_risk.supervision import plans
from credit_risk.supervision import settings as settings_mod

AS_OF = dt.date(2025, 6, 30)
T = "2025-06-30"


def test_plan_period_is_the_quarter_after_as_of():
    assert plans.plan_period(AS_OF, "next_quarter") == ("2025Q3", dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert plans.plan_period(dt.date(2025, 4, 30), "next_quarter")[0] == "2025Q3"
    assert plans.plan_period(dt.date(2025, 12, 31), "next_quarter") == (
        "2026Q1",
        dt.date(2026, 1, 1),
        dt.date(2026, 3, 31),
    )
    assert plans.plan_period(dt.date(2025, 5, 31), "current_quarter") == (
        "2025Q2",
        dt.date(2025, 4, 1),
        dt.date(2025, 6, 30),
    )


@pytest.mark.parametrize(
    ("bp", "population", "n"),
    [
        (300, 0, 0),
        (300, 1, 1),
        (300, 33, 1),
        (300, 34, 2),
        (300, 100, 3),
        (300, 101, 4),
        (1000, 100, 10),
        (1000, 101, 11),
        (4000, 1, 1),
        (8000, 5, 4),
        (8000, 6, 5),
        (10000, 7, 7),
        (100, 100, 1),
        (100, 101, 2),
        (0, 50, 0),
    ],
)
def test_sample_size_is_the_integer_ceiling(bp, population, n):
    assert plans.sample_size(bp, population) == n


def standard(w: World) -> dict[str, list[str]]:
    """Unit U1: item I1 (all industries, enterprises) and I2 (individuals); unit U2: key item K2
    (division 51, enterprises and individuals). Prefecture 230100 (and 230200)."""
    g = {
        "A": w.entities(101),
        "B": w.entities(100),
        "C": w.entities(1),
        "D": w.entities(3),
        "indA": w.entities(34, entity_type="individual", industry="6210"),
        "p2A": w.entities(33, region="230203", industry="5291"),
    }
    w.item("I1", "U1", "*", "enterprise")
    w.item("I2", "U1", "*", "individual")
    w.item("K2", "U2", "51", "enterprise;individual", key=True)
    for i in range(1, 5):
        w.inspector(f"P{i}", "U1")
    w.inspector("P5", "U1", active=False)
    w.inspector("P6", "U1", "230200")
    w.inspector("Q1", "U2")
    w.inspector("Q2", "U2")
    classes = {u: k[-1] for k, us in g.items() for u in us}
    w.publish(T, classes)
    return g


def strata(w: World, plan_id: str) -> dict[tuple[str, str, bool], tuple[int, int, int, str]]:
    return {
        (r[0], r[1], r[2]): (r[3], r[4], r[5], r[6])
        for r in w.query(
            "select item_id, risk_class, is_white_listed, ratio_bp, population, sample, ratio_source "
            "from supervision.plan_strata where as_of = %s and plan_id = %s",
            AS_OF,
            plan_id,
        )
    }


def drawn(w: World, plan_id: str | None = None) -> list[tuple]:
    return w.query(
        "select plan_id, item_id, risk_class, uscc from supervision.plan_samples where as_of = %s "
        "and (%s::text is null or plan_id = %s) order by 1, 2, 3, 4",
        AS_OF,
        plan_id,
        plan_id,
    )


def test_strata_ratios_and_sample_sizes(world):
    g = standard(world)
    summary = supervision.run_all(AS_OF)
    assert summary["plans"]["plan_period"] == "2025Q3"
    st = strata(world, "U1-230100-2025Q3")
    assert st == {
        ("I1", "A", False): (300, 101, 4, "class"),
        ("I1", "B", False): (1000, 100, 10, "class"),
        ("I1", "C", False): (4000, 1, 1, "class"),
        ("I1", "D", False): (8000, 3, 3, "class"),
        ("I2", "A", False): (300, 34, 2, "class"),
    }
    assert strata(world, "U1-230200-2025Q3") == {("I1", "A", False): (300, 33, 1, "class")}
    # key item: D at 10000, the other classes at their class ratio
    k2 = strata(world, "U2-230100-2025Q3")
    assert k2[("K2", "D", False)] == (10000, 3, 3, "key_item")
    assert k2[("K2", "A", False)] == (300, 101, 4, "class")
    assert ("K2", "A", False) in k2 and not any(k[0] == "I2" for k in k2)
    # the draw is the first n by sha256(seed:item:uscc), lower-case hex ascending
    seed = world.scalar("select plan_seed from supervision.plan_seeds where plan_id = 'U1-230100-2025Q3'")
    assert len(seed) == 32 and int(seed, 16) >= 0
    expected = sorted(g["A"], key=lambda u: hashlib.sha256(f"{seed}:I1:{u}".encode()).hexdigest())[:4]
    got = [r[3] for r in drawn(world, "U1-230100-2025Q3") if r[1] == "I1" and r[2] == "A"]
    assert got == sorted(expected)
    plan = world.query(
        "select plan_seed, strata, population, sample, application_rate, ratios_bp from supervision.spot_check_plans "
        "where as_of = %s and plan_id = 'U1-230100-2025Q3'",
        AS_OF,
    )[0]
    assert plan[:5] == (seed, 5, 239, 20, 1)
    assert plan[5]["class"] == {"A": 300, "B": 1000, "C": 4000, "D": 8000} and plan[5]["mode"] == "class"


def test_verify_redraws_the_plan_and_detects_tampering(world):
    g = standard(world)
    supervision.run_all(AS_OF)
    out = io.StringIO()
    assert plans.verify("U1-230100-2025Q3", out=out)
    assert "verified" in out.getvalue()
    assert plans.verify("U2-230100-2025Q3", out=io.StringIO())
    # hand one drawn entity's task to an entity the seed did not draw at all
    chosen = {r[3] for r in drawn(world, "U1-230100-2025Q3") if r[1] == "I1" and r[2] == "A"}
    intruder = next(u for u in g["A"] if u not in {r[3] for r in drawn(world)})
    victim = sorted(chosen)[0]
    world.conn.execute(
        "update supervision.spot_check_tasks set uscc = %s, task_id = %s where uscc = %s",
        (intruder, f"2025Q3-230100-{intruder}", victim),
    )
    out = io.StringIO()
    assert not plans.verify("U1-230100-2025Q3", out=out)
    assert "does NOT verify" in out.getvalue() and intruder in out.getvalue()
    # a published population that does not match the inputs
    world.conn.execute(
        "update supervision.plan_strata set population = population + 1 where plan_id = 'U2-230100-2025Q3' "
        "and risk_class = 'B'"
    )
    assert not plans.verify("U2-230100-2025Q3", out=io.StringIO())
    # a seed that is not the registered one
    world.conn.execute(
        "update supervision.plan_seeds set plan_seed = repeat('0', 32) where plan_id = 'U1-230200-2025Q3'"
    )
    assert not plans.verify("U1-230200-2025Q3", out=io.StringIO())
    assert not plans.verify("NO-SUCH-PLAN", out=io.StringIO())


def test_rerun_reuses_seeds_and_draws_the_same_list(world):
    standard(world)
    first = supervision.run_all(AS_OF)
    seeds = world.query("select plan_id, plan_seed from supervision.plan_seeds order by 1")
    samples = drawn(world)
    tasks = world.query("select task_id, inspector_ids from supervision.spot_check_tasks order by 1")
    again = supervision.run_all(AS_OF)
    assert first["plans"]["new_plan_seeds"] == 3 and again["plans"]["new_plan_seeds"] == 0
    assert world.query("select plan_id, plan_seed from supervision.plan_seeds order by 1") == seeds
    assert drawn(world) == samples
    assert world.query("select task_id, inspector_ids from supervision.spot_check_tasks order by 1") == tasks


def test_class_change_moves_an_entity_between_strata(world):
    g = standard(world)
    supervision.run_all(AS_OF)
    before_u2 = strata(world, "U2-230100-2025Q3")
    mover = next(u for u in g["A"] if u not in {r[3] for r in drawn(world)})
    world.set_class(T, mover, "D")
    supervision.run_all(AS_OF)
    after_u1 = strata(world, "U1-230100-2025Q3")
    assert after_u1[("I1", "A", False)] == (300, 100, 3, "class")  # ceil(3.00) = 3 now
    assert after_u1[("I1", "D", False)] == (8000, 4, 4, "class")  # ceil(3.2) = 4
    after_u2 = strata(world, "U2-230100-2025Q3")
    assert after_u2[("K2", "D", False)] == (10000, before_u2[("K2", "D", False)][1] + 1, 4, "key_item")
    # key item D is drawn at 10000: the mover is now certainly in U2's list
    assert mover in {r[3] for r in drawn(world, "U2-230100-2025Q3") if r[2] == "D"}
    assert plans.verify("U1-230100-2025Q3", out=io.StringIO())


def test_joint_task_lists_every_unit_and_item(world):
    g = standard(world)
    supervision.run_all(AS_OF)
    d = g["D"][0]  # drawn by I1 (3 of 3 at 8000) and by K2 (key item, 10000)
    row = world.query(
        "select task_id, task_type, member_units, item_ids, first_unit from supervision.spot_check_tasks "
        "where as_of = %s and uscc = %s",
        AS_OF,
        d,
    )
    assert row == [
        (
            f"2025Q3-230100-{d}",
            "joint",
            ["U1", "U2"],
            ["I1", "K2"],
            "U1",
        )
    ]
    # one task per entity, belonging to both plans
    plans_of = world.query("select plan_id from supervision.plan_tasks where uscc = %s order by 1", d)
    assert plans_of == [("U1-230100-2025Q3",), ("U2-230100-2025Q3",)]
    assert (
        world.scalar(
            "select count(*) from supervision.spot_check_tasks where as_of = %s and uscc = %s", AS_OF, d
        )
        == 1
    )
    joint = world.scalar(
        "select joint_tasks from supervision.spot_check_plans where plan_id = 'U2-230100-2025Q3'"
    )
    assert (
        joint
        == world.scalar(
            "select count(*) from supervision.plan_tasks where task_type = 'joint' and plan_id = 'U2-230100-2025Q3'"
        )
        and joint >= 3
    )
    # an individual drawn only by U1's I2 is a plain task
    ind = [r[3] for r in drawn(world, "U1-230100-2025Q3") if r[1] == "I2"]
    assert (
        world.scalar("select task_type from supervision.spot_check_tasks where uscc = %s", ind[0]) == "random"
    )


def _order(seed: str, task_id: str, inspectors: list[str]) -> list[str]:
    return sorted(inspectors, key=lambda i: hashlib.sha256(f"{seed}:{task_id}:{i}".encode()).hexdigest())


def test_inspectors_follow_the_seed_with_avoidance(world):
    g = standard(world)
    supervision.run_all(AS_OF)
    seed_u1 = world.scalar("select plan_seed from supervision.plan_seeds where plan_id = 'U1-230100-2025Q3'")
    d = g["D"][0]
    task_id = f"2025Q3-230100-{d}"
    # a joint task: inspectors of both units, ordered with the first unit's (U1) plan seed
    order = _order(seed_u1, task_id, ["P1", "P2", "P3", "P4", "Q1", "Q2"])
    assert (
        world.scalar("select inspector_ids from supervision.spot_check_tasks where task_id = %s", task_id)
        == order[:2]
    )
    # 回避: the latest inspection's inspectors are skipped (an older one's are not)
    world.record(
        "samr__inspections",
        uscc=d,
        task_id="old",
        member_unit="U1",
        inspected_on="2025-01-01",
        inspection_type="random",
        result="no_problem",
        inspector_ids=order[2],
    )
    world.record(
        "samr__inspections",
        uscc=d,
        task_id="new",
        member_unit="U1",
        inspected_on="2025-03-01",
        inspection_type="random",
        result="no_problem",
        inspector_ids=f"{order[0]};{order[3]}",
    )
    world.record(
        "samr__inspections",
        uscc=d,
        task_id="future",
        member_unit="U1",
        inspected_on="2025-08-01",
        inspection_type="random",
        result="no_problem",
        inspector_ids=f"{order[1]};{order[2]}",
    )
    supervision.run_all(AS_OF)
    row = world.query(
        "select inspector_ids, eligible_inspectors, is_staffed from supervision.spot_check_tasks "
        "where task_id = %s",
        task_id,
    )[0]
    assert row == ([order[1], order[2]], 4, True)


def test_unstaffable_task_is_flagged_not_dropped(world):
    g = standard(world)
    supervision.run_all(AS_OF)
    # prefecture 230200 has one active U1 inspector (P6): its task cannot get two
    rows = world.query(
        "select uscc, eligible_inspectors, inspector_ids, is_staffed from supervision.spot_check_tasks "
        "where as_of = %s and prefecture = '230200'",
        AS_OF,
    )
    assert len(rows) == 1 and rows[0][0] in g["p2A"]
    assert rows[0][1:] == (1, [], False)
    assert supervision.run_all(AS_OF)["plans"]["unstaffed_tasks"] == 1


def test_sandbox_members_left_out_and_white_list_sampled_off_site(world):
    g = standard(world)
    sandboxed = world.entity(four_new=True)
    listed = world.entity(industry="7251")
    world.record("bizenv__honors", uscc=listed, honor_type="ad_alliance_member", awarded_on="2025-01-01")
    classes = {u: c for u, c in world.query("select uscc, risk_class from published.risk_classifications")}
    classes.update({sandboxed: "A", listed: "A"})
    world.conn.execute("delete from published.publications")
    world.publish(T, classes)
    supervision.run_all(AS_OF)
    frame = {
        r[0]: r[1:]
        for r in world.query(
            "select uscc, is_white_listed, is_sandbox_member "
            "from supervision.plan_frame where uscc in (%s, %s)",
            sandboxed,
            listed,
        )
    }
    assert frame == {sandboxed: (False, True), listed: (True, False)}
    st = strata(world, "U1-230100-2025Q3")
    assert st[("I1", "A", False)] == (300, 101, 4, "class")  # the sandbox member is not in the population
    assert st[("I1", "A", True)] == (100, 1, 1, "white_list")
    task = world.query("select inspection_mode from supervision.spot_check_tasks where uscc = %s", listed)
    assert task == [("off_site",)]
    assert world.scalar("select count(*) from supervision.plan_samples where uscc = %s", sandboxed) == 0
    rate = world.scalar(
        "select application_rate from supervision.spot_check_plans where plan_id = 'U1-230100-2025Q3'"
    )
    assert float(rate) == pytest.approx(5 / 6, abs=1e-4)
    assert plans.verify("U1-230100-2025Q3", out=io.StringIO())
    assert len(g["A"]) == 101


def test_flat_ratio_mode_per_member_unit(world):
    standard(world)
    s = settings_mod.load(
        overrides={"plans": {"member_units": {"U2": {"ratio_mode": "flat", "flat_ratio_bp": 5000}}}}
    )
    supervision.run_all(AS_OF, settings=s)
    k2 = strata(world, "U2-230100-2025Q3")
    assert k2[("K2", "A", False)] == (5000, 101, 51, "flat")
    assert k2[("K2", "D", False)] == (5000, 3, 2, "flat")
    assert (
        world.scalar(
            "select application_rate from supervision.spot_check_plans where plan_id = 'U2-230100-2025Q3'"
        )
        == 0
    )
    assert (
        world.scalar("select ratio_mode from supervision.spot_check_plans where plan_id = 'U2-230100-2025Q3'")
        == "flat"
    )
    assert plans.verify("U2-230100-2025Q3", out=io.StringIO())


def test_prefilter_never_changes_the_draw(world, monkeypatch):
    standard(world)
    supervision.run_all(AS_OF)
    normal = drawn(world)
    # cut-offs far too tight: every stratum falls short and is redrawn in full
    monkeypatch.setattr(plans, "MARGIN_SD", -1000.0)
    monkeypatch.setattr(plans, "MARGIN_MIN", -1000.0)
    result = supervision.run_all(AS_OF)
    assert result["plans"]["refilled_strata"] == result["plans"]["strata"]
    assert drawn(world) == normal


def test_refuses_an_as_of_that_is_not_published(world):
    standard(world)
    with pytest.raises(supervision.NotPublishedError):
        supervision.run_all(dt.date(2025, 7, 31))
    world.publish("2025-07-31", {}, status="blocked")
    with pytest.raises(supervision.NotPublishedError):
        supervision.run_all(dt.date(2025, 7, 31))


def test_summary_text(world):
    standard(world)
    assert "no results" in supervision.summary(AS_OF)
    supervision.run_all(AS_OF)
    text = supervision.summary(AS_OF)
    assert "spot-check plans 2025Q3: 3 plans" in text
    assert "22 warning batches" in text
    assert "U1" in text and "annual-report urging" in text and "credit repair" in text


def test_cli_plan_verify(world, capsys):
    from credit_risk import cli

    standard(world)
    supervision.run_all(AS_OF)
    assert cli.main(["plan", "verify", "U2-230100-2025Q3"]) == 0
    assert "verified" in capsys.readouterr().out
    world.conn.execute(
        "update supervision.plan_strata set sample = sample - 1 where plan_id = 'U2-230100-2025Q3'"
    )
    assert cli.main(["plan", "verify", "U2-230100-2025Q3"]) == 1
    assert "does NOT verify" in capsys.readouterr().out
