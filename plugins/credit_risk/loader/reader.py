"""Streaming CSV reading of one delivery file, with exact physical line numbers.

Arrow's streaming CSV reader parses (RFC 4180, quotes, `""`, embedded newlines, CRLF, BOM) into
all-string record batches; rows with the wrong number of fields go to an invalid-row handler. Arrow
numbers records, not physical lines, so the physical line where each record starts is rebuilt
exactly here:

    line(record r) = r + (extra lines of the header) + (embedded line breaks of all data records before r)

where embedded line breaks are counted in the parsed values (fast path: a batch whose value
buffers contain no CR/LF needs no per-row counting). Line breaks are LF, CRLF or a lone CR, as for
Arrow. A counting wrapper sees every decoded byte, so the computed end of the last record is checked
against the file's real line count, and the tail of the file is kept to detect an unclosed quote
(Arrow silently accepts a quote left open at end of file).

Arrow treats a blank line as a record of all-null fields; such records are told apart from a row of
empty fields (`,,,`) by reading their line back (`read_lines`), which only happens when a file has
all-null records.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from credit_risk.loader.manifest import Reject

BLOCK_SIZE = 4 << 20  # Arrow block = one record batch of roughly this many bytes
TAIL_BYTES = 1 << 20  # the end of the file kept for the unclosed-quote check
_TERMINATOR = re.compile(rb"\r\n|\r|\n")


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def open_decoded(path: Path, encoding: str) -> pa.NativeFile:
    """The file's bytes, gunzipped when named `.gz`, transcoded to UTF-8 when GB18030."""
    stream: pa.NativeFile = pa.OSFile(str(path), "rb")
    if _is_gzip(path):
        stream = pa.CompressedInputStream(stream, "gzip")
    if encoding != "utf-8":
        stream = pa.transcoding_input_stream(stream, encoding, "utf-8")
    return stream


class _CountingReader(io.RawIOBase):
    """Passes decoded bytes to Arrow, counting line breaks and keeping the file's tail."""

    def __init__(self, src: pa.NativeFile) -> None:
        self.src = src
        self.lf = 0
        self.cr = 0
        self.crlf = 0
        self.nul = False
        self.size = 0
        self.last = -1
        self.tail = bytearray()
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        try:
            b = self.src.read(n) if n is not None and n >= 0 else self.src.read()
        except BaseException as e:  # remembered: Arrow re-raises it wrapped
            self.error = e
            raise
        if b:
            self.lf += b.count(b"\n")
            cr = b.count(b"\r")
            if cr:
                self.cr += cr
                self.crlf += b.count(b"\r\n")
            if self.last == 13 and b[0] == 10:
                self.crlf += 1
            if not self.nul and b"\0" in b:
                self.nul = True
            self.last = b[-1]
            self.size += len(b)
            self.tail += b
            if len(self.tail) > 2 * TAIL_BYTES:
                del self.tail[: len(self.tail) - TAIL_BYTES]
        return b

    def readinto(self, buf) -> int:  # pragma: no cover - Arrow uses read()
        b = self.read(len(buf))
        buf[: len(b)] = b
        return len(b)

    @property
    def lines(self) -> int:
        """Physical lines of the file (a final line without terminator counts)."""
        breaks = self.lf + self.cr - self.crlf
        return breaks + (1 if self.size and self.last not in (10, 13) else 0)


def read_header(path: Path, encoding: str) -> tuple[list[str], int]:
    """The header's column names and how many physical lines the header record spans."""
    try:
        raw = open_decoded(path, encoding)
        with io.TextIOWrapper(
            io.BufferedReader(_NativeRaw(raw)), encoding="utf-8-sig", errors="strict", newline=""
        ) as fh:
            rd = csv.reader(fh, strict=False)
            try:
                names = next(rd)
            except StopIteration:
                raise Reject("unreadable_csv", f"{path.name}: empty file, no header") from None
            return names, max(rd.line_num, 1)
    except Reject:
        raise
    except UnicodeDecodeError:
        # (decoding works on the first chunk of the file, not only the header line)
        raise Reject("unreadable_csv", f"{path.name}: undecodable bytes for the declared encoding") from None
    except (OSError, EOFError, csv.Error) as e:
        raise Reject("unreadable_csv", f"{path.name}: {_describe(e)}") from None


class _NativeRaw(io.RawIOBase):
    """Adapter: an Arrow input stream as a Python raw stream."""

    def __init__(self, src: pa.NativeFile) -> None:
        self.src = src

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        b = self.src.read(len(buf))
        n = len(b)
        buf[:n] = b
        return n

    def close(self) -> None:
        if not self.closed:
            self.src.close()
        super().close()


def _describe(e: BaseException) -> str:
    """A short description of a read error that never quotes file content."""
    msg = str(e).lower()
    if isinstance(e, UnicodeDecodeError) or "utf8" in msg or "utf-8" in msg or "decode" in msg:
        return "undecodable bytes for the declared encoding"
    if "zlib" in msg or "gzip" in msg or "compress" in msg or "truncated" in msg or isinstance(e, EOFError):
        return "bad gzip"
    return "cannot be read as CSV"


@dataclass
class FieldCountRow:
    """A record with the wrong number of fields (or a blank line)."""

    line_no: int
    text: str


@dataclass
class Batch:
    """Parsed records (all-string columns, named as in the header) and their physical lines."""

    data: pa.RecordBatch
    line_no: np.ndarray  # int64, one per row
    field_count_rows: list[FieldCountRow] = field(default_factory=list)


def _newlines(values: pa.Array) -> np.ndarray:
    """Line breaks (LF, CRLF, lone CR) inside each value; 0 for nulls."""
    lf = pc.count_substring(values, "\n")
    cr = pc.count_substring(values, "\r")
    crlf = pc.count_substring(values, "\r\n")
    total = pc.subtract(pc.add(lf, cr), crlf)
    return np.asarray(pc.fill_null(total, 0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _text_newlines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _batch_flags(batch: pa.RecordBatch) -> tuple[bool, bool]:
    """(any CR/LF, any NUL) in the batch's value buffers — a cheap whole-buffer scan."""
    breaks = nul = False
    for col in batch.columns:
        bufs = col.buffers()
        if len(bufs) < 3 or bufs[2] is None:
            continue
        offsets = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1, offset=col.offset * 4)
        data = bufs[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()
        if not breaks and (b"\n" in data or b"\r" in data):
            breaks = True
        if not nul and b"\0" in data:
            nul = True
    return breaks, nul


class FileReader:
    """Iterate over one file's record batches with physical line numbers.

    After iteration: `records` (data records, valid and invalid), `lines` (physical lines).
    Raises `Reject` for a file that cannot be read as CSV.
    """

    def __init__(self, path: Path, encoding: str, header: list[str], header_lines: int) -> None:
        self.path = path
        self.encoding = encoding
        self.header = header
        self.header_extra = header_lines - 1
        self.records = 0
        self._pending: list[tuple[int, str]] = []  # (Arrow record number, text) of invalid rows
        self._next_rec = 2  # Arrow numbers records from 1, the header being record 1
        self._nl_before = 0  # line breaks inside data records already numbered
        self._last_nl = self.header_extra  # line breaks inside the last numbered record
        self.lines = 0

    def _handler(self, row) -> str:
        self._pending.append((row.number, row.text))
        return "skip"

    def __iter__(self) -> Iterator[Batch]:
        counting = _CountingReader(open_decoded(self.path, self.encoding))
        try:
            reader = pcsv.open_csv(
                pa.PythonFile(counting, mode="r"),
                read_options=pcsv.ReadOptions(use_threads=False, block_size=BLOCK_SIZE),
                parse_options=pcsv.ParseOptions(
                    delimiter=",",
                    quote_char='"',
                    double_quote=True,
                    escape_char=False,
                    newlines_in_values=True,
                    ignore_empty_lines=False,
                    invalid_row_handler=self._handler,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in self.header},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                    check_utf8=True,
                ),
            )
            if reader.schema.names != self.header:
                raise Reject("unreadable_csv", f"{self.path.name}: header not readable")
            for rb in reader:
                yield self._number(rb)
        except Reject:
            raise
        except (pa.ArrowException, OSError, UnicodeDecodeError, EOFError, ValueError) as e:
            cause = counting.error or e
            raise Reject("unreadable_csv", f"{self.path.name}: {_describe(cause)}") from None
        finally:
            counting.src.close()
        if counting.error is not None:
            raise Reject("unreadable_csv", f"{self.path.name}: {_describe(counting.error)}")
        if counting.nul:
            raise Reject("unreadable_csv", f"{self.path.name}: NUL bytes")
        rest = self._number(None)
        if rest.field_count_rows:
            yield rest
        self._check_end(counting)

    def _number(self, rb: pa.RecordBatch | None) -> Batch:
        """Give every record of this batch, and the invalid rows before it, its physical line."""
        n = rb.num_rows if rb is not None else 0
        breaks = False
        if rb is not None:
            breaks, nul = _batch_flags(rb)
            if nul:
                raise Reject("unreadable_csv", f"{self.path.name}: NUL bytes")
        pending = self._pending
        if rb is None:
            take = len(pending)
        elif pending:
            recs = np.fromiter((p[0] for p in pending), dtype=np.int64, count=len(pending))
            valid_before = recs - self._next_rec - np.arange(len(pending))
            take = int(np.searchsorted(valid_before, n, side="left"))
        else:
            take = 0
        base = self._next_rec + self.header_extra + self._nl_before
        if take == 0 and not breaks:
            lines = base + np.arange(n, dtype=np.int64)
            self._next_rec += n
            self._last_nl = 0 if n else self._last_nl
            self.records += n
            return Batch(rb, lines) if rb is not None else Batch(_empty(self.header), lines)
        nl_valid = np.zeros(n, dtype=np.int64)
        if breaks and rb is not None:
            for col in rb.columns:
                nl_valid += _newlines(col)
        consumed = pending[:take]
        del pending[:take]
        recs = np.array([p[0] for p in consumed], dtype=np.int64)
        inv_pos = recs - self._next_rec  # positions in the merged sequence of records
        total = n + take
        nl_all = np.zeros(total, dtype=np.int64)
        is_inv = np.zeros(total, dtype=bool)
        is_inv[inv_pos] = True
        nl_all[~is_inv] = nl_valid
        nl_all[inv_pos] = [_text_newlines(t) for _, t in consumed]
        before = np.concatenate(([0], np.cumsum(nl_all)[:-1])) if total else np.zeros(0, np.int64)
        line_all = base + np.arange(total, dtype=np.int64) + before
        self._next_rec += total
        self._nl_before += int(nl_all.sum())
        if total:
            self._last_nl = int(nl_all[-1])
        self.records += total
        bad = [FieldCountRow(int(line_all[p]), t) for p, (_, t) in zip(inv_pos, consumed, strict=True)]
        data = rb if rb is not None else _empty(self.header)
        return Batch(data, line_all[~is_inv], bad)

    def _check_end(self, counting: _CountingReader) -> None:
        """The computed end of the last record must be the file's last line; no quote left open."""
        self.lines = counting.lines
        if self.records:
            last_start = self._next_rec - 1 + self.header_extra + self._nl_before - self._last_nl
        else:
            last_start = 1
        end = last_start + self._last_nl
        closed = _tail_record_closed(counting, last_start)
        if closed is None:  # the last record is longer than the kept tail: read it back
            text = read_lines(self.path, self.encoding, {last_start: max(self.lines - last_start + 1, 1)})
            closed = _quotes_closed(text.get(last_start, ""))
        if not closed:
            raise Reject("unreadable_csv", f"{self.path.name}: unclosed quote")
        if end != self.lines:
            raise RuntimeError(
                f"{self.path.name}: line accounting error (records end at line {end}, file has {self.lines})"
            )


def _empty(names: list[str]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in names], names=names)


def _tail_record_closed(counting: _CountingReader, last_start: int) -> bool | None:
    """Whether the last record's quotes are closed; None when it is not entirely in the tail."""
    span = counting.lines - last_start + 1  # physical lines of the last record
    if span < 1:
        return None
    tail = bytes(counting.tail)
    whole_file = counting.size == len(tail)
    window = 1 << 16  # usually enough: look at the end first, the whole tail only if needed
    while True:
        part = tail[-window:]
        starts = [m.end() for m in _TERMINATOR.finditer(part)]
        if starts and starts[-1] == len(part):
            starts.pop()  # a final line break starts no line
        if whole_file and len(part) == len(tail):
            starts.insert(0, 0)
        if len(starts) >= span + 1 or len(part) == len(tail):
            break  # one more start than needed: the first may sit on a CR of a split CRLF
        window *= 4
    if span > len(starts):
        return None
    record = part[starts[-span] :]
    return _quotes_closed(record.decode("utf-8", "replace"))


def _quotes_closed(text: str) -> bool:
    """RFC 4180 quote state at the end of `text` (a quote opens a field only at its start)."""
    start, unquoted, quoted, after_quote = 0, 1, 2, 3
    state = start
    for ch in text:
        if state == quoted:
            if ch == '"':
                state = after_quote
        elif state == after_quote:
            if ch == '"':
                state = quoted
            elif ch in ",\r\n":
                state = start
            else:
                state = unquoted
        elif state == start:
            if ch == '"':
                state = quoted
            elif ch not in ",\r\n":
                state = unquoted
        elif ch in ",\r\n":
            state = start
    return state != quoted


def read_lines(path: Path, encoding: str, spans: dict[int, int]) -> dict[int, str]:
    """Text of physical lines: {start line: number of lines} -> {start line: text without the
    final line break}. One streaming pass, only used for files with bad rows."""
    out: dict[int, str] = {}
    if not spans:
        return out
    wanted = iter(sorted(spans))
    nxt = next(wanted, None)
    start, left = 0, 0
    buf: list[str] = []
    with io.TextIOWrapper(
        io.BufferedReader(_NativeRaw(open_decoded(path, encoding))), encoding="utf-8-sig", newline=""
    ) as fh:
        for no, line in enumerate(fh, start=1):
            if not left:
                while nxt is not None and nxt < no:
                    nxt = next(wanted, None)
                if nxt is None:
                    break
                if no < nxt:
                    continue
                start, left, buf = no, spans[no], []
                nxt = next(wanted, None)
            buf.append(line)
            left -= 1
            if not left:
                out[start] = _strip_break("".join(buf))
    if left and buf:  # the file ended inside the span
        out[start] = _strip_break("".join(buf))
    return out


def _strip_break(s: str) -> str:
    if s.endswith("\r\n"):
        return s[:-2]
    if s.endswith(("\n", "\r")):
        return s[:-1]
    return s
