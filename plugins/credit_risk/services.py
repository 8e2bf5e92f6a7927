"""`make up` / `make down`: the Airflow services of a local installation.

Starts api-server, scheduler, dag-processor and triggerer in the background with the
project environment, records their PIDs under `<home>/airflow/pids/`, and stops exactly those
PIDs (and their children) again; nothing broader is ever killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from credit_risk import airflow_env

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def _pid_dir() -> Path:
    p = airflow_env.airflow_home() / "pids"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _running(name: str) -> psutil.Process | None:
    f = _pid_dir() / f"{name}.pid"
    if not f.exists():
        return None
    try:
        proc = psutil.Process(int(f.read_text()))
        if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except (psutil.NoSuchProcess, ValueError):
        pass
    return None


def up() -> int:
    from credit_risk import dbt_build, runner, security

    runner.prepare_airflow()
    security.setup()  # the DAGs' steps take their least roles
    dbt_build.ensure_manifest(force=True)
    env = {**os.environ, **airflow_env.project_env()}
    env.setdefault("CREDIT_RISK_DBT_MODE", "cosmos")  # the UI shows every dbt model as a task
    logs = airflow_env.airflow_home() / "service-logs"
    logs.mkdir(exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    for name in COMPONENTS:
        if _running(name):
            print(f"{name}: already running")
            continue
        with open(logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                [airflow, name], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        (_pid_dir() / f"{name}.pid").write_text(str(proc.pid))
        print(f"{name}: started (pid {proc.pid}, log {logs / (name + '.log')})")
    port = env["AIRFLOW__API__PORT"]
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=3):
                break
        except OSError:
            time.sleep(2)
    else:
        print(f"the api-server did not answer within 120 s; see {logs / 'api-server.log'}")
        return 1
    print(f"\nAirflow UI: {url}")
    print(f"login: {login_text()}")
    print("stop everything with: make down")
    return 0


def login_text() -> str:
    pw_file = Path(airflow_env.project_env()["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    for _ in range(20):
        if pw_file.exists():
            try:
                users = json.loads(pw_file.read_text())
                return ", ".join(f"user {u} / password {p}" for u, p in users.items())
            except ValueError:
                pass
        time.sleep(0.5)
    return f"user admin, password in {pw_file}"


def down() -> int:
    for name in COMPONENTS:
        proc = _running(name)
        pid_file = _pid_dir() / f"{name}.pid"
        if proc is None:
            pid_file.unlink(missing_ok=True)
            continue
        family = [proc, *proc.children(recursive=True)]
        for p in family:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=20)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        pid_file.unlink(missing_ok=True)
        print(f"{name}: stopped")
    return 0


def status() -> int:
    for name in COMPONENTS:
        proc = _running(name)
        print(f"{name}: {'running pid ' + str(proc.pid) if proc else 'stopped'}")
    return 0


def main(action: str) -> int:
    return {"up": up, "down": down, "status": status}[action]()
