"""Finding deliveries under the landing root.

A *delivery folder* is any folder at depth three whose name is a real date `YYYYMMDD`:
`<landing>/<department>/<feed>/<YYYYMMDD>/`, whatever the department and feed are called.

* with `_manifest.json` and not attempted yet with this exact content -> **ready**. An unknown
  department or feed is ready too: loading it *rejects* it (ledger row, alert), as the contract
  wants for "unknown feed";
* without `_manifest.json` -> **waiting** (with its age; past the deadline it is reported as
  overdue and alerted, but never rejected: the manifest may still come);
* anything else under the landing root -> **ignored** and reported: files outside delivery folders,
  folders at the wrong depth or not named as a date, sub-folders inside a delivery folder, and
  department/feed folders that hold no delivery folder.

`ready` is in load order: registration first, then the other snapshot feeds newest first (the
older ones then only need validating: they are superseded), then event feeds by date.

"Attempted with this exact content" = a ledger row for the same path with the same folder state
(manifest bytes plus size and mtime of every entry, `manifest.folder_state`): a folder that was
rejected is offered again only after it changed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from credit_risk import feeds, notify
from credit_risk.loader.manifest import DATE_FOLDER, MANIFEST, folder_parts, folder_state

log = logging.getLogger(__name__)

DEADLINE_ENV = "CREDIT_RISK_MANIFEST_DEADLINE_HOURS"
DEFAULT_DEADLINE_HOURS = 24.0


@dataclass
class ReadyDelivery:
    path: str
    department: str
    feed: str
    feed_key: str
    delivery_date: str
    known_feed: bool


@dataclass
class WaitingDelivery:
    path: str
    department: str
    feed: str
    delivery_date: str
    age_seconds: float
    overdue: bool


@dataclass
class IgnoredPath:
    path: str
    why: str


@dataclass
class Discovery:
    """What `discover` found; `to_dict()` is JSON-serializable (XCom)."""

    landing: str
    ready: list[ReadyDelivery] = field(default_factory=list)
    waiting: list[WaitingDelivery] = field(default_factory=list)
    ignored: list[IgnoredPath] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Discovery:
        return cls(
            d["landing"],
            [ReadyDelivery(**r) for r in d.get("ready", [])],
            [WaitingDelivery(**w) for w in d.get("waiting", [])],
            [IgnoredPath(**i) for i in d.get("ignored", [])],
        )


def deadline_hours() -> float:
    try:
        return float(os.environ.get(DEADLINE_ENV, DEFAULT_DEADLINE_HOURS))
    except ValueError:
        return DEFAULT_DEADLINE_HOURS


def _age(folder: Path) -> float:
    """Seconds since anything in the folder last changed."""
    newest = folder.stat().st_mtime
    for p in folder.iterdir():
        try:
            newest = max(newest, p.stat().st_mtime)
        except OSError:
            continue
    return max(time.time() - newest, 0.0)


def _is_delivery_dir(p: Path) -> bool:
    return p.is_dir() and bool(DATE_FOLDER.match(p.name)) and folder_parts(p)[2] is not None


def scan(landing: Path) -> tuple[list[Path], list[Path], list[IgnoredPath]]:
    """(folders with a manifest, folders without, ignored paths) — no database."""
    with_manifest: list[Path] = []
    without: list[Path] = []
    ignored: list[IgnoredPath] = []
    if not landing.is_dir():
        return with_manifest, without, [IgnoredPath(str(landing), "landing root does not exist")]
    for dept in sorted(landing.iterdir()):
        if not dept.is_dir():
            ignored.append(IgnoredPath(str(dept), "file at the landing root"))
            continue
        dept_has = False
        for feed_dir in sorted(dept.iterdir()):
            if not feed_dir.is_dir():
                ignored.append(IgnoredPath(str(feed_dir), "file at department level"))
                continue
            feed_has = False
            for d in sorted(feed_dir.iterdir()):
                if not _is_delivery_dir(d):
                    why = "folder not named as a date YYYYMMDD" if d.is_dir() else "file at feed level"
                    ignored.append(IgnoredPath(str(d), why))
                    continue
                feed_has = True
                for inner in sorted(d.iterdir()):
                    if inner.is_dir():
                        ignored.append(IgnoredPath(str(inner), "sub-folder inside a delivery folder"))
                (with_manifest if (d / MANIFEST).is_file() else without).append(d)
            dept_has = dept_has or feed_has
            if not feed_has:
                known = f"{dept.name}/{feed_dir.name}" in feeds.FEEDS_BY_KEY
                why = (
                    "feed folder without delivery folders"
                    if known
                    else "unknown feed folder, no delivery folder"
                )
                ignored.append(IgnoredPath(str(feed_dir), why))
        if not dept_has and not any(p.is_dir() for p in dept.iterdir()):
            known_dept = dept.name in feeds.DEPARTMENTS
            ignored.append(
                IgnoredPath(
                    str(dept), "empty department folder" if known_dept else "unknown department folder"
                )
            )
    return with_manifest, without, ignored


def discover(landing: Path, conn: psycopg.Connection | None = None) -> Discovery:
    """Ready, waiting and ignored deliveries under `landing`; reports waiting/ignored ones to
    `ingest.reports` (once per path and kind) and logs them; alerts on overdue manifests."""
    if conn is None:
        from credit_risk import db

        with db.connect() as own:
            return discover(landing, own)
    from credit_risk.loader.load import _ensure_once, report

    landing = Path(landing).absolute()
    _ensure_once(conn)
    with_manifest, without, ignored = scan(landing)
    found = Discovery(str(landing), ignored=ignored)
    attempted = _attempted(conn, [str(p) for p in with_manifest])
    for d in with_manifest:
        if folder_state(d) in attempted.get(str(d), set()):
            continue
        dept, feed_name, date = folder_parts(d)
        key = f"{dept}/{feed_name}"
        assert date is not None
        found.ready.append(
            ReadyDelivery(str(d), dept, feed_name, key, date.isoformat(), key in feeds.FEEDS_BY_KEY)
        )
    found.ready.sort(key=_load_order)
    limit = deadline_hours() * 3600
    newly_overdue: list[WaitingDelivery] = []
    for d in without:
        dept, feed_name, date = folder_parts(d)
        assert date is not None
        age = _age(d)
        w = WaitingDelivery(str(d), dept, feed_name, date.isoformat(), round(age, 1), age > limit)
        found.waiting.append(w)
    with conn.transaction():
        for i in found.ignored:
            report(conn, "ignored", i.path, i.why)
        for w in found.waiting:
            report(conn, "waiting", w.path, "no _manifest.json yet")
            if w.overdue:
                before = conn.execute(
                    "select 1 from ingest.reports where kind = 'waiting_overdue' and path = %s", (w.path,)
                ).fetchone()
                if before is None:
                    newly_overdue.append(w)
                report(conn, "waiting_overdue", w.path, f"no _manifest.json after {deadline_hours():g} h")
    if not conn.autocommit:
        conn.commit()
    for i in found.ignored:
        log.warning("ignored %s: %s", i.path, i.why)
    for w in found.waiting:
        log.info("waiting for manifest: %s (%.0f s)", w.path, w.age_seconds)
    for w in newly_overdue:
        notify.notify(
            f"manifest overdue: {w.department}/{w.feed} {Path(w.path).name}",
            f"{w.path} has had no _manifest.json for {w.age_seconds / 3600:.1f} h "
            f"(deadline {deadline_hours():g} h). It is not loaded until the manifest arrives.",
            "warning",
        )
    log.info(
        "discover %s: %d ready, %d waiting, %d ignored",
        landing,
        len(found.ready),
        len(found.waiting),
        len(found.ignored),
    )
    return found


def _load_order(r: ReadyDelivery) -> tuple:
    """registration first, then the other snapshots (newest first), then event feeds by date."""
    feed = feeds.FEEDS_BY_KEY.get(r.feed_key)
    snapshot = feed is not None and not feed.is_event
    days = (
        -dt.date.fromisoformat(r.delivery_date).toordinal()
        if snapshot
        else dt.date.fromisoformat(r.delivery_date).toordinal()
    )
    return (r.feed_key != "samr/registration", not snapshot, r.feed_key, days, r.path)


def _attempted(conn: psycopg.Connection, paths: list[str]) -> dict[str, set[str]]:
    if not paths:
        return {}
    rows = conn.execute(
        "select delivery_path, folder_state from ingest.deliveries where delivery_path = any(%s)", (paths,)
    ).fetchall()
    out: dict[str, set[str]] = {}
    for p, s in rows:
        out.setdefault(p, set()).add(s)
    return out
