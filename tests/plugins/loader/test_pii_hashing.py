"""Keyed hashing of personal data (unit tests, no database)."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from credit_risk import pii

KEY = b"unit-test-key"


def _ref(v: str, key: bytes = KEY) -> str:
    return hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()


def test_hash_value_is_hmac_sha256_hex():
    h = pii.hash_value("张三", KEY)
    assert h == _ref("张三")
    assert len(h) == 64 and h == h.lower()
    assert pii.hash_value("张三", b"another key") != h


def test_hash_value_uses_configured_key(monkeypatch):
    monkeypatch.setenv("CREDIT_RISK_HMAC_KEY", "configured")
    assert pii.hash_value("13900000000") == _ref("13900000000", b"configured")


def test_long_keys_are_hashed_first_like_hmac():
    key = b"k" * 100  # longer than the SHA-256 block
    assert pii.hash_array(["x"], key).to_pylist() == [_ref("x", key)]


def test_hash_array_keeps_nulls_and_order():
    values = ["a", None, "b", "a", None, "中文"]
    got = pii.hash_array(values, KEY).to_pylist()
    assert got == [None if v is None else _ref(v) for v in values]
    assert pii.hash_array(pa.array(values), KEY).to_pylist() == got
    assert pii.hash_array(pa.chunked_array([values[:2], values[2:]]), KEY).to_pylist() == got


def test_hash_array_dedupe_path_gives_the_same_hashes():
    # many repeats take the distinct-values path; all distinct take the direct path
    repeated = [f"name{i % 50}" for i in range(5000)] + [None]
    distinct = [f"id{i}" for i in range(5000)]
    for values in (repeated, distinct):
        got = pii.hash_array(values, KEY).to_pylist()
        assert got == [None if v is None else _ref(v) for v in values]


def test_hash_array_edge_cases():
    assert pii.hash_array([], KEY).to_pylist() == []
    assert pii.hash_array([None, None], KEY).to_pylist() == [None, None]
    assert pii.hash_list(["", "x"], KEY) == [_ref(""), _ref("x")]
