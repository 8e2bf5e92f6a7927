"""Least privilege and row-level security on the warehouse the e2e run filled."""

from __future__ import annotations

import psycopg
import pytest

from credit_risk import db, security

pytestmark = pytest.mark.e2e


def as_role(login: str) -> psycopg.Connection:
    url = db.warehouse_url()
    return psycopg.connect(host=url.host, port=url.port, dbname=url.dbname, user=login, autocommit=True)


@pytest.fixture(scope="module")
def logins(e2e):
    with db.connect() as c:
        security.ensure_roles(c)
        security.create_analyst(c, "analyst_harbin", None, "2301")
        security.create_analyst(c, "analyst_province", None, None)
        for login, group in (("etl_loader", security.LOADER), ("etl_exporter", security.EXPORTER)):
            if not c.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone():
                c.execute(f'create role "{login}" login')
            c.execute(f'grant "{group}" to "{login}"')
        c.commit()
    return True


def test_analyst_limited_to_one_prefecture(logins):
    with db.connect() as c:
        total, harbin = c.execute(
            "select count(*), count(*) filter (where region_code like '2301%') from published.risk_classifications"
        ).fetchone()
    assert 0 < harbin < total
    with as_role("analyst_harbin") as c:
        seen, outside = c.execute(
            "select count(*), count(*) filter (where region_code not like '2301%') from published.risk_classifications"
        ).fetchone()
    assert (seen, outside) == (harbin, 0)
    with as_role("analyst_province") as c:
        assert c.execute("select count(*) from published.risk_classifications").fetchone()[0] == total


def test_analyst_reads_published_only(logins):
    with as_role("analyst_harbin") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("select count(*) from raw.registration")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("select count(*) from audit.risk_classifications")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("delete from published.risk_classifications")


def test_loader_cannot_read_results_and_exporter_cannot_write_raw(logins):
    with as_role("etl_loader") as c:
        c.execute("set role credit_risk_loader")
        assert c.execute("select count(*) from raw.registration").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("select count(*) from published.risk_classifications")
    with as_role("etl_exporter") as c:
        c.execute("set role credit_risk_exporter")
        assert c.execute("select count(*) from published.credit_evaluations").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("delete from raw.registration")
