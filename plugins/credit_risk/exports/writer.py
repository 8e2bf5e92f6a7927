"""Stream one table of a package from PostgreSQL into its CSV and Parquet files.

PostgreSQL sends the rows with COPY ... TO STDOUT (CSV); Arrow's streaming CSV reader turns the
stream into record batches of a few MiB (every value as text), and each batch is appended to the
files: the table is never held in memory. The CSV keeps PostgreSQL's rendering of each value;
Parquet gets typed columns (decimal, date, list). Both are deterministic functions of the rows
(fixed types, fixed writer options, fixed row-group size, no timestamps), so re-running an
as_of gives the same bytes (for a given pyarrow version, which Parquet records as `created_by`).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from credit_risk.exports.entitlements import Formats
from credit_risk.exports.query import LIST_SEPARATOR, FileQuery

READ_BLOCK_BYTES = 4 << 20
# Rows per Parquet row group. Fixed (not "whatever the CSV reader returned") so the file layout,
# and hence its bytes, does not depend on how the COPY stream happened to be chunked.
ROW_GROUP_ROWS = 131_072
CSV_EOL = "\r\n"  # RFC 4180; what spreadsheet programs expect
# Cells a spreadsheet would read as a formula (OWASP "CSV injection": = + - @, and tab / CR).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"
PARQUET_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 1,
    "write_statistics": True,
    "data_page_version": "1.0",
    "store_schema": True,
    "write_page_index": False,
    "write_page_checksum": False,
}

OpenFile = Callable[[str], BinaryIO]


@dataclass(frozen=True)
class FileResult:
    """One written file, as the manifest and the ledger describe it."""

    name: str
    table: str
    format: str
    rows: int
    bytes: int
    sha256: str
    columns: tuple[str, ...]

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": f"published.{self.table}",
            "format": self.format,
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "columns": list(self.columns),
        }


class HashingWriter(io.RawIOBase):
    """Writes through to a binary file, counting and hashing the bytes; fsyncs on close."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw
        self._sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self._raw.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self._raw.closed:
            self._raw.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._raw.flush()
            fileno = getattr(self._raw, "fileno", None)
            if fileno is not None:
                try:
                    os.fsync(fileno())
                except (OSError, io.UnsupportedOperation):
                    pass  # not a real file (object storage): nothing to sync
        finally:
            try:
                super().close()
            finally:
                self._raw.close()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


class _CopyStream(io.RawIOBase):
    """A COPY TO STDOUT as a blocking byte stream (full reads until EOF, as Arrow expects)."""

    def __init__(self, copy: psycopg.Copy):
        super().__init__()
        self._copy = copy
        self._buf = bytearray()
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self, n: int) -> None:
        while not self._eof and (n < 0 or len(self._buf) < n):
            chunk = self._copy.read()
            if not chunk:
                self._eof = True
            else:
                self._buf += chunk

    def is_empty(self) -> bool:
        self._fill(1)
        return not self._buf

    def read(self, n: int | None = -1) -> bytes:
        n = -1 if n is None else n
        self._fill(n)
        if n < 0 or n >= len(self._buf):
            out = bytes(self._buf)
            self._buf.clear()
        else:
            out = bytes(self._buf[:n])
            del self._buf[:n]
        return out

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def neutralize_formulas(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Prefix text cells a spreadsheet would evaluate (=, +, -, @, tab, CR first) with '.

    Applied to text columns only: numeric columns are written as numbers, and every score is
    >= 0, so a negative number (which would also start with -) cannot occur in them.
    """
    first = pc.utf8_slice_codeunits(column, 0, 1)
    risky = pc.is_in(first, value_set=pa.array(FORMULA_PREFIXES, pa.string()))
    if not pc.any(risky).as_py():
        return column  # the usual case: nothing to rewrite
    return pc.if_else(risky, pc.binary_join_element_wise(FORMULA_GUARD, column, ""), column)


class CsvFileWriter:
    """Appends record batches to a CSV file in the consumer's encoding."""

    def __init__(
        self, out: HashingWriter, schema: pa.Schema, formats: Formats, text_columns: tuple[str, ...]
    ):
        self._out = out
        self._schema = schema
        self._encoding = formats.csv_encoding
        self._guard = tuple(schema.get_field_index(c) for c in text_columns) if formats.spreadsheet else ()
        self._header_written = False
        self._encoder = (
            None if self._encoding == "utf-8-sig" else codecs.getincrementalencoder(self._encoding)()
        )
        self.rows = 0
        if self._encoding == "utf-8-sig":
            out.write(codecs.BOM_UTF8)

    def _write_csv(self, table: pa.Table | pa.RecordBatch) -> None:
        buf = pa.BufferOutputStream()
        options = pacsv.WriteOptions(
            include_header=not self._header_written, delimiter=",", eol=CSV_EOL, quoting_style="all_valid"
        )
        pacsv.write_csv(table, buf, options)
        self._header_written = True
        data = buf.getvalue().to_pybytes()
        if self._encoder is not None:
            # Arrow writes UTF-8; every Unicode character has a GB18030 encoding, so this is lossless
            data = self._encoder.encode(data.decode("utf-8"))
        self._out.write(data)

    def write_batch(self, batch: pa.RecordBatch) -> None:
        if self._guard:
            arrays = list(batch.columns)
            for i in self._guard:
                arrays[i] = neutralize_formulas(arrays[i])
            batch = pa.RecordBatch.from_arrays(arrays, schema=self._schema)
        self._write_csv(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        if not self._header_written:  # no rows: the file still says what its columns are
            self._write_csv(self._schema.empty_table())
        self._out.close()


class ParquetFileWriter:
    """Appends record batches to a Parquet file in fixed-size row groups."""

    def __init__(self, out: HashingWriter, schema: pa.Schema, dictionary_columns: tuple[str, ...]):
        self._out = out
        self._schema = schema
        sorting = [pq.SortingColumn(schema.get_field_index("uscc"))]
        # dictionary encoding only where values repeat: on unique codes, names and exact scores
        # it costs most of the write time and then falls back to plain encoding anyway
        self._writer = pq.ParquetWriter(
            out, schema, sorting_columns=sorting, use_dictionary=list(dictionary_columns), **PARQUET_OPTIONS
        )
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0

    def _convert(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Text as read from PostgreSQL -> the Parquet types (decimals, dates, lists)."""
        arrays = []
        for text, f in zip(batch.columns, self._schema, strict=True):
            if pa.types.is_list(f.type):
                # '' is an empty array (array_to_string of '{}'); null stays null
                empty = pa.scalar([], f.type)
                arrays.append(pc.if_else(pc.equal(text, ""), empty, pc.split_pattern(text, LIST_SEPARATOR)))
            elif f.type == pa.string():
                arrays.append(text)
            else:
                arrays.append(pc.cast(text, f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self._schema)

    def _flush(self, final: bool) -> None:
        if not self._pending_rows:
            return
        table = pa.Table.from_batches(self._pending, schema=self._schema)
        full = (table.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        cut = table.num_rows if final else full
        for start in range(0, cut, ROW_GROUP_ROWS):
            self._writer.write_table(
                table.slice(start, min(ROW_GROUP_ROWS, cut - start)), row_group_size=ROW_GROUP_ROWS
            )
        rest = table.slice(cut)
        self._pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def write_batch(self, batch: pa.RecordBatch) -> None:
        self._pending.append(self._convert(batch))
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def close(self) -> None:
        self._flush(final=True)
        self._writer.close()
        self._out.close()

    def discard(self) -> None:
        """Close after a failure (the file is thrown away; only the handles matter)."""
        with contextlib.suppress(Exception):
            self._writer.close()


def write_table_files(
    conn: psycopg.Connection, fq: FileQuery, formats: Formats, open_file: OpenFile
) -> list[FileResult]:
    """Run the table's COPY and stream it into `<table>.csv` (and `<table>.parquet`).

    `open_file(name)` opens a new file of the package for writing (the package decides where).
    """
    csv_name = f"{fq.table}.csv"
    pq_name = f"{fq.table}.parquet"
    outs: list[HashingWriter] = []
    pq_writer: ParquetFileWriter | None = None
    done = False
    try:
        csv_out = HashingWriter(open_file(csv_name))
        outs.append(csv_out)
        csv_writer = CsvFileWriter(csv_out, fq.csv_schema, formats, fq.text_columns)
        if formats.parquet:
            pq_out = HashingWriter(open_file(pq_name))
            outs.append(pq_out)
            pq_writer = ParquetFileWriter(pq_out, fq.parquet_schema, fq.dictionary_columns)
        with conn.cursor() as cur, cur.copy(fq.statement) as copy:
            stream = _CopyStream(copy)
            if not stream.is_empty():
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(
                        column_names=list(fq.columns), block_size=READ_BLOCK_BYTES
                    ),
                    parse_options=pacsv.ParseOptions(newlines_in_values=True),
                    convert_options=pacsv.ConvertOptions(
                        column_types=fq.csv_schema,
                        null_values=[""],
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,  # "" is an empty text, not null
                    ),
                )
                try:
                    for batch in reader:
                        csv_writer.write_batch(batch)
                        if pq_writer is not None:
                            pq_writer.write_batch(batch)
                finally:
                    reader.close()
        csv_writer.close()
        results = [
            FileResult(csv_name, fq.table, "csv", csv_writer.rows, csv_out.size, csv_out.sha256, fq.columns)
        ]
        if pq_writer is not None:
            pq_writer.close()
            results.append(
                FileResult(
                    pq_name, fq.table, "parquet", pq_writer.rows, outs[1].size, outs[1].sha256, fq.columns
                )
            )
        done = True
        return results
    finally:
        if not done:
            # the package is being discarded: release the handles, quietly, keeping the real error
            if pq_writer is not None:
                pq_writer.discard()
            for out in outs:
                with contextlib.suppress(Exception):
                    out.close()
