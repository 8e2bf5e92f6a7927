"""The notifier: log, webhook (local HTTP server on 127.0.0.1) and mail (local SMTP stub)."""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from credit_risk import notify


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {"path": self.path, "type": self.headers["Content-Type"], "json": json.loads(body)}
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # keep test output quiet
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_channels(monkeypatch):
    for var in (
        notify.WEBHOOK_ENV,
        notify.SMTP_ENV,
        notify.TO_ENV,
        "AIRFLOW_CONN_CREDIT_RISK_NOTIFY_WEBHOOK",
    ):
        monkeypatch.delenv(var, raising=False)


def test_default_only_logs(caplog):
    with caplog.at_level(logging.WARNING, logger="credit_risk.notify"):
        notify.notify("delivery rejected", "checksum_mismatch: part-0001.csv", "error")
    assert any("delivery rejected" in r.message and r.levelno == logging.ERROR for r in caplog.records)


def test_webhook_from_env_receives_json(monkeypatch, webhook):
    url, received = webhook
    monkeypatch.setenv(notify.WEBHOOK_ENV, url + "/hooks/credit")
    notify.notify("quarantine rate", "12 of 100 rows", "warning")
    assert len(received) == 1
    got = received[0]
    assert got["path"] == "/hooks/credit"
    assert got["type"] == "application/json"
    assert got["json"]["subject"] == "quarantine rate"
    assert got["json"]["body"] == "12 of 100 rows"
    assert got["json"]["severity"] == "warning"


def test_webhook_from_airflow_connection(monkeypatch, webhook):
    url, received = webhook
    port = url.rsplit(":", 1)[1]
    monkeypatch.setenv("AIRFLOW_CONN_CREDIT_RISK_NOTIFY_WEBHOOK", f"http://127.0.0.1:{port}/alerts")
    notify.notify("s", "b")
    assert received and received[0]["path"] == "/alerts"
    monkeypatch.setenv(
        "AIRFLOW_CONN_CREDIT_RISK_NOTIFY_WEBHOOK",
        json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": int(port), "schema": "json-form"}),
    )
    notify.notify("s", "b")
    assert received[-1]["path"] == "/json-form"


def test_personal_shapes_are_masked(monkeypatch, webhook):
    url, received = webhook
    monkeypatch.setenv(notify.WEBHOOK_ENV, url)
    notify.notify("id 11010119900307803X", "phone 13912345678, uscc 91230102MA1234567X, rows 1234")
    sent = json.dumps(received[0]["json"])
    assert "11010119900307803X" not in sent and "13912345678" not in sent
    assert "91230102MA1234567X" in sent and "1234" in sent


def test_failing_webhook_never_raises(monkeypatch, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(notify.WEBHOOK_ENV, f"http://127.0.0.1:{port}/x")
    with caplog.at_level(logging.WARNING, logger="credit_risk.notify"):
        notify.notify("s", "b")
    assert any("webhook POST failed" in r.message for r in caplog.records)


class _SMTPStub(socketserver.StreamRequestHandler):
    """Just enough SMTP to accept one message."""

    messages: list[str] = []

    def handle(self):
        self.wfile.write(b"220 stub\r\n")
        data_mode, lines = False, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if data_mode:
                if line in (b".\r\n", b".\n"):
                    _SMTPStub.messages.append(b"".join(lines).decode())
                    data_mode = False
                    self.wfile.write(b"250 queued\r\n")
                else:
                    lines.append(line)
                continue
            cmd = line.strip().upper()
            if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                self.wfile.write(b"250 stub\r\n")
            elif cmd.startswith(b"DATA"):
                data_mode = True
                self.wfile.write(b"354 go\r\n")
            elif cmd.startswith(b"QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


def test_mail_through_smtp(monkeypatch):
    _SMTPStub.messages = []
    server = socketserver.TCPServer(("127.0.0.1", 0), _SMTPStub)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        monkeypatch.setenv(notify.SMTP_ENV, f"smtp://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv(notify.TO_ENV, "ops@example.org, lead@example.org")
        notify.notify("delivery rejected", "unreadable_csv: part-0002.csv: bad gzip")
    finally:
        server.shutdown()
        server.server_close()
    assert len(_SMTPStub.messages) == 1
    msg = _SMTPStub.messages[0]
    assert "delivery rejected" in msg and "ops@example.org" in msg and "bad gzip" in msg
