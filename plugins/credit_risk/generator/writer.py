"""Writes deliveries exactly as feeds.md describes them.

`<landing>/<department>/<feed>/<YYYYMMDD>/part-0001.csv[.gz] … _manifest.json`, the
manifest written last (via a rename) with each file's sha256 and data-row count.
Bytes are deterministic: no timestamps anywhere, gzip with mtime 0.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from credit_risk.feeds import Feed
from credit_risk.generator.params import FORMATS, DepartmentFormat

# Departments whose exports never contain a comma, quote or line break: written unquoted.
UNQUOTED_DEPARTMENTS = frozenset({"tax", "hrss", "fin", "power"})
MANIFEST = "_manifest.json"
GZIP_LEVEL = 1  # speed over size: the landing zone is scratch space


@dataclass
class FileInfo:
    name: str
    rows: int
    sha256: str


@dataclass
class Insertion:
    """An extra physical line inserted before data record `before` (0-based) of a part."""

    before: int
    text: str  # the line without its end of line ("" = a blank line)
    entry: dict[str, Any] = field(default_factory=dict)  # ledger entry; `line` and `file` filled in


@dataclass
class DeliveryInfo:
    department: str
    feed: str
    date: dt.date
    folder: str  # relative to the landing root
    files: list[FileInfo]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def folder_name(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


def part_name(k: int, fmt: DepartmentFormat) -> str:
    return f"part-{k:04d}.csv" + (".gz" if fmt.gzip else "")


def csv_field(value: str | None) -> str:
    """One CSV field (RFC 4180): quoted only when needed; None -> empty (NULL)."""
    if value is None:
        return ""
    if any(ch in value for ch in ',"\r\n') or value == "":
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(values: Sequence[str | None]) -> str:
    return ",".join(csv_field(v) for v in values)


def newline_counts(table: pa.Table) -> np.ndarray:
    """Embedded line feeds per row (a row spans 1 + that many physical lines)."""
    counts = np.zeros(table.num_rows, np.int64)
    for col in table.columns:
        if pa.types.is_string(col.type) and table.num_rows:
            counts += pc.fill_null(pc.count_substring(col, "\n"), 0).to_numpy().astype(np.int64)
    return counts


def render_buffer(
    feed: Feed, table: pa.Table, fmt: DepartmentFormat, header: Sequence[str] | None = None
) -> pa.Buffer:
    """UTF-8 CSV (header + rows) of a table whose columns are in contract order, as an Arrow buffer."""
    eol = "\r\n" if fmt.crlf else "\n"
    names = list(header) if header is not None else table.column_names
    out = pa.BufferOutputStream()
    out.write((",".join(names) + eol).encode("utf-8"))
    if table.num_rows:
        style = "none" if feed.department in UNQUOTED_DEPARTMENTS else "needed"
        opts = pcsv.WriteOptions(include_header=False, eol=eol, quoting_style=style, batch_size=16384)
        pcsv.write_csv(table, out, opts)
    return out.getvalue()


def render(feed: Feed, table: pa.Table, fmt: DepartmentFormat, header: Sequence[str] | None = None) -> bytes:
    """UTF-8 CSV bytes (header + rows) of a table whose columns are in contract order."""
    return render_buffer(feed, table, fmt, header).to_pybytes()


def insert_lines(text: str, table: pa.Table, fmt: DepartmentFormat, insertions: list[Insertion]) -> str:
    """Insert extra lines before given records; fills each insertion's physical `line`."""
    eol = "\r\n" if fmt.crlf else "\n"
    head, _, body = text.partition(eol)
    chunks = body.split(eol)[:-1] if body else []
    nl = newline_counts(table)
    if eol == "\r\n" or not nl.any():
        records = chunks
    else:
        records, i = [], 0
        for k in nl.tolist():
            records.append("\n".join(chunks[i : i + 1 + k]))
            i += 1 + k
    phys = 1 + nl
    start = np.concatenate([[2], 2 + np.cumsum(phys)]) if len(phys) else np.array([2])
    ins = sorted(insertions, key=lambda x: x.before)
    out: list[str] = []
    pos = 0
    added = 0
    for x in ins:
        out.extend(records[pos : x.before])
        pos = max(pos, x.before)
        x.entry["line"] = int(start[x.before]) + added
        out.append(x.text)
        added += 1
    out.extend(records[pos:])
    return head + eol + "".join(r + eol for r in out)


def encode(data: bytes | pa.Buffer, fmt: DepartmentFormat) -> bytes | pa.Buffer:
    """UTF-8 CSV -> the department's file bytes (encoding, BOM, gzip); untouched when none applies."""
    if fmt.encoding == "GB18030":
        raw = data if isinstance(data, bytes) else data.to_pybytes()
        data = raw if raw.isascii() else raw.decode("utf-8").encode("gb18030")
    if fmt.bom:
        data = b"\xef\xbb\xbf" + (data if isinstance(data, bytes) else data.to_pybytes())
    if fmt.gzip:
        data = gzip.compress(memoryview(data), compresslevel=GZIP_LEVEL, mtime=0)
    return data


def write_bytes(path: Path, data: bytes | pa.Buffer) -> str:
    """Write a file; returns the sha256 hex of its bytes."""
    view = memoryview(data)
    with open(path, "wb") as fh:
        fh.write(view)
    return hashlib.sha256(view).hexdigest()


def manifest_dict(
    feed_dept: str, feed_name: str, mode: str, date: dt.date, encoding: str, files: list[FileInfo]
) -> dict:
    return {
        "department": feed_dept,
        "feed": feed_name,
        "schema_version": 1,
        "delivery_date": date.isoformat(),
        "mode": mode,
        "encoding": encoding,
        "files": [{"name": f.name, "rows": f.rows, "sha256": f.sha256} for f in files],
    }


def write_manifest(folder: Path, manifest: dict | str) -> None:
    """Write `_manifest.json` last, atomically (a reader never sees half a manifest)."""
    text = (
        manifest if isinstance(manifest, str) else json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    )
    tmp = folder / (MANIFEST + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


class InsertHook(Protocol):
    """What `--defects` plugs into the writer: bad lines per part, an extra column per delivery."""

    def __call__(self, feed: Feed, date: dt.date, part_no: int, part: pa.Table) -> list[Insertion]: ...

    def extra_columns(self, feed: Feed, date: dt.date, n: int) -> pa.Table | None: ...

    def extra_column_entry(self, feed: Feed, date: dt.date) -> dict[str, Any]: ...


class Writer:
    """Writes the deliveries of one task; in dry-run mode only counts rows."""

    def __init__(self, landing: Path | None, part_rows: int, hook: InsertHook | None = None):
        self.landing = landing
        self.part_rows = part_rows
        self.hook = hook
        self.deliveries: list[DeliveryInfo] = []
        self.samples: dict[str, pa.Table] = {}  # a few real rows per feed (for --defects)
        self.inserted: list[dict[str, Any]] = []  # ledger entries of inserted bad lines
        self.counts: dict[str, int] = {}

    def deliver(self, feed: Feed, date: dt.date, table: pa.Table) -> None:
        """Write one delivery of `feed` dated `date` (columns in contract order)."""
        n = table.num_rows
        parts = [
            table.slice(k * self.part_rows, self.part_rows) for k in range(max(1, -(-n // self.part_rows)))
        ]
        self.deliver_parts(feed, date, parts, n)

    def deliver_parts(self, feed: Feed, date: dt.date, parts: Iterable[pa.Table], n: int) -> None:
        """Write one delivery from its part tables (each becomes one file; ≤ part_rows rows each).

        Parts may be produced lazily, so a big snapshot never sits in memory whole."""
        names = [c.name for c in feed.all_columns]
        self.counts[feed.name] = self.counts.get(feed.name, 0) + n
        fmt = FORMATS[feed.department]
        folder_rel = f"{feed.department}/{feed.name}/{folder_name(date)}"
        folder = self.landing / folder_rel if self.landing is not None else None
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        extra_columns = None
        if self.hook is not None and folder is not None:
            extra_columns = self.hook.extra_columns(feed, date, n)
            if extra_columns is not None:
                self.inserted.append(self.hook.extra_column_entry(feed, date))
        files: list[FileInfo] = []
        offset = 0
        for k, part in enumerate(parts):
            if part.column_names != names:
                raise ValueError(f"{feed.key}: columns {part.column_names} != contract {names}")
            have = self.samples.get(feed.name)
            if k == 0 and (have is None or have.num_rows < min(6, part.num_rows)):
                self.samples[feed.name] = part.slice(0, 6)
            if folder is None:
                continue
            header = None
            if extra_columns is not None:
                extra = extra_columns.slice(offset, part.num_rows)
                for col_name in extra.column_names:
                    part = part.append_column(col_name, extra.column(col_name))
                header = part.column_names
            offset += part.num_rows
            data: bytes | pa.Buffer = render_buffer(feed, part, fmt, header)
            rows = part.num_rows
            insertions = self.hook(feed, date, k + 1, part) if self.hook is not None else []
            fname = part_name(k + 1, fmt)
            if insertions:
                text = insert_lines(memoryview(data).tobytes().decode("utf-8"), part, fmt, insertions)
                data = text.encode("utf-8")
                rows += len(insertions)
                for x in insertions:
                    x.entry.update(
                        department=feed.department, feed=feed.name, delivery=folder_rel, file=fname
                    )
                    self.inserted.append(x.entry)
                self.counts[feed.name] += len(insertions)
            sha = write_bytes(folder / fname, encode(data, fmt))
            files.append(FileInfo(fname, rows, sha))
        if folder is None:
            return
        write_manifest(
            folder, manifest_dict(feed.department, feed.name, feed.mode, date, fmt.encoding, files)
        )
        self.deliveries.append(DeliveryInfo(feed.department, feed.name, date, folder_rel, files))
