"""Unit tests of the vectorized building blocks against their references."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from stdnum.cn import ric, uscc

from credit_risk.generator import calibration, population, refdata, vec
from credit_risk.generator.context import quarter_end_months
from credit_risk.generator.writer import csv_line


def test_uscc_check_characters_match_stdnum():
    r = np.random.default_rng(0)
    alphabet = np.frombuffer(vec.USCC_ALPHABET.encode(), np.uint8)
    body = alphabet[r.integers(0, 31, (3000, 17))]
    got = vec.uscc_check_chars(body)
    for b, c in zip(body, got, strict=True):
        assert uscc.calc_check_digit(bytes(b).decode()) == chr(c)


def test_resident_id_check_characters_match_stdnum():
    r = np.random.default_rng(1)
    body = (48 + r.integers(0, 10, (3000, 17))).astype(np.uint8)
    got = vec.ric_check_chars(body)
    assert {chr(c) for c in got} >= {"X", "0"}
    for b, c in zip(body, got, strict=True):
        assert ric.calc_check_digit(bytes(b).decode() + "0") == chr(c)


def test_population_identifiers_are_unique_and_valid():
    e = population.build(3000, 5, dt.date(2025, 6, 30), population.Population())
    codes = e.uscc.to_pylist()
    assert len(set(codes)) == len(codes)
    assert all(uscc.is_valid(c) for c in codes)
    ids = e.rep_id.to_pylist()
    assert all(ric.calc_check_digit(i) == i[-1] for i in ids)
    assert set(e.region.tolist()) <= {int(c) for p in refdata.PREFECTURES for c, _ in p.counties}
    assert (e.est <= vec.day_number(dt.date(2025, 6, 30))).all()


def test_counter_based_random_numbers_are_stable_and_uniform():
    a = vec.hash_u01(7, 3, np.arange(100_000), 5)
    assert np.array_equal(a, vec.hash_u01(7, 3, np.arange(100_000), 5))
    assert not np.array_equal(a, vec.hash_u01(7, 3, np.arange(100_000), 6))
    assert abs(a.mean() - 0.5) < 0.01 and a.min() >= 0 and a.max() < 1


def test_month_arithmetic_is_postgres_like():
    d = np.array([vec.day_number(dt.date(2025, 6, 30)), vec.day_number(dt.date(2024, 3, 31))])
    got = vec.add_months_days(d, -3).astype("datetime64[D]").astype(str).tolist()
    assert got == ["2025-03-30", "2023-12-31"]
    assert calibration._minus_months(dt.date(2025, 5, 31), 3) == np.datetime64("2025-02-28")
    assert quarter_end_months(vec.month_index("2025-07"), 2) == [
        vec.month_index("2025-03"),
        vec.month_index("2025-06"),
    ]


def test_money_renders_as_plain_decimals():
    arr = vec.money(np.array([12345, -5, 0]))
    assert arr.cast(pa.string()).to_pylist() == ["123.45", "-0.05", "0.00"]
    assert csv_line(["a,b", 'say "hi"', None, ""]) == '"a,b","say ""hi""",,""'
