"""Pipeline steps take the least role that works (issue: least privilege).

Real PostgreSQL: the roles, grants and ownerships of `security.setup()` on a fresh database; the
step functions of `pipeline_tasks` with their heavy work replaced by probes that record the role
their connections would take and what the database lets that role do.
"""

from __future__ import annotations

import psycopg
import pytest

from credit_risk import db, pipeline_tasks, security


@pytest.fixture(scope="module")
def warehouse(fresh_database):
    url = fresh_database("least_privilege")
    assert security.setup()
    return url


def current_user() -> str:
    with db.connect() as c:
        return c.execute("select current_user").fetchone()[0]


class FakeOutlets(dict):
    def __missing__(self, key):
        class Events:
            def add(self, *a, **k):
                pass

        return Events()


def test_each_step_connects_as_its_least_role(warehouse, monkeypatch, tmp_path):
    import credit_risk.exports as exports
    import credit_risk.gates as gates
    import credit_risk.gates.publish as publish
    import credit_risk.loader as loader
    import credit_risk.supervision as supervision

    seen: dict[str, str] = {}

    class Found:
        def to_dict(self):
            seen["discover"] = current_user()
            return {"ready": [{"feed_key": "samr/registration", "path": str(tmp_path)}]}

    def load(path):
        seen["load"] = current_user()
        raise RuntimeError("probe: stop after the role check")

    monkeypatch.setattr(loader, "discover", lambda landing: Found())
    monkeypatch.setattr(loader, "load_delivery", load)
    monkeypatch.setattr(loader, "ensure_schema", lambda conn: None)
    monkeypatch.setattr(
        loader, "accounting_violations", lambda conn: seen.setdefault("report", current_user()) and []
    )
    monkeypatch.setattr(
        gates, "run_raw_gates", lambda as_of, run_id: seen.setdefault("gates", current_user()) and {}
    )
    monkeypatch.setattr(publish, "publish", lambda *a, **k: seen.setdefault("publish", current_user()) and {})
    monkeypatch.setattr(
        pipeline_tasks,
        "dbt_results_from_states",
        lambda ctx: {"success": True, "tasks": 1, "failed_tasks": []},
    )
    monkeypatch.setattr(
        supervision, "run_all", lambda as_of: seen.setdefault("supervision", current_user()) and {}
    )
    monkeypatch.setattr(supervision, "summary", lambda as_of: "")
    monkeypatch.setattr(
        exports, "export_all", lambda as_of: seen.setdefault("exports", current_user()) and {}
    )

    class Run:
        dag_id = "probe"
        run_id = "probe"
        conf = {"as_of": "2025-05-31"}
        run_type = "manual"

    ctx = {"dag_run": Run(), "outlet_events": FakeOutlets(), "params": {}, "triggering_asset_events": {}}
    found = pipeline_tasks.discover_deliveries(tmp_path)
    with pytest.raises(RuntimeError, match="probe"):
        pipeline_tasks.load_feed_deliveries(found, "samr/registration", ctx)
    pipeline_tasks.ingest_report({}, [])
    pipeline_tasks.gate_task("raw", "2025-05-31", ctx)
    pipeline_tasks.publish_task("2025-05-31", [{}], ctx)
    pipeline_tasks.supervision_task(ctx)
    pipeline_tasks.exports_task(ctx)
    assert seen == {
        "discover": security.LOADER,
        "load": security.LOADER,
        "report": security.LOADER,
        "gates": security.TRANSFORMER,
        "publish": security.TRANSFORMER,
        "supervision": security.TRANSFORMER,
        "exports": security.EXPORTER,
    }
    # outside a step: the login itself
    assert current_user() == db.warehouse_url().user


def test_the_roles_can_do_their_step_and_nothing_more(warehouse):
    with db.connect(role=security.LOADER, autocommit=True) as c:
        c.execute("create table raw.probe_partition (x int)")  # the loader adds partitions to raw
        c.execute("drop table raw.probe_partition")
        for stmt in ("select 1 from published.analyst_regions", "create table staging.probe (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(stmt)
    with db.connect(role=security.TRANSFORMER, autocommit=True) as c:
        c.execute("create table staging.probe (x int)")
        c.execute("drop table staging.probe")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("create table raw.probe (x int)")
    with db.connect(role=security.EXPORTER, autocommit=True) as c:
        c.execute("select count(*) from published.analyst_regions")
        for stmt in ("create table published.probe (x int)", "create table raw.probe (x int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                c.execute(stmt)


def test_objects_a_step_creates_belong_to_its_role(warehouse):
    """The step role is the session's role: what the loader creates, the loader owns (so it can
    attach, and nobody else can drop, its partitions); the role survives a rolled back
    transaction (it is a connection option, not a SET inside the transaction)."""
    with db.acting_as(security.LOADER), db.connect() as c:
        c.execute("select 1")
        c.rollback()
        c.execute("create table raw.probe_owned (x int)")
        c.commit()
    with db.connect() as c:
        owner = c.execute(
            "select pg_get_userbyid(relowner) from pg_class where oid = 'raw.probe_owned'::regclass"
        ).fetchone()[0]
        c.execute("drop table raw.probe_owned")
        c.commit()
    assert owner == security.LOADER


def test_setup_hands_existing_objects_to_the_schema_owner(warehouse):
    """A warehouse built before the roles existed (tables owned by the login) converges: dbt,
    running as the transformer, can then replace them."""
    with db.connect() as c:
        c.execute("create table staging.built_by_login (id serial, x int)")
        c.execute("create view staging.built_by_login_v as select x from staging.built_by_login")
        c.commit()
    assert security.setup()
    with db.connect() as c:
        owners = dict(
            c.execute(
                "select relname, pg_get_userbyid(relowner) from pg_class "
                "where relname like 'built_by_login%%' order by 1"
            ).fetchall()
        )
    assert owners == {
        "built_by_login": security.TRANSFORMER,
        "built_by_login_id_seq": security.TRANSFORMER,
        "built_by_login_v": security.TRANSFORMER,
    }
    with db.connect(role=security.TRANSFORMER) as c:
        c.execute("drop view staging.built_by_login_v")
        c.execute("drop table staging.built_by_login")
        c.commit()


def test_dbt_connects_as_the_transformer_and_the_switch_turns_it_off(warehouse, monkeypatch):
    assert db.dbt_env()["CREDIT_RISK_PGROLE"] == security.TRANSFORMER == db.DBT_ROLE
    monkeypatch.setenv("CREDIT_RISK_LEAST_PRIVILEGE", "0")
    assert db.dbt_env()["CREDIT_RISK_PGROLE"] == ""
    with db.acting_as(security.LOADER):
        assert db.step_role() is None
        assert current_user() == db.warehouse_url().user


def test_schema_creation_works_for_a_role_without_database_create(warehouse):
    with db.connect(role=security.LOADER, autocommit=True) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("create schema if not exists raw")  # what PostgreSQL does without the guard
        c.execute(db.create_schema_sql("raw"))  # exists: nothing to do, no privilege needed
    with pytest.raises(ValueError):
        db.create_schema_sql("raw; drop table x")


def test_step_functions_keep_their_names():
    # the decorated step functions keep their names and docs (Airflow logs and docs show them)
    assert pipeline_tasks.load_feed_deliveries.__name__ == "load_feed_deliveries"
    assert "Load the ready deliveries" in (pipeline_tasks.load_feed_deliveries.__doc__ or "")
