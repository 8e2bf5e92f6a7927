"""The delivery manifest (`_manifest.json`): reading it and checking it against its folder.

Pure functions, no database: `read_manifest` returns a `Manifest` or raises `Reject` with a reason
code from `REJECT_CODES` and a detail that names files and fields, never data values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from credit_risk import feeds

MANIFEST = "_manifest.json"
ENCODINGS = {"UTF-8": "utf-8", "GB18030": "gb18030"}
DATE_FOLDER = re.compile(r"^\d{8}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")

# Why a whole delivery is rejected (ledger `reason` starts with one of these).
REJECT_CODES = (
    "manifest_unreadable",  # not JSON, not an object, a required key missing or mistyped
    "unknown_feed",  # department/feed not in the contract
    "manifest_mismatch",  # department, feed, date or mode differ from the folder / the contract
    "bad_file_name",  # a listed name with '/', '\\', '..', absolute, duplicated, or the manifest itself
    "file_missing",
    "checksum_mismatch",
    "row_count_mismatch",
    "missing_required_column",
    "duplicate_column",  # a header naming one column twice
    "unreadable_csv",  # bad gzip, undecodable bytes, an unclosed quote, NUL bytes, no header
    "manifest_changed",  # the folder was loaded before with different files
)


class Reject(Exception):
    """The delivery breaks the contract as a whole: it loads nothing."""

    def __init__(self, code: str, detail: str = "") -> None:
        assert code in REJECT_CODES, code
        self.code = code
        self.detail = detail
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}" if self.detail else self.code


@dataclass(frozen=True)
class FileEntry:
    name: str
    rows: int
    sha256: str  # lower-case hex


@dataclass(frozen=True)
class Manifest:
    department: str
    feed: str
    delivery_date: dt.date
    mode: str
    encoding: str  # python codec name
    files: tuple[FileEntry, ...]
    sha256: str  # of the manifest bytes
    schema_version: int = 1

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def content_key(self) -> str:
        """sha256 over the files' names and checksums: equal keys = an identical delivery."""
        return content_key(self.files)


def content_key(files: tuple[FileEntry, ...] | list[FileEntry]) -> str:
    h = hashlib.sha256()
    for f in sorted(files, key=lambda e: e.name):
        h.update(f"{f.name}\t{f.sha256}\n".encode())
    return h.hexdigest()


def folder_parts(path: Path) -> tuple[str, str, dt.date | None]:
    """(department, feed, date) as the folder `<department>/<feed>/<YYYYMMDD>` names them."""
    date: dt.date | None = None
    if DATE_FOLDER.match(path.name):
        try:
            date = dt.date(int(path.name[:4]), int(path.name[4:6]), int(path.name[6:]))
        except ValueError:
            date = None
    return path.parent.parent.name, path.parent.name, date


def plain_name(name: object) -> bool:
    """A file name as the contract allows it: a plain name inside the delivery folder."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..", MANIFEST)
        and "/" not in name
        and "\\" not in name
        and ".." not in name
        and "\0" not in name
        and not re.match(r"^[A-Za-z]:", name)
    )


def read_manifest(folder: Path) -> Manifest:
    """Parse and check `folder/_manifest.json` against the folder and the contract.

    Checks: readable JSON object; department, feed, delivery_date and files present; feed known;
    department/feed/date equal to the folder's; mode (if given) the feed's; encoding UTF-8 or
    GB18030 (default UTF-8); plain, unique file names; rows non-negative integers; sha256 64 hex.
    Files themselves (presence, checksums) are checked by `verify_files`.
    """
    raw = (folder / MANIFEST).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Reject("manifest_unreadable", "not valid UTF-8 JSON") from e
    if not isinstance(doc, dict):
        raise Reject("manifest_unreadable", "not a JSON object")
    for k in ("department", "feed", "delivery_date", "files"):
        if k not in doc:
            raise Reject("manifest_unreadable", f"key '{k}' missing")
    dept, name = doc["department"], doc["feed"]
    if not isinstance(dept, str) or not isinstance(name, str):
        raise Reject("manifest_unreadable", "department and feed must be strings")
    f_dept, f_feed, f_date = folder_parts(folder)
    if f"{dept}/{name}" not in feeds.FEEDS_BY_KEY:
        raise Reject("unknown_feed", f"{dept}/{name} is not a feed of the contract")
    feed = feeds.FEEDS_BY_KEY[f"{dept}/{name}"]
    if (dept, name) != (f_dept, f_feed):
        raise Reject("manifest_mismatch", f"manifest names {dept}/{name}, folder is {f_dept}/{f_feed}")
    try:
        date = dt.date.fromisoformat(str(doc["delivery_date"]))
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", str(doc["delivery_date"])):
            raise ValueError
    except ValueError as e:
        raise Reject("manifest_unreadable", "delivery_date is not YYYY-MM-DD") from e
    if date != f_date:
        raise Reject("manifest_mismatch", f"manifest date {date}, folder {folder.name}")
    mode = doc.get("mode", feed.mode)
    if mode != feed.mode:
        raise Reject("manifest_mismatch", f"mode {mode!s:.20} but {feed.key} is {feed.mode}")
    enc_name = str(doc.get("encoding", "UTF-8")).upper()
    if enc_name not in ENCODINGS:
        raise Reject("manifest_unreadable", f"encoding {enc_name[:20]} is neither UTF-8 nor GB18030")
    version = doc.get("schema_version", 1)
    if version != 1:
        raise Reject("manifest_unreadable", f"schema_version {str(version)[:10]} (this loader reads 1)")
    files = doc["files"]
    if not isinstance(files, list) or not files:
        raise Reject("manifest_unreadable", "files must be a non-empty list")
    entries: list[FileEntry] = []
    seen: set[str] = set()
    for i, f in enumerate(files):
        if not isinstance(f, dict) or "name" not in f:
            raise Reject("manifest_unreadable", f"files[{i}] has no name")
        fname = f["name"]
        if not plain_name(fname) or fname in seen:
            raise Reject("bad_file_name", f"files[{i}] name is not a plain, unique file name")
        seen.add(fname)
        rows, sha = f.get("rows"), f.get("sha256")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise Reject("manifest_unreadable", f"{fname}: rows must be a non-negative integer")
        if not isinstance(sha, str) or not _HEX64.match(sha):
            raise Reject("manifest_unreadable", f"{fname}: sha256 must be 64 hex characters")
        entries.append(FileEntry(fname, rows, sha.lower()))
    return Manifest(dept, name, date, mode, ENCODINGS[enc_name], tuple(entries), digest, int(version))


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Every listed file exists as a regular file and has the listed sha256."""
    for f in manifest.files:
        p = folder / f.name
        if not p.is_file():
            raise Reject("file_missing", f.name)
    for f in manifest.files:
        if file_sha256(folder / f.name) != f.sha256:
            raise Reject("checksum_mismatch", f.name)


def unlisted_files(folder: Path, manifest: Manifest | None) -> list[str]:
    """Entries of the folder that the manifest does not list (ignored and reported)."""
    listed = {f.name for f in manifest.files} if manifest else set()
    return sorted(p.name for p in folder.iterdir() if p.name != MANIFEST and p.name not in listed)


def folder_state(folder: Path) -> str:
    """Fingerprint of what an attempt saw: manifest bytes and the size/mtime of every entry.

    discover() offers a folder again only when this changes (e.g. a rejected folder fixed in
    place), so a rejected delivery is not retried and re-alerted on every run.
    """
    h = hashlib.sha256()
    try:
        h.update((folder / MANIFEST).read_bytes())
    except OSError:
        pass
    for p in sorted(folder.iterdir(), key=lambda q: q.name):
        try:
            st = p.stat()
        except OSError:
            continue
        h.update(f"{p.name}\t{st.st_size}\t{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()
