"""Secrets come from the environment; the HMAC key is required outside the demo."""

from __future__ import annotations

import subprocess

import pytest

from credit_risk import config


def test_hmac_key_required_outside_the_demo(monkeypatch, tmp_path):
    monkeypatch.delenv("CREDIT_RISK_HMAC_KEY", raising=False)
    monkeypatch.delenv("CREDIT_RISK_DEMO", raising=False)
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="CREDIT_RISK_HMAC_KEY"):
        config.hmac_key()
    assert not (tmp_path / "demo_hmac_key").exists()


def test_demo_generates_a_private_local_key_once(monkeypatch, tmp_path):
    monkeypatch.delenv("CREDIT_RISK_HMAC_KEY", raising=False)
    monkeypatch.setenv("CREDIT_RISK_DEMO", "1")
    monkeypatch.setenv("CREDIT_RISK_HOME", str(tmp_path))
    k1 = config.hmac_key()
    assert len(k1) >= 32 and config.hmac_key() == k1
    assert (tmp_path / "demo_hmac_key").stat().st_mode & 0o077 == 0, "readable by the owner only"


def test_runtime_folder_and_env_files_are_git_ignored():
    for path in ("var/demo_hmac_key", ".env", "var/pgdata/PG_VERSION", "var/airflow/jwt_secret"):
        r = subprocess.run(["git", "check-ignore", "-q", path], cwd=config.PROJECT_ROOT)
        assert r.returncode == 0, f"{path} must be git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=config.PROJECT_ROOT, capture_output=True, text=True
    ).stdout
    assert ".env\n" not in tracked and "demo_hmac_key" not in tracked
