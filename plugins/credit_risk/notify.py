"""Alerts to the data team: logged always; also POSTed to a webhook and/or mailed when configured.

| setting | meaning |
|---|---|
| `CREDIT_RISK_NOTIFY_WEBHOOK` (or the Airflow connection `credit_risk_notify_webhook`) | URL that receives a JSON POST `{"subject", "body", "severity", "source", "sent_at"}` |
| `CREDIT_RISK_NOTIFY_SMTP_URL` | `smtp://[user:password@]host:port` (`smtps://` for TLS, `?starttls=1` for STARTTLS) |
| `CREDIT_RISK_NOTIFY_TO` | comma-separated recipients of the mail |
| `CREDIT_RISK_NOTIFY_FROM` | sender address (default `credit-risk@localhost`) |

Callers never pass personal data (values of personal fields); as a second line of defence, digit
runs shaped like a resident ID or a mainland mobile number are masked before anything leaves the
process. A failing channel is logged and never raises: an alert must not break a load.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import smtplib
import sys
import urllib.request
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "error", "critical")
WEBHOOK_ENV = "CREDIT_RISK_NOTIFY_WEBHOOK"
WEBHOOK_CONN_ID = "credit_risk_notify_webhook"
SMTP_ENV = "CREDIT_RISK_NOTIFY_SMTP_URL"
TO_ENV = "CREDIT_RISK_NOTIFY_TO"
FROM_ENV = "CREDIT_RISK_NOTIFY_FROM"
TIMEOUT_S = 10

# 17 digits + check char (resident ID) or an 11-digit mobile number, not part of a longer code
_PERSONAL_SHAPES = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|1[3-9]\d{9})(?![0-9A-Za-z])")


def scrub(text: str) -> str:
    """Mask digit runs shaped like a resident ID or a mobile number."""
    return _PERSONAL_SHAPES.sub("[masked]", text)


def notify(subject: str, body: str, severity: str = "error") -> None:
    """Send an alert through every configured channel (log, webhook, mail)."""
    if severity not in SEVERITIES:
        severity = "error"
    subject, body = scrub(subject), scrub(body)
    level = {"info": logging.INFO, "warning": logging.WARNING}.get(severity, logging.ERROR)
    log.log(level, "ALERT [%s] %s: %s", severity, subject, body)
    url = webhook_url()
    if url:
        try:
            _post(url, subject, body, severity)
        except Exception as e:  # noqa: BLE001 - an alert channel must never break the caller
            log.warning("notify: webhook POST failed: %s", type(e).__name__)
    smtp = os.environ.get(SMTP_ENV)
    recipients = [r.strip() for r in os.environ.get(TO_ENV, "").split(",") if r.strip()]
    if smtp and recipients:
        try:
            _mail(smtp, recipients, subject, body, severity)
        except Exception as e:  # noqa: BLE001
            log.warning("notify: mail failed: %s", type(e).__name__)


def webhook_url() -> str | None:
    """The webhook URL: env `CREDIT_RISK_NOTIFY_WEBHOOK`, else the Airflow connection."""
    url = os.environ.get(WEBHOOK_ENV)
    if url:
        return url
    raw = os.environ.get("AIRFLOW_CONN_" + WEBHOOK_CONN_ID.upper())
    if raw:
        return _url_from_airflow_conn(raw)
    # Only inside a running Airflow worker: importing Airflow elsewhere is slow and needs its config.
    if "airflow.sdk" in sys.modules:
        try:
            from airflow.sdk import Connection

            conn = Connection.get(WEBHOOK_CONN_ID)
        except Exception:  # noqa: BLE001 - no such connection
            return None
        return _url_from_parts(
            conn.conn_type, conn.host, conn.port, conn.schema, conn.login, conn.password, conn.extra
        )
    return None


def _url_from_airflow_conn(raw: str) -> str | None:
    """URL from an `AIRFLOW_CONN_*` value (JSON or URI form)."""
    raw = raw.strip()
    if raw.startswith("{"):
        d = json.loads(raw)
        return _url_from_parts(
            d.get("conn_type"),
            d.get("host"),
            d.get("port"),
            d.get("schema"),
            d.get("login"),
            d.get("password"),
            d.get("extra"),
        )
    p = urlparse(raw)
    extra = {k: v[-1] for k, v in parse_qs(p.query).items()}
    return _url_from_parts(
        p.scheme,
        p.hostname,
        p.port,
        p.path.lstrip("/"),
        unquote(p.username) if p.username else None,
        unquote(p.password) if p.password else None,
        extra,
    )


def _url_from_parts(conn_type, host, port, schema, login, password, extra) -> str | None:
    if isinstance(extra, str) and extra:
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = {}
    extra = extra or {}
    if extra.get("url"):
        return str(extra["url"])
    if not host:
        return None
    host = str(host)
    if "://" in host:  # Airflow http connections often keep the scheme in host
        base = host.rstrip("/")
    else:
        scheme = "https" if str(conn_type or "").lower() in ("https", "webhook_https") else "http"
        base = f"{scheme}://{host}" + (f":{port}" if port else "")
    path = str(schema or extra.get("endpoint") or "").lstrip("/")
    return base + ("/" + path if path else "")


def _payload(subject: str, body: str, severity: str) -> dict:
    return {
        "subject": subject,
        "body": body,
        "severity": severity,
        "source": "credit_risk",
        "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _post(url: str, subject: str, body: str, severity: str) -> None:
    data = json.dumps(_payload(subject, body, severity), ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - configured URL
        resp.read()


def _mail(smtp_url: str, recipients: list[str], subject: str, body: str, severity: str) -> None:
    p = urlparse(smtp_url)
    q = {k: v[-1] for k, v in parse_qs(p.query).items()}
    msg = EmailMessage()
    msg["Subject"] = f"[credit-risk {severity}] {subject}"
    msg["From"] = os.environ.get(FROM_ENV, "credit-risk@localhost")
    msg["To"] = ", ".join(recipients)
    msg.set_content(body)
    host = p.hostname or "localhost"
    if p.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, p.port or 465, timeout=TIMEOUT_S)
    else:
        client = smtplib.SMTP(host, p.port or 25, timeout=TIMEOUT_S)
    with client:
        if q.get("starttls") in ("1", "true", "yes"):
            client.starttls()
        if p.username:
            client.login(unquote(p.username), unquote(p.password or ""))
        client.send_message(msg)
