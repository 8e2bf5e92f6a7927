"""Vectorized value checks and the streaming reader's line numbers (unit tests, no database)."""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

import pyarrow as pa
import pytest
from stdnum.cn import ric, uscc

from credit_risk import feeds
from credit_risk.loader import validate
from credit_risk.loader.manifest import Reject
from credit_risk.loader.reader import FileReader, read_header, read_lines

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def ok(values, type_, values_=()):
    return list(validate.value_ok(pa.array(values, pa.string()), feeds.Column("c", type_, values=values_)))


def test_uscc_check_matches_stdnum():
    rng = random.Random(11)
    codes = []
    for _ in range(4000):
        body = "".join(rng.choice("0123456789") for _ in range(8)) + "".join(
            rng.choice(ALPHABET) for _ in range(9)
        )
        codes.append(body + (uscc.calc_check_digit(body) if rng.random() < 0.5 else rng.choice(ALPHABET)))
    codes += [
        "91110000600037341L",
        "91110000600037341l",
        " 91110000600037341L",
        "9111000060003734IL",
        "A1110000600037341L",
    ]
    expected = [
        len(c) == 18
        and c[:8].isdigit()
        and all(x in ALPHABET for x in c[8:])
        and uscc.calc_check_digit(c[:17]) == c[17]
        for c in codes
    ]
    assert ok(codes, feeds.USCC) == expected
    assert sum(expected) > 1000  # both kinds present


def test_resident_id_check_matches_stdnum_without_birth_date_check():
    rng = random.Random(12)
    ids = []
    for _ in range(4000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        ids.append(
            body + (ric.calc_check_digit(body + "0") if rng.random() < 0.5 else rng.choice("0123456789X"))
        )
    # historical codes: impossible birth date / place, still valid by checksum
    historic = "990000" + "18991399" + "123"
    ids += [historic + ric.calc_check_digit(historic + "0"), "11010519491231002x"]
    expected = [len(i) == 18 and i[:17].isdigit() and ric.calc_check_digit(i) == i[17] for i in ids]
    assert ok(ids, feeds.ID_NO) == expected
    assert expected[-2] is True and expected[-1] is False


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        (
            feeds.DATE,
            ["2024-02-29", "0001-01-01", "2025-12-31"],
            ["2023-02-29", "2025-04-31", "0000-01-01", "2025-1-01", " 2025-01-01", "2025-01-01 ", "20250101"],
        ),
        (feeds.MONTH, ["2024-01", "2024-12"], ["2024-13", "2024-00", "0000-05", "2024-1", "2024-01-01"]),
        (
            feeds.INT,
            ["0", "-7", "9223372036854775807", "-9223372036854775808", "007"],
            ["9223372036854775808", "1.0", "+1", " 1", "1e3", "--1", "-"],
        ),
        (
            feeds.MONEY,
            ["1", "1.5", "-0.01", "9999999999999999.99", "00000000000000000001.25"],
            ["1.555", ".5", "1.", "10000000000000000", "1,000", "¥1", "1e2"],
        ),
        (feeds.RATIO, ["0", "1", "0.25", "1.000", "00.5"], ["1.01", "-0", ".5", "2", "0.", "1e-1"]),
        (feeds.FLAG, ["Y", "N"], ["y", "Yes", "1", " Y"]),
        (feeds.REGION, ["230102"], ["23010", "2301020", "23O102"]),
        (feeds.INDUSTRY, ["5212"], ["521", "52120"]),
        (feeds.PREFECTURE, ["230100"], ["230102", "2301"]),
    ],
)
def test_type_patterns(type_, good, bad):
    assert ok(good + bad + [None], type_) == [True] * len(good) + [False] * len(bad) + [True]


def test_enum_is_exact():
    assert ok(["warning", "Warning", "warning ", None], feeds.ENUM, ("warning", "fine_small")) == [
        True,
        False,
        False,
        True,
    ]


def test_money_and_int_match_the_contract_regex_on_random_strings():
    rng = random.Random(3)
    values = ["".join(rng.choice("0123456789.-+ e") for _ in range(rng.randint(1, 7))) for _ in range(20000)]
    assert ok(values, feeds.MONEY) == [bool(re.fullmatch(r"-?\d+(\.\d{1,2})?", v)) for v in values]
    assert ok(values, feeds.INT) == [bool(re.fullmatch(r"-?\d+", v)) for v in values]


def test_reason_precedence():
    feed = feeds.FEEDS_BY_NAME["penalties"]
    header = ["uscc", "record_id", "decided_on", "severity", "decision_no", "violation_type", "fine_amount"]
    good_uscc = "91110000600037341L"
    rows = [
        # required empty beats bad values
        ["bad", None, "2025-13-01", "x", "D1", "V", "1"],
        # first bad value in header order: uscc before decided_on
        ["bad", "R2", "2025-13-01", "warning", "D2", "V", "1"],
        ["91110000600037341L", "R3", "2025-13-01", "nope", "D3", "V", "1.999"],
        [good_uscc, "R4", "2025-01-01", "nope", "D4", "V", "1.999"],
        [good_uscc, "R5", "2025-01-01", "warning", "D5", "V", "1.999"],
        [good_uscc, "R6", "2025-01-01", "warning", "D6", "V", None],
    ]
    batch = pa.RecordBatch.from_arrays(
        [pa.array([r[i] for r in rows], pa.string()) for i in range(len(header))], names=header
    )
    got = [validate.REASON_NAME.get(int(c)) for c in validate.reasons(batch, feed, header)]
    assert got == ["required_empty", "bad_uscc", "bad_date", "bad_enum", "bad_number", None]


# ---------------------------------------------------------------- reader


def read_all(path: Path, encoding: str = "utf-8"):
    header, hlines = read_header(path, encoding)
    reader = FileReader(path, encoding, header, hlines)
    rows, bad = [], []
    for b in reader:
        for rec, line in zip(b.data.to_pylist(), b.line_no.tolist(), strict=True):
            rows.append((line, rec))
        bad += [(f.line_no, f.text) for f in b.field_count_rows]
    return header, rows, bad, reader


def test_physical_line_numbers_with_embedded_newlines_crlf_blank_and_bad_rows(tmp_path):
    text = (
        "\ufeffa,b,c\r\n"  # line 1 (BOM dropped)
        "1,x,y\r\n"  # 2
        '2,"multi\r\nline",y\r\n'  # 3-4
        "\r\n"  # 5 blank line
        "3,too,many,fields\r\n"  # 6
        '"4\nstill 4",z,w\r\n'  # 7-8
        "5,few\r\n"  # 9
        ",,\r\n"  # 10 empty fields
        '6,"a ""quoted"" value",  \r\n'  # 11
    )
    p = tmp_path / "f.csv"
    p.write_bytes(text.encode())
    header, rows, bad, reader = read_all(p)
    assert header == ["a", "b", "c"]
    assert [line for line, _ in rows] == [2, 3, 5, 7, 10, 11]
    assert rows[1][1]["b"] == "multi\r\nline"
    assert rows[2][1] == {"a": None, "b": None, "c": None}  # the blank line, told apart later
    assert rows[5][1] == {"a": "6", "b": 'a "quoted" value', "c": "  "}
    assert bad == [(6, "3,too,many,fields"), (9, "5,few")]
    assert reader.records == 8 and reader.lines == 11
    assert read_lines(p, "utf-8", {5: 1, 10: 1, 3: 2}) == {3: '2,"multi\r\nline",y', 5: "", 10: ",,"}


def test_line_numbers_across_many_batches(tmp_path, monkeypatch):
    from credit_risk.loader import reader as reader_mod

    monkeypatch.setattr(reader_mod, "BLOCK_SIZE", 4096)  # many small batches
    lines = ["a,b"]
    expect_bad = []
    for i in range(3000):
        if i % 701 == 5:
            lines.append("lonely")
            expect_bad.append(len(lines))
        elif i % 97 == 3:
            lines.append(f'{i},"two\nlines"')
            lines.append("")  # placeholder: the second physical line is inside the value
            lines.pop()
        else:
            lines.append(f"{i},v")
    text = "\n".join(lines) + "\n"
    p = tmp_path / "big.csv"
    p.write_text(text)
    _, rows, bad, reader = read_all(p)
    # reference: physical line of each record, by a plain scan of the text
    starts, line, in_quote, at_start = [], 2, False, True
    for ch in text[text.index("\n") + 1 :]:
        if at_start:
            starts.append(line)
            at_start = False
        if ch == '"':
            in_quote = not in_quote
        elif ch == "\n":
            line += 1
            at_start = not in_quote
    got = sorted([line for line, _ in rows] + [line for line, _ in bad])
    assert got == starts
    assert [line for line, _ in bad] == [starts[k - 2] for k in expect_bad]
    assert reader.records == len(starts)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'a,b,c\n1,2,"3\n4,5,6\n', "unclosed quote"),
        (b'a,b,c\n1,2,"3', "unclosed quote"),
        (b"a,b,c\n1,\xff\xfe,3\n", "undecodable"),
        (b"a,b,c\n1,x\x00y,3\n", "NUL"),
        (b"", "empty file"),
    ],
)
def test_unreadable_files_are_rejected(tmp_path, content, why):
    p = tmp_path / "f.csv"
    p.write_bytes(content)
    with pytest.raises(Reject) as e:
        read_all(p)
    assert e.value.code == "unreadable_csv" and why in e.value.detail


def test_gzip_and_gb18030(tmp_path):
    text = "a,b\n1,黑龙江省哈尔滨市\n2,𠀀\n"
    p = tmp_path / "f.csv.gz"
    p.write_bytes(gzip.compress(text.encode("gb18030")))
    _, rows, bad, _ = read_all(p, "gb18030")
    assert [r["b"] for _, r in rows] == ["黑龙江省哈尔滨市", "𠀀"] and not bad
    broken = tmp_path / "g.csv.gz"
    broken.write_bytes(gzip.compress(text.encode())[:-10])
    with pytest.raises(Reject, match="bad gzip"):
        read_all(broken)
