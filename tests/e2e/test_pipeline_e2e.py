"""The whole pipeline, end to end, through the CLI: generator → Airflow DAGs (dag.test) →
dbt build → GX gates → publish → supervision → exports, for two consecutive as_of."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from credit_risk import db

FIRST_AS_OF = dt.date(2025, 5, 31)  # as in conftest.py
SECOND_AS_OF = dt.date(2025, 6, 30)

pytestmark = pytest.mark.e2e


def q(sql: str, *params):
    with db.connect() as c:
        return c.execute(sql, params).fetchall()


def test_first_run_succeeds_and_prints_a_summary(e2e):
    run = e2e.runs["first"]
    assert run.returncode == 0, run.output[-8000:]
    assert f"credit-risk run for as_of {FIRST_AS_OF}" in run.output
    assert "risk classes (share within entity type)" in run.output
    for dag_id in ("ingest_deliveries", "classify_and_publish", "supervise", "export_results"):
        assert f"{dag_id}" in run.output


def test_second_run_succeeds(e2e):
    run = e2e.runs["second"]
    assert run.returncode == 0, run.output[-8000:]


def test_both_as_of_published_and_history_kept(e2e):
    rows = q(
        "select as_of, status from published.publications where status = 'published' order by publication_id"
    )
    assert [r[0] for r in rows] == [FIRST_AS_OF, SECOND_AS_OF]
    per_as_of = dict(q("select as_of, count(*) from published.risk_classifications group by 1"))
    assert set(per_as_of) == {FIRST_AS_OF, SECOND_AS_OF}
    assert all(n > 1000 for n in per_as_of.values()), per_as_of


def test_every_active_entity_classified_once_per_system(e2e):
    for as_of in (FIRST_AS_OF, SECOND_AS_OF):
        (dups,) = q(
            "select count(*) from (select uscc, system_code from published.risk_classifications "
            "where as_of = %s group by 1, 2 having count(*) > 1) d",
            as_of,
        )[0]
        assert dups == 0
        (n_ind,) = q(
            "select count(*) from published.indicator_scores where as_of = %s and entity_type = 'individual'",
            as_of,
        )[0]
        (n_ibe,) = q("select count(*) from published.credit_evaluations where as_of = %s", as_of)[0]
        assert n_ind == n_ibe > 0
        (n_all,) = q("select count(*) from published.indicator_scores where as_of = %s", as_of)[0]
        (n_cls,) = q("select count(*) from published.risk_classifications where as_of = %s", as_of)[0]
        assert n_all == n_cls


def test_all_four_classes_and_explanations_present(e2e):
    classes = {r[0] for r in q("select distinct risk_class from published.risk_classifications")}
    assert classes == {"A", "B", "C", "D"}
    bad = q(
        "select count(*) from published.risk_classifications "
        "where cardinality(top_losses) <> 3 or fired_rules is null"
    )[0][0]
    assert bad == 0


def test_class_changes_queryable_between_consecutive_as_of(e2e):
    rows = q("select count(*) from published.risk_class_changes where as_of = %s", SECOND_AS_OF)
    assert rows[0][0] > 0


def test_accounting_identity_for_every_delivery(e2e):
    bad = q(
        "select count(*) from ingest.deliveries where status = 'accepted' "
        "and rows_manifest <> rows_loaded + rows_quarantined"
    )[0][0]
    assert bad == 0
    (accepted,) = q("select count(*) from ingest.deliveries where status = 'accepted'")[0]
    assert accepted > 100


def test_manifest_rows_all_accounted_for(e2e):
    """Every data row in the landing zone is in raw or in quarantine."""
    total = 0
    for manifest in e2e.landing.rglob("_manifest.json"):
        total += sum(f["rows"] for f in json.loads(manifest.read_text())["files"])
    loaded, quarantined = q(
        "select sum(rows_loaded), sum(rows_quarantined) from ingest.deliveries where status = 'accepted'"
    )[0]
    assert loaded + quarantined == total


def test_supervision_results_exist_and_a_plan_verifies(e2e):
    (plans,) = q("select count(*) from supervision.spot_check_plans where as_of = %s", SECOND_AS_OF)[0]
    assert plans > 0
    plan_id = q("select plan_id from supervision.spot_check_plans where as_of = %s limit 1", SECOND_AS_OF)[0][
        0
    ]
    run = e2e.cli("plan", "verify", plan_id)
    assert run.returncode == 0, run.output


def test_export_packages_complete_and_verified(e2e):
    root = Path(e2e.env["CREDIT_RISK_EXPORT_ROOT"])
    manifests = list(root.rglob("_manifest.json"))
    assert manifests, "export packages were written"
    for m in manifests:
        meta = json.loads(m.read_text())
        for f in meta["files"]:
            data = (m.parent / f["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
    (ledger,) = q("select count(*) from exports.ledger")[0]
    assert ledger >= len(manifests)


def test_no_clear_personal_data_anywhere_in_the_warehouse(e2e):
    """Scan every text column of every table for the clear values the generator emitted."""
    pii_file = e2e.truth / "personal_data.txt.gz"
    values = {v for v in gzip.open(pii_file, "rt", encoding="utf-8").read().splitlines() if len(v) >= 2}
    assert len(values) > 100
    cols = q(
        """
        select table_schema, table_name, column_name from information_schema.columns c
        join information_schema.tables t using (table_schema, table_name)
        where t.table_type = 'BASE TABLE' and data_type in ('text', 'character varying', 'character', 'jsonb')
          and table_schema not in ('pg_catalog', 'information_schema')
        """
    )
    assert cols
    with db.connect() as c:
        c.execute("create temp table pii (v text primary key)")
        with c.cursor().copy("copy pii (v) from stdin") as cp:
            for v in values:
                cp.write_row((v,))
        hits = []
        for schema, table, col in cols:
            n = c.execute(
                f'select count(*) from "{schema}"."{table}" t join pii on t."{col}"::text = pii.v'
            ).fetchone()[0]
            if n:
                hits.append((schema, table, col, n))
            # also inside longer texts (quarantined raw lines, evidence json)
            if schema in ("ingest",) and col in ("raw_text", "detail"):
                n = c.execute(
                    f'select count(*) from "{schema}"."{table}" t join pii on strpos(t."{col}"::text, pii.v) > 0 '
                    "where length(pii.v) >= 6"
                ).fetchone()[0]
                if n:
                    hits.append((schema, table, col, n))
    assert hits == []
