from credit_risk.config import DbUrl


def test_tcp_url_forms():
    u = DbUrl("postgresql://alice:s%40cret@db.example:6543/wh?sslmode=require")
    assert (u.host, u.port, u.user, u.password, u.dbname) == ("db.example", 6543, "alice", "s@cret", "wh")
    assert u.sqlalchemy() == "postgresql+psycopg2://alice:s%40cret@db.example:6543/wh?sslmode=require"
    assert u.with_db("airflow").dbname == "airflow"


def test_socket_url_forms():
    u = DbUrl("postgresql://postgres@/warehouse?host=/var/run/postgresql&port=5433")
    assert u.host == "/var/run/postgresql" and u.port == 5433 and u.dbname == "warehouse"
    sa = u.sqlalchemy()
    assert sa.startswith("postgresql+psycopg2://postgres@/warehouse?")
    assert "host=%2Fvar%2Frun%2Fpostgresql" in sa and "port=5433" in sa
    env = u.env_for_dbt()
    assert env["CREDIT_RISK_PGHOST"] == "/var/run/postgresql" and env["CREDIT_RISK_PGPORT"] == "5433"
