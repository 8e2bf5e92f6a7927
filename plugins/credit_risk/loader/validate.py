"""Vectorized validation of parsed records against the contract's types (feeds.md, "CSV rules").

Every check works on a whole Arrow column at once (RE2 regexes through `pyarrow.compute`, check
digits and calendar dates with numpy on the fixed-width bytes); nothing loops over rows in Python.

Reason of a bad row (one code from `feeds.REASONS`), by precedence:
1. `field_count` — decided by the reader (wrong number of fields, blank line);
2. `required_empty` — a required column is empty;
3. otherwise the first bad value in the file's header order, with the reason of its column's type.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from credit_risk import feeds

REASON_CODE: dict[str, int] = {r: i + 1 for i, r in enumerate(feeds.REASONS)}
REASON_NAME: dict[int, str] = {v: k for k, v in REASON_CODE.items()}

USCC_ALPHABET = b"0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), dtype=np.int64)
ID_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)  # ISO 7064 MOD 11-2

_USCC_VALUE = np.full(256, 255, dtype=np.uint8)  # 255: not in the alphabet
_USCC_VALUE[np.frombuffer(USCC_ALPHABET, dtype=np.uint8)] = np.arange(len(USCC_ALPHABET))

# Exact patterns of the contract (RE2: `\d` is ASCII 0-9 only).
PATTERNS: dict[str, str] = {
    feeds.DATE: r"^\d{4}-\d{2}-\d{2}$",
    feeds.MONTH: r"^\d{4}-(0[1-9]|1[0-2])$",
    feeds.INT: r"^-?\d+$",
    feeds.MONEY: r"^-?\d+(\.\d{1,2})?$",
    # a plain decimal from 0 to 1: 0, 0.25, 00.5, 1, 1.000 (no sign, exponent or bare ".5")
    feeds.RATIO: r"^(0+(\.\d+)?|0*1(\.0+)?)$",
    feeds.USCC: r"^[0-9]{8}[0-9A-HJ-NPQRTUWXY]{10}$",
    feeds.ID_NO: r"^[0-9]{17}[0-9X]$",
    feeds.REGION: r"^\d{6}$",
    feeds.INDUSTRY: r"^\d{4}$",
    feeds.PREFECTURE: r"^\d{4}00$",
}
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_BIGINT_MAX = "9223372036854775807"
_BIGINT_MIN_ABS = "9223372036854775808"


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow boolean (nulls = False) as a numpy bool array."""
    if mask.null_count:
        mask = pc.fill_null(mask, False)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


class Chars:
    """The UTF-8 bytes of a string column with per-row start/end, for numpy checks.

    Per-row counts use a cumulative sum over the bytes (exact for empty rows, unlike reduceat).
    """

    def __init__(self, col: pa.Array) -> None:
        n = len(col)
        bufs = col.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=col.offset * 4).astype(np.int64)
        base = int(offsets[0])
        size = int(offsets[-1]) - base
        self.data = (
            np.frombuffer(bufs[2], dtype=np.uint8, count=size, offset=base)
            if bufs[2] is not None and size
            else np.zeros(0, dtype=np.uint8)
        )
        self.starts = offsets[:-1] - base
        self.ends = offsets[1:] - base
        self.length = self.ends - self.starts
        self.null = _np(pc.is_null(col)) if col.null_count else np.zeros(n, dtype=bool)

    def count(self, byte_mask: np.ndarray) -> np.ndarray:
        """Per row, how many of its bytes are set in `byte_mask`."""
        cs = np.zeros(len(byte_mask) + 1, dtype=np.int64)
        np.cumsum(byte_mask, out=cs[1:])
        return cs[self.ends] - cs[self.starts]

    def first_byte(self) -> np.ndarray:
        """First byte of each row (0 for empty rows)."""
        if not len(self.data):
            return np.zeros(len(self.starts), dtype=np.uint8)
        return np.where(self.length > 0, self.data[np.minimum(self.starts, len(self.data) - 1)], 0)

    def fixed(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows that are exactly `width` bytes, their bytes as an (m, width) matrix)."""
        n = len(self.length)
        if n and len(self.data) == n * width and not self.null.any() and (self.length == width).all():
            return np.arange(n), self.data.reshape(n, width)  # every row has the width: no copy
        rows = np.flatnonzero((self.length == width) & ~self.null)
        if not len(rows):
            return rows, np.zeros((0, width), dtype=np.uint8)
        idx = self.starts[rows][:, None] + np.arange(width)
        return rows, self.data[idx]


def _digit(b: np.ndarray) -> np.ndarray:
    return (b - np.uint8(48)) <= 9  # uint8 arithmetic wraps, so other bytes are > 9


def _fixed_check(col: pa.Array, width: int, check) -> np.ndarray:
    """Good-or-null per row for a fixed-width type; `check(matrix) -> bool per matrix row`."""
    ch = Chars(col)
    good = ch.null.copy()
    rows, m = ch.fixed(width)
    if len(rows):
        good[rows] = check(m)
    return good


def _all_digits(m: np.ndarray) -> np.ndarray:
    return np.asarray(_digit(m).all(axis=1), dtype=bool)


def _num(m: np.ndarray) -> np.ndarray:
    """Decimal value of a matrix of ASCII digits (rows)."""
    v = np.zeros(m.shape[0], dtype=np.int64)
    for j in range(m.shape[1]):
        v = v * 10 + (m[:, j].astype(np.int64) - 48)
    return v


def _date_ok(m: np.ndarray) -> np.ndarray:
    digits = _all_digits(m[:, [0, 1, 2, 3, 5, 6, 8, 9]])
    dashes = (m[:, 4] == 45) & (m[:, 7] == 45)
    y, mo, d = _num(m[:, 0:4]), _num(m[:, 5:7]), _num(m[:, 8:10])
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    dim = _DAYS[np.clip(mo, 1, 12) - 1] + ((mo == 2) & leap)
    # year 0001 or later: PostgreSQL has no year 0
    return digits & dashes & (y >= 1) & (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= dim)


def _month_ok(m: np.ndarray) -> np.ndarray:
    digits = _all_digits(m[:, [0, 1, 2, 3, 5, 6]])
    y, mo = _num(m[:, 0:4]), _num(m[:, 5:7])
    return digits & (m[:, 4] == 45) & (y >= 1) & (mo >= 1) & (mo <= 12)


def _uscc_ok(m: np.ndarray) -> np.ndarray:
    """8 digits, 9 of the alphabet, then the GB 32100 check character (as stdnum's
    `calc_check_digit`, without compacting or case folding)."""
    vals = _USCC_VALUE[m.T]  # (18, n): one contiguous row per character position
    shape = (vals[:8] <= 9).all(axis=0) & (vals[8:] != 255).all(axis=0)
    total = np.zeros(m.shape[0], dtype=np.int32)
    for j in range(17):
        total += vals[j].astype(np.int32) * int(USCC_WEIGHTS[j])
    return shape & (vals[17] == (-total) % 31)


def uscc_parts(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first 8 digits as an integer, next 9 characters as a base-31 integer < 2**45) of valid
    codes given as rows of an (n, 18) byte matrix; the pair identifies the code (the 18th
    character is the check character, determined by the others)."""
    vals = _USCC_VALUE[m[:, :17].T]
    hi = np.zeros(m.shape[0], dtype=np.int64)
    for j in range(8):
        hi *= 10
        hi += vals[j]
    lo = np.zeros(m.shape[0], dtype=np.int64)
    for j in range(8, 17):
        lo *= 31
        lo += vals[j]
    return hi, lo


def _id_ok(m: np.ndarray) -> np.ndarray:
    """17 digits then the ISO 7064 MOD 11-2 check character (0-9 or X); birth date and place
    are not checked."""
    body = m[:, :17]
    shape = _all_digits(body) & (_digit(m[:, 17]) | (m[:, 17] == ord("X")))
    total = np.zeros(m.shape[0], dtype=np.int64)
    for j in range(17):
        total += (body[:, j].astype(np.int64) - 48) * ID_WEIGHTS[j]
    expected = (1 - total) % 11
    got = np.where(m[:, 17] == ord("X"), 10, m[:, 17].astype(np.int64) - 48)
    return shape & (got == expected)


def _prefecture_ok(m: np.ndarray) -> np.ndarray:
    return _all_digits(m) & (m[:, 4] == 48) & (m[:, 5] == 48)


def _decimal_ok(col: pa.Array, max_fraction: int, max_integer: int | None) -> np.ndarray:
    r"""`^-?\d+(\.\d{1,max_fraction})?$` (max_fraction 0: no point at all), good-or-null.

    `max_integer` bounds the significant integer digits (bigint: checked against its range).
    """
    ch = Chars(col)
    d = ch.data
    # one cumulative sum counts digits, points and minus signs at once (packed in 20-bit fields)
    packed = (
        _digit(d).astype(np.int64) + ((d == 46).astype(np.int64) << 20) + ((d == 45).astype(np.int64) << 40)
    )
    counts = ch.count(packed)
    n_digit, n_dot, n_minus = counts & 0xFFFFF, (counts >> 20) & 0xFFFFF, counts >> 40
    first = ch.first_byte()
    length = ch.length
    ok = (length > 0) & (n_digit + n_dot + n_minus == length)
    ok &= (n_minus == 0) | ((n_minus == 1) & (first == 45))
    if max_fraction:
        dot_at = np.zeros(len(length), dtype=np.int64)
        dots = np.flatnonzero(d == 46)
        if len(dots):
            row = np.searchsorted(ch.ends, dots, side="right")  # the row each point belongs to
            dot_at[row] = dots - ch.starts[row]
        fraction = length - dot_at - 1
        dot_ok = (n_dot == 1) & (dot_at >= 1 + n_minus) & (fraction >= 1) & (fraction <= max_fraction)
        ok &= (n_dot == 0) | dot_ok
        int_len = np.where(n_dot == 1, dot_at, length) - n_minus
    else:
        ok &= n_dot == 0
        int_len = length - n_minus
    ok &= int_len >= 1
    if max_integer is not None and (ok & (int_len > max_integer)).any():
        # long integer parts: leading zeros do not count (rare, so a regex is fine here)
        too_big = _np(pc.match_substring_regex(col, rf"^-?0*[1-9]\d{{{max_integer},}}"))
        ok &= ~too_big
    return ok | ch.null


def _bigint_ok(col: pa.Array, shape_ok: np.ndarray) -> np.ndarray:
    lengths = pc.binary_length(col)
    longest = pc.max(lengths).as_py()
    if longest is None or longest < 19:
        return shape_ok
    neg = _np(pc.starts_with(col, "-"))
    digits = pc.utf8_ltrim(pc.utf8_ltrim(col, "-"), "0")
    n_digits = np.asarray(pc.fill_null(pc.binary_length(digits), 0).to_numpy(zero_copy_only=False))
    le_max = _np(pc.less_equal(digits, _BIGINT_MAX))
    le_min = _np(pc.less_equal(digits, _BIGINT_MIN_ABS))
    fits = (n_digits < 19) | ((n_digits == 19) & np.where(neg, le_min, le_max))
    return shape_ok & (fits | _np(pc.is_null(col)))


_FIXED = {
    feeds.DATE: (10, _date_ok),
    feeds.MONTH: (7, _month_ok),
    feeds.USCC: (18, _uscc_ok),
    feeds.ID_NO: (18, _id_ok),
    feeds.REGION: (6, _all_digits),
    feeds.INDUSTRY: (4, _all_digits),
    feeds.PREFECTURE: (6, _prefecture_ok),
}


def value_ok(col: pa.Array, column: feeds.Column) -> np.ndarray:
    """True where the value is good or null (nulls are judged by the required check)."""
    t = column.type
    if t == feeds.STR:
        return np.ones(len(col), dtype=bool)
    if t in _FIXED:
        width, check = _FIXED[t]
        return _fixed_check(col, width, check)
    if t == feeds.MONEY:
        return _decimal_ok(col, 2, 16)
    if t == feeds.INT:
        return _bigint_ok(col, _decimal_ok(col, 0, None))
    if t == feeds.FLAG:
        ok = pc.is_in(col, value_set=pa.array(["Y", "N"]))
    elif t == feeds.ENUM:
        ok = pc.is_in(col, value_set=pa.array(list(column.values)))
    else:  # ratio: rare, a regex is fine
        ok = pc.match_substring_regex(col, PATTERNS[t])
    return _np(ok) | _np(pc.is_null(col))


def reasons(batch: pa.RecordBatch, feed: feeds.Feed, header: list[str]) -> np.ndarray:
    """Reason code per row (0 = good) by the precedence in the module docstring."""
    n = batch.num_rows
    reason = np.zeros(n, dtype=np.int8)
    columns = _columns(feed)
    known = [name for name in header if name in columns]
    missing_required = np.zeros(n, dtype=bool)
    for name in known:
        col = batch.column(name)
        if columns[name].required and col.null_count:
            missing_required |= _np(pc.is_null(col))
    reason[missing_required] = REASON_CODE["required_empty"]
    for name in known:
        column = columns[name]
        if column.type == feeds.STR:
            continue
        bad = ~value_ok(batch.column(name), column)
        if bad.any():
            reason[bad & (reason == 0)] = REASON_CODE[feeds.REASON_FOR_TYPE[column.type]]
    return reason


def all_null(batch: pa.RecordBatch) -> np.ndarray:
    """Rows whose every field is empty: a blank line, or a row of bare delimiters."""
    n = batch.num_rows
    out = np.ones(n, dtype=bool)
    for col in batch.columns:
        if col.null_count == 0:
            return np.zeros(n, dtype=bool)
        out &= _np(pc.is_null(col))
    return out


_columns_cache: dict[str, dict[str, feeds.Column]] = {}


def _columns(feed: feeds.Feed) -> dict[str, feeds.Column]:
    cols = _columns_cache.get(feed.key)
    if cols is None:
        cols = _columns_cache[feed.key] = {c.name: c for c in feed.all_columns}
    return cols
