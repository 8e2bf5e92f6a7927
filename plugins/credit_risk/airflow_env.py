"""Environment for Airflow, dbt and GX, derived from the one warehouse setting.

Must be applied before `airflow` is imported: Airflow reads its configuration
at import time.
"""

from __future__ import annotations

import os

from credit_risk import config, db


def airflow_home():
    p = config.home() / "airflow"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _local_secret(name: str) -> str:
    """A random secret generated once into the git-ignored Airflow home (JWT signing for the
    local api-server and workers; never committed)."""
    import secrets

    path = airflow_home() / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def project_env() -> dict[str, str]:
    """Every variable the pipeline's processes need, as strings."""
    home = airflow_home()
    port = os.environ.get("CREDIT_RISK_AIRFLOW_PORT", "8080")
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(config.PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(config.PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "2",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db.airflow_url().sqlalchemy("psycopg2"),
        "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": os.environ.get("AIRFLOW__API_AUTH__JWT_SECRET")
        or _local_secret("jwt_secret"),
        "AIRFLOW__CORE__FERNET_KEY": os.environ.get("AIRFLOW__CORE__FERNET_KEY", ""),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # the warehouse as an Airflow connection (hooks, cosmos profile mapping)
        "AIRFLOW_CONN_CREDIT_RISK_WAREHOUSE": db.warehouse_url().url,
        "CREDIT_RISK_HOME": str(config.home()),
        "DBT_PROFILES_DIR": str(config.dbt_project_dir()),
        "DBT_PROJECT_DIR": str(config.dbt_project_dir()),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "NO_COLOR": "1",
    }
    env.update(db.dbt_env())
    return env


def apply() -> dict[str, str]:
    """Set the project environment in this process (values already set by the user win for
    the warehouse URL and home, which they came from)."""
    env = project_env()
    for k, v in env.items():
        os.environ[k] = v
    return env
