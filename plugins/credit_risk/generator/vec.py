"""Vectorized building blocks: counter-based random numbers, calendar arithmetic,
identifier check characters and fast string columns.

Everything here works on whole numpy arrays; nothing loops over rows in Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# ---------------------------------------------------------------- random numbers

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer on a uint64 array (wrapping arithmetic)."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> _S30
        x *= _M1
        x ^= x >> _S27
        x *= _M2
        x ^= x >> _S31
    return x


def hash_u01(seed: int, stream: int, a: np.ndarray | int, b: np.ndarray | int = 0) -> np.ndarray:
    """Uniform [0, 1) numbers that depend only on (seed, stream, a, b).

    Counter-based: any (entity, month) cell can be recomputed on its own, which
    makes episodes persistent across months and lets `extend` continue without
    replaying history.
    """
    a64 = np.asarray(a).astype(np.uint64)
    b64 = np.asarray(b).astype(np.uint64)
    with np.errstate(over="ignore"):
        k = mix64(np.asarray([(seed * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
        h = mix64(a64 * _GOLD + k)
        h = mix64(h ^ (b64 * _M1 + k))
    return (h >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def rng(seed: int, *key: int) -> np.random.Generator:
    """An independent numpy Generator for one (seed, stream, …) key."""
    return np.random.default_rng([seed & 0xFFFFFFFF, seed >> 32, *key])


def normal_ppf(u: np.ndarray) -> np.ndarray:
    """Inverse standard-normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    u = np.clip(np.asarray(u, dtype=np.float64), 1e-12, 1 - 1e-12)
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    out = np.empty_like(u)
    lo = u < 0.02425
    hi = u > 1 - 0.02425
    mid = ~(lo | hi)
    q = np.sqrt(-2 * np.log(u[lo]))
    out[lo] = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
        (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
    )
    q = np.sqrt(-2 * np.log(1 - u[hi]))
    out[hi] = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
        (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
    )
    q = u[mid] - 0.5
    r = q * q
    out[mid] = (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )
    return out


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard-normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7)."""
    z = np.asarray(x, dtype=np.float64) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * np.abs(z))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(z) * erf)


# ---------------------------------------------------------------- calendar

EPOCH = dt.date(1970, 1, 1)


def month_index(ym: str) -> int:
    """'2025-06' -> absolute month number (year * 12 + month - 1)."""
    y, m = ym.split("-")
    if len(y) != 4 or not (1 <= int(m) <= 12):
        raise ValueError(f"not a month YYYY-MM: {ym}")
    return int(y) * 12 + int(m) - 1


def month_label(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def month_start(mi: int) -> dt.date:
    return dt.date(mi // 12, mi % 12 + 1, 1)


def month_end(mi: int) -> dt.date:
    return month_start(mi + 1) - dt.timedelta(days=1)


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01 (Arrow date32)."""
    return (d - EPOCH).days


def day_to_date(n: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(n))


def days_month_index(days: np.ndarray) -> np.ndarray:
    """Absolute month number of each day number."""
    d64 = np.asarray(days, dtype="int64").astype("datetime64[D]")
    months = d64.astype("datetime64[M]").astype(np.int64)  # months since 1970-01
    return months + 1970 * 12


def add_months_days(days: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Calendar month arithmetic on day numbers, day clamped to the month's length."""
    d64 = np.asarray(days, dtype="int64").astype("datetime64[D]")
    m = d64.astype("datetime64[M]")
    dom = (d64 - m.astype("datetime64[D]")).astype(np.int64)
    m2 = m + np.asarray(months, dtype=np.int64)
    length = ((m2 + 1).astype("datetime64[D]") - m2.astype("datetime64[D]")).astype(np.int64)
    return (m2.astype("datetime64[D]") + np.minimum(dom, length - 1)).astype(np.int64)


# ---------------------------------------------------------------- identifiers

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), dtype=np.int64)
_USCC_VALUE = np.full(128, -1, dtype=np.int64)
for _i, _ch in enumerate(USCC_ALPHABET):
    _USCC_VALUE[ord(_ch)] = _i
_USCC_CHARS = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
# GB 11714 organisation-code check: digits and letters A=10 … Z=35.
_ORG_VALUE = np.full(128, 0, dtype=np.int64)
for _i in range(10):
    _ORG_VALUE[48 + _i] = _i
for _i in range(26):
    _ORG_VALUE[65 + _i] = 10 + _i
_ORG_WEIGHTS = np.array((3, 7, 9, 10, 5, 8, 4, 2), dtype=np.int64)


def uscc_check_chars(body: np.ndarray) -> np.ndarray:
    """Check characters (uint8 codes) of USCC bodies given as an (n, 17) uint8 array."""
    vals = _USCC_VALUE[body.astype(np.int64)]
    total = (vals * _USCC_WEIGHTS).sum(axis=1)
    return _USCC_CHARS[(31 - total % 31) % 31]


def org_check_chars(body8: np.ndarray) -> np.ndarray:
    """GB 11714 check characters for (n, 8) organisation-code bodies (uint8 codes)."""
    total = (_ORG_VALUE[body8.astype(np.int64)] * _ORG_WEIGHTS).sum(axis=1)
    c = 11 - total % 11
    return np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), 48 + c)).astype(np.uint8)


def ric_check_chars(body: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters of resident IDs given as (n, 17) uint8 digit codes.

    Same as `stdnum.cn.ric.calc_check_digit`: (1 - 2 * Σ d_i 2^(16-i)) mod 11, 10 -> X.
    """
    w = (2 ** np.arange(16, -1, -1, dtype=np.int64)) % 11
    s = ((body.astype(np.int64) - 48) * w).sum(axis=1)
    c = (1 - 2 * s) % 11
    return np.where(c == 10, ord("X"), 48 + c).astype(np.uint8)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) uint8 ASCII digits of non-negative integers, zero padded."""
    v = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((len(v), width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        out[:, k] = 48 + v % 10
        v //= 10
    return out


def fixed_strings(mat: np.ndarray) -> pa.Array:
    """An Arrow string array from an (n, w) uint8 matrix of ASCII codes (all length w)."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32) if n else np.zeros(1, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(mat)])


def const_bytes(text: str, n: int) -> np.ndarray:
    """(n, len) uint8 matrix repeating one ASCII text."""
    b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.broadcast_to(b, (n, len(b)))


def concat_cols(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.uint8) for p in parts], axis=1)


def join(parts: Sequence[pa.Array | str], sep: str = "") -> pa.Array:
    """Element-wise concatenation of string arrays / scalars (nulls propagate)."""
    return pc.binary_join_element_wise(*parts, sep)


def pick(choices: Sequence[str] | pa.Array, idx: np.ndarray) -> pa.Array:
    """choices[idx] as an Arrow string array."""
    arr = choices if isinstance(choices, pa.Array) else pa.array(list(choices), pa.string())
    return arr.take(pa.array(np.asarray(idx, dtype=np.int64)))


def money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """decimal128(18, 2) array from integer cents (CSV renders it as e.g. 123.45)."""
    c = np.asarray(cents, dtype=np.int64)
    n = len(c)
    buf = np.empty(2 * n, dtype=np.int64)
    buf[0::2] = c
    buf[1::2] = np.where(c < 0, -1, 0)
    mask = None
    if valid is not None:
        mask = pa.array(np.asarray(valid, dtype=bool)).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, 2), n, [mask, pa.py_buffer(buf)])


def ratio(basis_points: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """decimal128(5, 4) ratio from ten-thousandths (renders as 0.8500)."""
    c = np.asarray(basis_points, dtype=np.int64)
    n = len(c)
    buf = np.empty(2 * n, dtype=np.int64)
    buf[0::2] = c
    buf[1::2] = 0
    mask = None
    if valid is not None:
        mask = pa.array(np.asarray(valid, dtype=bool)).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(5, 4), n, [mask, pa.py_buffer(buf)])


def dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """date32 array from day numbers (null where not valid)."""
    d = np.asarray(days, dtype=np.int32)
    if valid is None:
        return pa.array(d, pa.date32())
    return pa.array(d, pa.date32(), mask=~np.asarray(valid, dtype=bool))


def flags(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """'Y' / 'N' strings from booleans (null where not valid)."""
    arr = pick(("N", "Y"), np.asarray(values, dtype=np.int64))
    if valid is not None:
        arr = pc.if_else(pa.array(np.asarray(valid, dtype=bool)), arr, pa.scalar(None, pa.string()))
    return arr


def nullify(arr: pa.Array, valid: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(valid, dtype=bool)), arr, pa.scalar(None, arr.type))


def serial_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """prefix + zero-padded number, as an Arrow string array."""
    n = len(numbers)
    return fixed_strings(concat_cols(const_bytes(prefix, n), digits(numbers, width)))
