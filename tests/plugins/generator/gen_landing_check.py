"""Independent readers and validators of a landing zone, written from feeds.md (not from the generator)."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stdnum.cn import ric, uscc

from credit_risk import feeds as contract

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
INT_RE = re.compile(r"^-?\d+$")
MONEY_RE = re.compile(r"^-?\d+(\.\d{1,2})?$")
RATIO_RE = re.compile(r"^(0(\.\d+)?|1(\.0+)?|\.\d+)$")
USCC_RE = re.compile(r"^\d{8}[0-9A-HJ-NPQRTUWXY]{10}$")
ID_RE = re.compile(r"^\d{17}[0-9X]$")
SEED = 11  # of the shared tiny landing zones


@dataclass
class Record:
    line: int  # physical line where the record starts (header = 1)
    fields: list[str]


def decode(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    if encoding == "GB18030":
        return raw.decode("gb18030")
    text = raw.decode("utf-8")
    return text.removeprefix("\ufeff")


def records(text: str) -> tuple[list[str], list[Record]]:
    """Header and data records (csv module), each with its starting physical line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader)
    out: list[Record] = []
    prev = reader.line_num
    for fields in reader:
        out.append(Record(prev + 1, fields))
        prev = reader.line_num
    return header, out


@functools.lru_cache(maxsize=200_000)
def reason(col: contract.Column, value: str) -> str | None:
    """The contract's verdict on one field: None if good, else its reason code."""
    if value == "":
        return "required_empty" if col.required else None
    t = col.type
    if t == contract.DATE:
        if not DATE_RE.match(value):
            return "bad_date"
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return "bad_date"
    elif t == contract.MONTH and not MONTH_RE.match(value):
        return "bad_month"
    elif t == contract.INT and not INT_RE.match(value):
        return "bad_number"
    elif t == contract.MONEY and not MONEY_RE.match(value):
        return "bad_number"
    elif t == contract.RATIO and (not RATIO_RE.match(value) or not 0 <= float(value) <= 1):
        return "bad_ratio"
    elif t == contract.FLAG and value not in ("Y", "N"):
        return "bad_flag"
    elif t == contract.ENUM and value not in col.values:
        return "bad_enum"
    elif t == contract.USCC and (not USCC_RE.match(value) or uscc.calc_check_digit(value[:17]) != value[17]):
        return "bad_uscc"
    elif t == contract.ID_NO and (not ID_RE.match(value) or ric.calc_check_digit(value) != value[17]):
        return "bad_id_no"
    elif t == contract.REGION and not re.fullmatch(r"\d{6}", value):
        return "bad_code"
    elif t == contract.INDUSTRY and not re.fullmatch(r"\d{4}", value):
        return "bad_code"
    elif t == contract.PREFECTURE and not re.fullmatch(r"\d{4}00", value):
        return "bad_code"
    return None


def row_reasons(feed: contract.Feed, header: list[str], fields: list[str]) -> list[str]:
    if len(fields) != len(header):
        return ["field_count"]
    out = []
    for name, value in zip(header, fields, strict=True):
        try:
            col = feed.column(name)
        except KeyError:
            continue  # an extra unknown column
        r = reason(col, value)
        if r:
            out.append(r)
    return out


@dataclass
class Delivery:
    folder: Path
    department: str
    feed: str
    date: str

    @property
    def manifest(self) -> dict:
        return json.loads((self.folder / "_manifest.json").read_text(encoding="utf-8"))


def deliveries(landing: Path) -> Iterator[Delivery]:
    for dept in sorted(p for p in landing.iterdir() if p.is_dir()):
        for feed in sorted(p for p in dept.iterdir() if p.is_dir()):
            for folder in sorted(p for p in feed.iterdir() if p.is_dir()):
                yield Delivery(folder, dept.name, feed.name, folder.name)


def digest(root: Path) -> str:
    """sha256 over every file's relative path and bytes."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def verify_delivery(d: Delivery) -> tuple[list[str], list[Record]]:
    """Check a delivery against its manifest; returns (header, records) of all files."""
    man = d.manifest
    assert man["department"] == d.department and man["feed"] == d.feed, d.folder
    assert man["schema_version"] == 1
    assert man["delivery_date"].replace("-", "") == d.date
    f = contract.feed(d.department, d.feed)
    assert man["mode"] == f.mode
    assert man["encoding"] in ("UTF-8", "GB18030")
    header: list[str] = []
    recs: list[Record] = []
    for entry in man["files"]:
        path = d.folder / entry["name"]
        assert "/" not in entry["name"] and ".." not in entry["name"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], path
        header, rs = records(decode(path, man["encoding"]))
        assert len(rs) == entry["rows"], path
        recs += rs
    return header, recs
