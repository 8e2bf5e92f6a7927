"""Settings, read from the environment only (never from the repository).

| variable | meaning | default |
|---|---|---|
| `CREDIT_RISK_DATABASE_URL` | libpq URL of the warehouse server (TCP or socket form) | the embedded PostgreSQL |
| `CREDIT_RISK_HOME` | folder for everything generated at run time | `<project>/var` |
| `CREDIT_RISK_HMAC_KEY` | key of the personal-data hashes | required outside the demo |
| `CREDIT_RISK_EXPORT_ROOT` | where export packages go (path or object-storage URL) | `<home>/exports` |
| `CREDIT_RISK_LANDING` | landing root of the department deliveries | `<home>/landing` |
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse, urlunparse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE_DB = "warehouse"
AIRFLOW_DB = "airflow"


def home() -> Path:
    """Run-time folder (git-ignored)."""
    p = Path(os.environ.get("CREDIT_RISK_HOME", PROJECT_ROOT / "var")).resolve()
    p.mkdir(parents=True, exist_ok=True)
    return p


def landing_root() -> Path:
    return Path(os.environ.get("CREDIT_RISK_LANDING", home() / "landing"))


def export_root() -> str:
    return os.environ.get("CREDIT_RISK_EXPORT_ROOT", str(home() / "exports"))


def dbt_project_dir() -> Path:
    return PROJECT_ROOT / "dbt_project"


def hmac_key(allow_demo: bool | None = None) -> bytes:
    """The personal-data HMAC key.

    Required outside the demo. In demo mode (`CREDIT_RISK_DEMO=1`) a random key
    is generated once into the git-ignored run-time folder and reused.
    """
    key = os.environ.get("CREDIT_RISK_HMAC_KEY")
    if key:
        return key.encode()
    demo = allow_demo if allow_demo is not None else os.environ.get("CREDIT_RISK_DEMO") == "1"
    if not demo:
        raise RuntimeError(
            "CREDIT_RISK_HMAC_KEY is not set. Personal data is hashed with this key; set it "
            "(see .env.example) or run the demo, which generates a local key."
        )
    path = home() / "demo_hmac_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class DbUrl:
    """A parsed libpq URL, able to produce the forms each tool wants."""

    url: str

    @property
    def parts(self):
        return urlparse(self.url)

    @property
    def dbname(self) -> str:
        return (self.parts.path or "/").lstrip("/") or "postgres"

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.parts.query).items()}

    @property
    def host(self) -> str:
        # socket form: postgresql://user@/db?host=/path
        return self.query.get("host") or self.parts.hostname or "localhost"

    @property
    def port(self) -> int:
        return int(self.query.get("port") or self.parts.port or 5432)

    @property
    def user(self) -> str:
        return unquote(self.parts.username or "") or self.query.get("user") or "postgres"

    @property
    def password(self) -> str:
        return unquote(self.parts.password or "") or self.query.get("password") or ""

    def with_db(self, dbname: str) -> DbUrl:
        p = self.parts
        return DbUrl(urlunparse(p._replace(path="/" + dbname)))

    def sqlalchemy(self, driver: str = "psycopg2") -> str:
        """SQLAlchemy URL (Airflow metadata, GX)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        q = {k: v for k, v in self.query.items() if k not in ("host", "port", "user", "password")}
        if self.host.startswith("/"):
            q["host"] = self.host
            q["port"] = str(self.port)
            netloc = auth + "@"
        else:
            netloc = f"{auth}@{self.host}:{self.port}"
        qs = ("?" + urlencode(q)) if q else ""
        return f"postgresql+{driver}://{netloc}/{self.dbname}{qs}"

    def env_for_dbt(self) -> dict[str, str]:
        return {
            "CREDIT_RISK_PGHOST": self.host,
            "CREDIT_RISK_PGPORT": str(self.port),
            "CREDIT_RISK_PGUSER": self.user,
            "CREDIT_RISK_PGPASSWORD": self.password,
            "CREDIT_RISK_PGDATABASE": self.dbname,
        }

    def conninfo(self) -> str:
        return self.url
