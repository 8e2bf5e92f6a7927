"""Loading one delivery folder into the typed raw table, as one transaction.

    manifest checks -> lock the feed -> duplicate / changed-manifest check -> checksums ->
    new partition raw."<feed>__d<delivery_id>" -> per file (in name order): header checks,
    streaming parse (reader.py), vectorized validation (validate.py), HMAC of personal fields
    (pii.py), good rows streamed as CSV to `COPY … FROM STDIN (FREEZE)` by a writer thread while
    the next block is parsed -> row counts -> bad rows to `ingest.quarantine` (COPY) -> attach
    the partition -> ledger row -> commit.

Decisions (see also the package README in the report):

* **Rejected** (`manifest.Reject`): the transaction rolls back, then the attempt is recorded on
  its own as `rejected` with the reason, reported (`ingest.reports`) and alerted. Nothing of it
  is loaded. `load_delivery` returns the result; it does not raise.
* **Duplicate**: an accepted delivery of the same department, feed and date with the same
  content key (file names + sha256) exists -> a `duplicate` ledger row, nothing else changes
  (a re-formatted manifest over identical files is reported as `manifest_changed` but is still a
  duplicate). Same folder loaded before with other files -> rejected `manifest_changed`.
* **Crash**: the ledger row, the partition and the quarantine rows commit together with the
  data, so a killed load leaves nothing; the rerun starts from scratch.
* **Snapshots**: a delivery newer than the current snapshot replaces it (the old partitions are
  dropped and the new one attached in the same transaction: readers see old or new, never a
  mix, and are blocked only for the final swap). An older or equally old one is validated and
  accepted — rows counted, bad rows quarantined — but not written to raw (`is_current = false`,
  reason `superseded: …`). Event feeds append every version.
* `rows_loaded` = rows accepted from the delivery (for a superseded snapshot: rows that would
  have loaded), so rows_manifest = rows_loaded + rows_quarantined holds for every accepted one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from credit_risk import config, feeds, notify, pii
from credit_risk.loader import validate
from credit_risk.loader.manifest import (
    Manifest,
    Reject,
    folder_parts,
    folder_state,
    read_manifest,
    unlisted_files,
    verify_files,
)
from credit_risk.loader.reader import FileReader, read_header, read_lines
from credit_risk.loader.schema import PARTITION_SCHEMA, ensure_schema

log = logging.getLogger(__name__)

QUARANTINE_ALERT_ENV = "CREDIT_RISK_QUARANTINE_ALERT_RATE"
DEFAULT_QUARANTINE_ALERT_RATE = 0.01
_COPY_QUEUE = 8  # chunks of ~4 MiB in flight between the parser and the socket: bounded memory
_FEED_LOCK_NS = 0x6372_6C64  # advisory-lock namespace of per-feed load locks

QUARANTINE_COLUMNS = (
    "delivery_id",
    "department",
    "feed",
    "file_name",
    "line_no",
    "reason",
    "raw_text",
    "text_is_hashed",
    "text_length",
)


@dataclass
class LoadResult:
    """What happened to one delivery (JSON-serializable through `dataclasses.asdict`)."""

    department: str
    feed: str
    delivery_date: str | None
    status: str  # accepted | rejected | duplicate
    reason: str | None
    rows_manifest: int | None
    rows_loaded: int
    rows_quarantined: int
    orphan_rows: int | None
    seconds: float
    delivery_id: int | None = None
    path: str = ""

    @property
    def failed(self) -> bool:
        """True for a rejected delivery (the DAG fails visibly on it)."""
        return self.status == "rejected"


class DeliveryRejected(Exception):
    """One or more deliveries were rejected; raised by `raise_for_rejections` for the DAG."""

    def __init__(self, results: list[LoadResult]) -> None:
        self.results = results
        lines = [f"{r.department}/{r.feed} {r.delivery_date}: {r.reason}" for r in results]
        super().__init__(f"{len(results)} delivery(ies) rejected: " + "; ".join(lines))


def raise_for_rejections(results: list[LoadResult]) -> None:
    """Raise `DeliveryRejected` if any result is a rejection."""
    failed = [r for r in results if r.failed]
    if failed:
        raise DeliveryRejected(failed)


# --------------------------------------------------------------------------- helpers


class _BoundedWriter(QueuedLibpqWriter):
    """psycopg's queued COPY writer (a thread sends while we parse) with a short queue, so a
    parser faster than the server cannot pile the whole file up in memory."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor)
        self._queue = type(self._queue)(maxsize=_COPY_QUEUE)


def _ensure_once(conn: psycopg.Connection) -> None:
    """`ensure_schema` unless the loader's tables are there (one cheap query)."""
    row = conn.execute("select to_regclass('ingest.snapshot_state') is not null").fetchone()
    if not (row and row[0]):
        ensure_schema(conn)
    elif not conn.autocommit:
        conn.commit()


def _is_partitioned(conn: psycopg.Connection, feed: feeds.Feed) -> bool:
    """Whether the feed's raw table is partitioned and ours to attach partitions to (attaching
    needs ownership; a loader running under another role falls back to a plain COPY)."""
    row = conn.execute(
        "select relkind = 'p' and pg_has_role(current_user, relowner, 'MEMBER') from pg_class where oid = %s::regclass",
        (feed.raw_table,),
    ).fetchone()
    return bool(row and row[0])


def _default_partition(feed: feeds.Feed) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(PARTITION_SCHEMA), sql.Identifier(f"{feed.name}__default"))


def report(conn: psycopg.Connection, kind: str, path: str, detail: str) -> None:
    """Add a row to `ingest.reports` unless the same (kind, path, detail) is already there."""
    conn.execute(
        """insert into ingest.reports (kind, path, detail)
           select %(k)s, %(p)s, %(d)s
           where not exists (select 1 from ingest.reports where kind = %(k)s and path = %(p)s and detail = %(d)s)""",
        {"k": kind, "p": path, "d": detail},
    )


def _alert_rate() -> float:
    try:
        return float(os.environ.get(QUARANTINE_ALERT_ENV, DEFAULT_QUARANTINE_ALERT_RATE))
    except ValueError:
        return DEFAULT_QUARANTINE_ALERT_RATE


# --------------------------------------------------------------------------- orphans


class _Registry:
    """The current registration's uscc as sorted 64-bit keys, for exact membership tests.

    Key = (rank of the code's first 8 digits among the registry's distinct ones) << 45 | (next 9
    characters in base 31): injective while the registry has fewer than 2**19 distinct 8-digit
    prefixes (authority, type and county: a few hundred in a province). Beyond that, keys wrap
    modulo 2**64 and every key match is confirmed by comparing the codes themselves.
    """

    LO_BITS = 45
    _B31_9 = np.uint64(31**9)

    def __init__(self, codes: np.ndarray) -> None:
        m = codes.view(np.uint8).reshape(-1, 18) if len(codes) else np.zeros((0, 18), dtype=np.uint8)
        hi, lo = validate.uscc_parts(m)
        self.size = len(codes)
        self.prefixes = np.unique(hi)
        self.exact_keys = len(self.prefixes) < (1 << (64 - self.LO_BITS))
        self.codes = np.zeros(0, dtype="S18")
        if self.exact_keys:
            rank = np.searchsorted(self.prefixes, hi).astype(np.uint64)
            self.keys = np.sort((rank << np.uint64(self.LO_BITS)) | lo.astype(np.uint64))
        else:
            keys = self._wrapped(hi, lo)
            order = np.argsort(keys)
            self.keys, self.codes = keys[order], codes[order]

    def _wrapped(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return hi.astype(np.uint64) * self._B31_9 + lo.astype(np.uint64)  # wraps modulo 2**64

    def __len__(self) -> int:
        return self.size

    def orphans(self, uscc: pa.Array) -> int:
        """Rows of `uscc` (valid 18-character codes) that are not registered."""
        if len(uscc) == 0:
            return 0
        if self.size == 0:
            return len(uscc)
        _, m = validate.Chars(uscc).fixed(18)
        hi, lo = validate.uscc_parts(m)
        if not self.exact_keys:
            return self._orphans_verified(m, hi, lo)
        rank = np.searchsorted(self.prefixes, hi)
        rank[rank >= len(self.prefixes)] = 0
        known = self.prefixes[rank] == hi
        keys = (rank.astype(np.uint64) << np.uint64(self.LO_BITS)) | lo.astype(np.uint64)
        keys = np.sort(keys[known])  # sorted needles make searchsorted several times faster
        pos = np.searchsorted(self.keys, keys)
        pos[pos >= len(self.keys)] = 0
        return int(np.count_nonzero(~known) + np.count_nonzero(self.keys[pos] != keys))

    def _orphans_verified(self, m: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> int:
        keys = self._wrapped(hi, lo)
        order = np.argsort(keys)
        keys = keys[order]
        codes = np.ascontiguousarray(m).view("S18").ravel()[order]
        pos = np.searchsorted(self.keys, keys)
        pos[pos >= len(self.keys)] = 0
        same_key = self.keys[pos] == keys
        found = same_key & (self.codes[pos] == codes)
        orphans = int(np.count_nonzero(~found))
        for i in np.flatnonzero(same_key & ~found):
            j = int(pos[i])  # same key, other code: look through the (tiny) run of equal keys
            while j < len(self.keys) and self.keys[j] == keys[i]:
                if self.codes[j] == codes[i]:
                    orphans -= 1
                    break
                j += 1
        return orphans


_registration_cache: dict[tuple[str, str, int], tuple[object, _Registry]] = {}


def _registration_usccs(conn: psycopg.Connection) -> _Registry:
    """The current registration's uscc (cached per process and registration snapshot)."""
    # identity of the current snapshot: its delivery and when it was loaded (a recreated
    # database may reuse delivery ids)
    row = conn.execute(
        """select s.delivery_id, d.started_at from ingest.snapshot_state s
           join ingest.deliveries d using (delivery_id)
           where s.department = 'samr' and s.feed = 'registration'"""
    ).fetchone()
    current = (row[0], row[1]) if row else None
    key = (conn.info.host, conn.info.dbname, conn.info.port)
    cached = _registration_cache.get(key)
    if cached is not None and cached[0] == current:
        return cached[1]
    # one value instead of a row per code: fetching 3 M rows one by one costs seconds
    agg = conn.execute(
        "select string_agg(uscc::text, '') from raw.registration where length(uscc) = 18"
    ).fetchone()
    data = (agg[0] or "").encode("ascii") if agg else b""
    codes = np.frombuffer(data, dtype="S18") if data else np.zeros(0, dtype="S18")
    reg = _Registry(codes)
    _registration_cache.clear()  # one warehouse at a time; frees the previous arrays
    _registration_cache[key] = (current, reg)
    return reg


# --------------------------------------------------------------------------- per-file work


@dataclass
class _FileStats:
    name: str
    sha256: str
    bytes: int
    rows_manifest: int
    records: int = 0
    loaded: int = 0
    quarantined: int = 0
    orphans: int = 0
    unknown_columns: list[str] = field(default_factory=list)


class _Quarantine:
    """Bad rows of a delivery, spooled as CSV (memory up to 32 MiB, then a temp file)."""

    def __init__(self, delivery_id: int, feed: feeds.Feed) -> None:
        self.delivery_id = delivery_id
        self.feed = feed
        self.spool = tempfile.SpooledTemporaryFile(max_size=32 << 20, mode="w+b")
        self.text = io.TextIOWrapper(self.spool, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text, quoting=csv.QUOTE_ALL, lineterminator="\n")
        self.count = 0

    def add(self, file_name: str, line_no: int, reason: str, text: str, hashed: bool, length: int) -> None:
        self.writer.writerow(
            (
                self.delivery_id,
                self.feed.department,
                self.feed.name,
                file_name,
                line_no,
                reason,
                text,
                "true" if hashed else "false",
                length,
            )
        )
        self.count += 1

    def copy_into(self, cur: psycopg.Cursor[Any]) -> None:
        if not self.count:
            return
        self.text.flush()
        self.spool.seek(0)
        cols = ", ".join(QUARANTINE_COLUMNS)
        with cur.copy(f"copy ingest.quarantine ({cols}) from stdin (format csv)") as cp:  # type: ignore[arg-type]
            while chunk := self.spool.read(1 << 20):
                cp.write(chunk)

    def close(self) -> None:
        self.text.close()


def _has_personal(feed: feeds.Feed) -> bool:
    return bool(feed.personal_columns or feed.conditional_personal)


def _personal_mask(rows: pa.RecordBatch, feed: feeds.Feed, header: list[str]) -> dict[str, np.ndarray]:
    """Per header column, the rows whose value must be hashed in quarantine text.

    Personal columns always; conditional ones (before/after of legal_rep changes) unless the
    condition column holds a valid other value; unknown columns of a feed with personal data
    always (we cannot know what they hold)."""
    n = rows.num_rows
    known = {c.name for c in feed.all_columns}
    out: dict[str, np.ndarray] = {}
    for name in header:
        if name in feed.personal_columns or name not in known:
            out[name] = np.ones(n, dtype=bool)
    for col, cond_col, cond_val in feed.conditional_personal:
        if col not in header:
            continue
        if cond_col in header:
            cond = rows.column(cond_col)
            other = [v for v in feed.column(cond_col).values if v != cond_val]
            safe = validate._np(pc.is_in(cond, value_set=pa.array(other)))
            out[col] = ~safe
        else:
            out[col] = np.ones(n, dtype=bool)
    return out


def _serialize(values: list[str | None]) -> str:
    s = io.StringIO()
    csv.writer(s, lineterminator="").writerow(["" if v is None else v for v in values])
    return s.getvalue()


class _DeliveryLoader:
    """State of one delivery being loaded inside the transaction."""

    def __init__(
        self,
        conn: psycopg.Connection,
        folder: Path,
        manifest: Manifest,
        feed: feeds.Feed,
        delivery_id: int,
        into_raw: bool,
    ) -> None:
        self.conn = conn
        self.folder = folder
        self.manifest = manifest
        self.feed = feed
        self.delivery_id = delivery_id
        self.into_raw = into_raw
        self.key = config.hmac_key()
        self.quarantine = _Quarantine(delivery_id, feed)
        self.registered = (
            _registration_usccs(conn)
            if into_raw and feed.name != "registration" and "uscc" in {c.name for c in feed.all_columns}
            else None
        )
        self.columns = [c.name for c in feed.all_columns]
        cols = ", ".join(f'"{c}"' for c in self.columns)
        # Partitioned raw table: this delivery goes into its own new partition, created in this
        # transaction, whose constant meta columns are column defaults (not sent per row) and
        # which is attached at the end. A plain raw table (created by someone else): COPY into
        # it with the meta columns in every row.
        self.partition: sql.Composed | None = None
        if into_raw and _is_partitioned(conn, feed):
            self.partition = sql.SQL("{}.{}").format(
                sql.Identifier(PARTITION_SCHEMA), sql.Identifier(f"{feed.name}__d{delivery_id}")
            )
            self._create_partition()
            self.copy_sql = (
                f"copy {self.partition.as_string(conn)} ({cols}, _line_no) from stdin (format csv, freeze)"
            )
        else:
            self.copy_sql = (
                f"copy {feed.raw_table} ({cols}, _delivery_id, _delivery_date, _file_name, _line_no)"
                " from stdin (format csv)"
            )

    def _create_partition(self) -> None:
        assert self.partition is not None
        parent = sql.SQL(self.feed.raw_table)
        self.conn.execute(
            sql.SQL("create table {} (like {} including defaults including constraints)").format(
                self.partition, parent
            )
        )
        self.conn.execute(
            sql.SQL(
                "alter table {} alter column _delivery_id set default {}, alter column _delivery_date set default {},"
                " add constraint {} check (_delivery_id = {})"
            ).format(
                self.partition,
                sql.Literal(self.delivery_id),
                sql.Literal(self.manifest.delivery_date),
                sql.Identifier(f"{self.feed.name}__d{self.delivery_id}_delivery"),
                sql.Literal(self.delivery_id),
            )
        )

    def attach(self, replace: bool) -> None:
        """Attach this delivery's partition; for a new current snapshot, drop the others first."""
        if self.partition is None:
            return
        parent = sql.SQL(self.feed.raw_table)
        if replace:
            for (part,) in self.conn.execute(
                "select c.oid::regclass::text from pg_inherits i join pg_class c on c.oid = i.inhrelid"
                " where i.inhparent = %s::regclass and c.relname not like %s",
                (self.feed.raw_table, "%\\_\\_default"),
            ).fetchall():
                self.conn.execute(sql.SQL("drop table {}").format(sql.SQL(part)))
            self.conn.execute(sql.SQL("truncate {}").format(_default_partition(self.feed)))
        self.conn.execute(
            sql.SQL("alter table {} attach partition {} for values in ({})").format(
                parent, self.partition, sql.Literal(self.delivery_id)
            )
        )

    # ---- one file
    def load_file(self, entry_name: str, rows_manifest: int, sha256: str) -> _FileStats:
        path = self.folder / entry_name
        stats = _FileStats(entry_name, sha256, path.stat().st_size, rows_manifest)
        header, header_lines = read_header(path, self.manifest.encoding)
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise Reject("duplicate_column", f"{entry_name}: {', '.join(dupes)[:200]}")
        known = set(self.columns)
        missing = [c for c in self.feed.required_columns if c not in header]
        if missing:
            raise Reject("missing_required_column", f"{entry_name}: {', '.join(missing)}")
        stats.unknown_columns = [h for h in header if h not in known]
        reader = FileReader(path, self.manifest.encoding, header, header_lines)
        pending: dict[int, tuple[int, str, bool]] = {}  # line -> (lines spanned, reason, all-null)
        if self.into_raw:
            if self.partition is not None:
                self.conn.execute(
                    sql.SQL("alter table {} alter column _file_name set default {}").format(
                        self.partition, sql.Literal(entry_name)
                    )
                )
            cur = self.conn.cursor()
            with cur.copy(self.copy_sql, writer=_BoundedWriter(cur)) as cp:  # type: ignore[arg-type]
                for batch in reader:
                    chunk = self._batch(batch, header, stats, pending)
                    if chunk:
                        cp.write(chunk)
        else:
            for batch in reader:
                self._batch(batch, header, stats, pending)
        stats.records = reader.records
        if stats.records != rows_manifest:
            raise Reject(
                "row_count_mismatch", f"{entry_name}: manifest {rows_manifest}, file {stats.records}"
            )
        if pending:
            self._texts_from_file(path, pending, stats)
        return stats

    def _batch(self, batch, header: list[str], stats: _FileStats, pending: dict) -> memoryview | None:
        name = stats.name
        personal = _has_personal(self.feed)
        for fc in batch.field_count_rows:
            if personal:
                self.quarantine.add(
                    name, fc.line_no, "field_count", pii.hash_value(fc.text, self.key), True, len(fc.text)
                )
            else:
                self.quarantine.add(name, fc.line_no, "field_count", fc.text, False, len(fc.text))
            stats.quarantined += 1
        rb: pa.RecordBatch = batch.data
        if rb.num_rows == 0:
            return None
        reason = validate.reasons(rb, self.feed, header)
        bad = reason != 0
        if bad.any():
            self._bad_rows(rb, header, reason, batch.line_no, stats, pending)
            good_idx = np.flatnonzero(~bad)
            rb = rb.take(pa.array(good_idx))
            lines = batch.line_no[good_idx]
        else:
            lines = batch.line_no
        stats.loaded += rb.num_rows
        if rb.num_rows == 0:
            return None
        if self.registered is not None:
            stats.orphans += self.registered.orphans(rb.column("uscc"))
        if not self.into_raw:
            return None
        return self._csv(rb, header, lines, name)

    def _bad_rows(self, rb, header, reason, line_no, stats: _FileStats, pending: dict) -> None:
        idx = np.flatnonzero(reason != 0)
        sub = rb.take(pa.array(idx))
        empty = validate.all_null(sub)
        spans = np.ones(len(idx), dtype=np.int64)
        for col in sub.columns:
            if col.null_count < len(col):
                spans += np.asarray(
                    pc.fill_null(
                        pc.subtract(
                            pc.add(pc.count_substring(col, "\n"), pc.count_substring(col, "\r")),
                            pc.count_substring(col, "\r\n"),
                        ),
                        0,
                    ).to_numpy(zero_copy_only=False)
                )
        personal = _has_personal(self.feed)
        masks = _personal_mask(sub, self.feed, header) if personal else {}
        columns = [sub.column(h).to_pylist() for h in header] if personal else []
        for k in range(len(idx)):
            line = int(line_no[idx[k]])
            code = validate.REASON_NAME[int(reason[idx[k]])]
            if empty[k] or not personal:
                # exact text read back from the file (blank line -> field_count)
                pending[line] = (int(spans[k]), code, bool(empty[k]))
                continue
            values: list[str | None] = []
            for j, h in enumerate(header):
                v = columns[j][k]
                if v is not None and h in masks and masks[h][k]:
                    v = pii.hash_value(v, self.key)
                values.append(v)
            text = _serialize(values)
            self.quarantine.add(stats.name, line, code, text, False, len(text))
            stats.quarantined += 1

    def _texts_from_file(self, path: Path, pending: dict, stats: _FileStats) -> None:
        texts = read_lines(
            path, self.manifest.encoding, {line: span for line, (span, _, _) in pending.items()}
        )
        for line in sorted(pending):
            span, code, empty = pending[line]
            text = texts.get(line, "")
            if empty and text == "":
                # Arrow reads a blank line as a row of empty fields; the contract calls it field_count
                code = "field_count"
            self.quarantine.add(stats.name, line, code, text, False, len(text))
            stats.quarantined += 1

    def _csv(self, rb: pa.RecordBatch, header: list[str], lines: np.ndarray, file_name: str) -> memoryview:
        n = rb.num_rows
        present = set(header)
        arrays: list[pa.Array] = []
        for c in self.feed.all_columns:
            a = rb.column(c.name) if c.name in present else pa.nulls(n, pa.string())
            if c.type == feeds.MONTH:
                a = pc.binary_join_element_wise(a, "-01", "")
            if c.name == "deleted" and self.feed.is_event:
                a = pc.fill_null(a, "N")  # contract: deleted defaults to N
            if c.personal:
                a = pii.hash_array(a, self.key)
            arrays.append(a)
        for col, cond_col, cond_val in self.feed.conditional_personal:
            if col not in present or cond_col not in present:
                continue
            mask = validate._np(pc.equal(rb.column(cond_col), cond_val))
            if mask.any():
                j = self.columns.index(col)
                hashed = pii.hash_array(arrays[j].filter(pa.array(mask)), self.key)
                arrays[j] = pc.replace_with_mask(arrays[j], pa.array(mask), hashed)
        names = list(self.columns)
        if self.partition is None:
            arrays.append(pa.array(np.full(n, self.delivery_id, dtype=np.int64)))
            arrays.append(pa.repeat(pa.scalar(self.manifest.delivery_date.isoformat()), n))
            arrays.append(pa.repeat(pa.scalar(file_name), n))
            names += ["_delivery_id", "_delivery_date", "_file_name"]
        arrays.append(pa.array(lines, type=pa.int64()))
        out = pa.BufferOutputStream()
        pcsv.write_csv(
            pa.RecordBatch.from_arrays(arrays, names=[*names, "_line_no"]),
            out,
            write_options=pcsv.WriteOptions(include_header=False, batch_size=max(n, 1)),
        )
        return memoryview(out.getvalue())  # zero-copy view of Arrow's buffer


# --------------------------------------------------------------------------- the ledger


def _ledger_reject(
    conn: psycopg.Connection,
    folder: Path,
    dept: str,
    feed_name: str,
    date: dt.date | None,
    manifest: Manifest | None,
    reject: Reject,
    state: str,
    started: dt.datetime,
) -> int:
    with conn.transaction():
        row = conn.execute(
            """insert into ingest.deliveries (department, feed, delivery_date, delivery_path, manifest_sha256,
                   content_key, status, reason, rows_manifest, rows_loaded, rows_quarantined, orphan_rows,
                   started_at, finished_at, folder_state, encoding, files)
               values (%s, %s, %s, %s, %s, %s, 'rejected', %s, %s, 0, 0, null, %s, now(), %s, %s, %s)
               returning delivery_id""",
            (
                dept,
                feed_name,
                date,
                str(folder),
                manifest.sha256 if manifest else None,
                manifest.content_key if manifest else None,
                reject.reason,
                manifest.rows if manifest else None,
                started,
                state,
                manifest.encoding if manifest else None,
                len(manifest.files) if manifest else None,
            ),
        ).fetchone()
        report(conn, "rejected", str(folder), reject.reason)
    assert row is not None
    return int(row[0])


def _ledger_duplicate(
    conn: psycopg.Connection, folder: Path, manifest: Manifest, of_id: int, state: str, started: dt.datetime
) -> int:
    row = conn.execute(
        """insert into ingest.deliveries (department, feed, delivery_date, delivery_path, manifest_sha256,
               content_key, status, reason, rows_manifest, rows_loaded, rows_quarantined, orphan_rows,
               started_at, finished_at, folder_state, encoding, files)
           values (%s, %s, %s, %s, %s, %s, 'duplicate', %s, %s, 0, 0, null, %s, now(), %s, %s, %s)
           returning delivery_id""",
        (
            manifest.department,
            manifest.feed,
            manifest.delivery_date,
            str(folder),
            manifest.sha256,
            manifest.content_key,
            f"identical to delivery {of_id}: nothing changed",
            manifest.rows,
            started,
            state,
            manifest.encoding,
            len(manifest.files),
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])


# --------------------------------------------------------------------------- public


def load_delivery(path: Path, conn: psycopg.Connection | None = None) -> LoadResult:
    """Load ONE delivery folder `<landing>/<department>/<feed>/<YYYYMMDD>/` as one transaction.

    Returns the `LoadResult` (status accepted, rejected or duplicate); does not raise for a
    rejected delivery (see `LoadResult.failed` / `raise_for_rejections`). Commits on `conn`.
    """
    if conn is None:
        from credit_risk import db

        with db.connect() as own:
            return load_delivery(path, own)
    t0 = time.monotonic()
    folder = Path(path).absolute()
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.commit()
    _ensure_once(conn)
    dept, feed_name, date = folder_parts(folder)
    started = dt.datetime.now(dt.UTC)
    state = folder_state(folder) if folder.is_dir() else ""
    manifest: Manifest | None = None
    try:
        if not folder.is_dir():
            raise Reject("file_missing", "delivery folder not found")
        try:
            manifest = read_manifest(folder)
        except OSError:
            raise Reject("manifest_unreadable", "cannot read _manifest.json") from None
        result = _load_checked(conn, folder, manifest, state, started, t0)
    except Reject as r:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        delivery_id = _ledger_reject(conn, folder, dept, feed_name, date, manifest, r, state, started)
        if not conn.autocommit:
            conn.commit()
        result = LoadResult(
            dept,
            feed_name,
            date.isoformat() if date else None,
            "rejected",
            r.reason,
            manifest.rows if manifest else None,
            0,
            0,
            None,
            round(time.monotonic() - t0, 3),
            delivery_id,
            str(folder),
        )
        log.error("rejected %s: %s", folder, r.reason)
        notify.notify(
            f"delivery rejected: {dept}/{feed_name} {folder.name}",
            f"The delivery {folder} was rejected and nothing of it was loaded.\nReason: {r.reason}\n"
            f"Ledger: ingest.deliveries delivery_id = {delivery_id}.",
            "error",
        )
        return result
    _after_load(result)
    return result


def _load_checked(
    conn: psycopg.Connection, folder: Path, manifest: Manifest, state: str, started: dt.datetime, t0: float
) -> LoadResult:
    feed = feeds.FEEDS_BY_KEY[f"{manifest.department}/{manifest.feed}"]
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (_FEED_LOCK_NS, feed.key))
        earlier = conn.execute(
            """select delivery_id, content_key, manifest_sha256 from ingest.deliveries
               where department = %s and feed = %s and delivery_date = %s and status = 'accepted'
               order by delivery_id""",
            (feed.department, feed.name, manifest.delivery_date),
        ).fetchall()
        same = [r for r in earlier if r[1] == manifest.content_key]
        if same:
            did = _ledger_duplicate(conn, folder, manifest, same[0][0], state, started)
            if same[0][2] != manifest.sha256:
                report(
                    conn,
                    "manifest_changed",
                    str(folder),
                    "manifest bytes changed, files identical: duplicate",
                )
            log.info("duplicate %s (identical to delivery %s)", folder, same[0][0])
            return LoadResult(
                feed.department,
                feed.name,
                manifest.delivery_date.isoformat(),
                "duplicate",
                f"identical to delivery {same[0][0]}: nothing changed",
                manifest.rows,
                0,
                0,
                None,
                round(time.monotonic() - t0, 3),
                did,
                str(folder),
            )
        if earlier:
            raise Reject(
                "manifest_changed",
                f"{feed.key} {manifest.delivery_date} was loaded before (delivery {earlier[0][0]}) with other files",
            )
        verify_files(folder, manifest)
        into_raw, reason = True, None
        if not feed.is_event:
            cur_row = conn.execute(
                "select delivery_id, delivery_date from ingest.snapshot_state where department = %s and feed = %s",
                (feed.department, feed.name),
            ).fetchone()
            if cur_row is not None and cur_row[1] >= manifest.delivery_date:
                into_raw = False
                reason = f"superseded: the current snapshot is dated {cur_row[1]} (delivery {cur_row[0]})"
        row = conn.execute(
            """insert into ingest.deliveries (department, feed, delivery_date, delivery_path, manifest_sha256,
                   content_key, status, reason, rows_manifest, started_at, folder_state, is_current, encoding, files)
               values (%s, %s, %s, %s, %s, %s, 'accepted', %s, %s, %s, %s, %s, %s, %s)
               returning delivery_id""",
            (
                feed.department,
                feed.name,
                manifest.delivery_date,
                str(folder),
                manifest.sha256,
                manifest.content_key,
                reason,
                manifest.rows,
                started,
                state,
                None if feed.is_event else into_raw,
                manifest.encoding,
                len(manifest.files),
            ),
        ).fetchone()
        assert row is not None
        delivery_id = int(row[0])
        loader = _DeliveryLoader(conn, folder, manifest, feed, delivery_id, into_raw)
        if into_raw and not feed.is_event and loader.partition is None:
            conn.execute(sql.SQL("truncate {}").format(sql.SQL(feed.raw_table)))
        try:
            files = [
                loader.load_file(f.name, f.rows, f.sha256)
                for f in sorted(manifest.files, key=lambda e: e.name)
            ]
            loader.quarantine.copy_into(conn.cursor())
            loader.attach(replace=not feed.is_event)
        finally:
            loader.quarantine.close()
        loaded = sum(f.loaded for f in files)
        quarantined = sum(f.quarantined for f in files)
        orphans: int | None = None
        if loader.registered is not None:
            orphans = sum(f.orphans for f in files)
        elif feed.name == "registration" and into_raw:
            orphans = 0
        conn.execute(
            """update ingest.deliveries set rows_loaded = %s, rows_quarantined = %s, orphan_rows = %s,
                   finished_at = now() where delivery_id = %s""",
            (loaded, quarantined, orphans, delivery_id),
        )
        with conn.cursor().copy(
            "copy ingest.delivery_files (delivery_id, file_name, sha256, bytes, rows_manifest, rows_loaded,"
            " rows_quarantined) from stdin"
        ) as cp:
            for f in files:
                cp.write_row(
                    (delivery_id, f.name, f.sha256, f.bytes, f.rows_manifest, f.loaded, f.quarantined)
                )
        if into_raw and not feed.is_event:
            conn.execute(
                """insert into ingest.snapshot_state (department, feed, delivery_id, delivery_date)
                   values (%s, %s, %s, %s)
                   on conflict (department, feed) do update
                   set delivery_id = excluded.delivery_id, delivery_date = excluded.delivery_date""",
                (feed.department, feed.name, delivery_id, manifest.delivery_date),
            )
            conn.execute(
                "update ingest.deliveries set is_current = false where department = %s and feed = %s"
                " and status = 'accepted' and delivery_id <> %s",
                (feed.department, feed.name, delivery_id),
            )
        for f in files:
            if f.unknown_columns:
                report(
                    conn,
                    "unknown_column",
                    str(folder / f.name),
                    "ignored columns: " + ", ".join(f.unknown_columns),
                )
        for name in unlisted_files(folder, manifest):
            report(conn, "unlisted_file", str(folder / name), "not listed in _manifest.json: ignored")
    if not conn.autocommit:
        conn.commit()
    return LoadResult(
        feed.department,
        feed.name,
        manifest.delivery_date.isoformat(),
        "accepted",
        reason,
        manifest.rows,
        loaded,
        quarantined,
        orphans,
        round(time.monotonic() - t0, 3),
        delivery_id,
        str(folder),
    )


def _after_load(result: LoadResult) -> None:
    """Alerts that must follow the commit: a quarantine rate over the threshold."""
    if result.status != "accepted" or not result.rows_manifest:
        return
    rate = result.rows_quarantined / result.rows_manifest
    if rate > _alert_rate():
        notify.notify(
            f"quarantine rate {rate:.2%}: {result.department}/{result.feed} {result.delivery_date}",
            f"{result.rows_quarantined} of {result.rows_manifest} rows of {result.path} went to quarantine "
            f"(threshold {_alert_rate():.2%}). See ingest.quarantine where delivery_id = {result.delivery_id}.",
            "warning",
        )
    log.info(
        "loaded %s/%s %s: %s rows, %s quarantined, %s orphans in %.1fs",
        result.department,
        result.feed,
        result.delivery_date,
        result.rows_loaded,
        result.rows_quarantined,
        result.orphan_rows,
        result.seconds,
    )
