"""Loading a whole landing zone (the batch run), and the accounting check.

Order: the snapshot reference feeds first (`registration`, so that the other feeds' orphan counts
are measured against the newest registry, with `inspection_items` and `inspectors` beside it),
then every other feed. Within an event feed, deliveries load in date order. Within a snapshot
feed, the NEWEST loads first: the older ones are then accepted as superseded (validated and
counted, bad rows quarantined, nothing written to raw, no hashing), which gives exactly the state
that loading them in date order would (raw holds the latest accepted snapshot) at a fraction of
the cost; if the newest is rejected, the next newest becomes current. With `workers > 1` the feeds
of each phase are spread over that many processes (largest feeds first), each feed's deliveries
staying in one process and in order. A folder still waiting for its manifest is reported by
`discover` and skipped: nothing here waits.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import psycopg

from credit_risk.feeds import FEEDS
from credit_risk.loader.discover import ReadyDelivery, discover
from credit_risk.loader.load import LoadResult, load_delivery

log = logging.getLogger(__name__)

FIRST = ("samr/registration", "samr/inspection_items", "samr/inspectors")
SNAPSHOT_FEEDS = frozenset(f.key for f in FEEDS if not f.is_event)


def _wanted(r: ReadyDelivery, only: set[str] | None) -> bool:
    return only is None or r.feed in only or r.feed_key in only


def _size(paths: list[str]) -> int:
    total = 0
    for p in paths:
        for f in Path(p).iterdir():
            try:
                total += f.stat().st_size
            except OSError:
                pass
    return total


def _load_feed_paths(paths: list[str], url: str | None = None) -> list[dict]:
    """Worker: load one feed's deliveries in order on one connection (results as dicts)."""
    from credit_risk import db

    out: list[dict] = []
    with db.connect(url=url) as conn:
        for p in paths:
            out.append(asdict(load_delivery(Path(p), conn)))
    return out


def plan(ready: list[ReadyDelivery], only: set[str] | None = None) -> list[list[list[str]]]:
    """Phases -> feeds -> delivery paths in load order (date, then path)."""
    by_feed: dict[str, list[ReadyDelivery]] = {}
    for r in ready:
        if _wanted(r, only):
            by_feed.setdefault(r.feed_key, []).append(r)
    phases: list[list[list[str]]] = [[], []]
    for key, items in by_feed.items():
        items.sort(key=lambda r: (r.delivery_date, r.path), reverse=key in SNAPSHOT_FEEDS)
        phases[0 if key in FIRST else 1].append([r.path for r in items])
    for ph in phases:
        ph.sort(key=_size, reverse=True)  # largest first: better packing over the workers
    return [ph for ph in phases if ph]


def load_landing(landing: Path, feeds: list[str] | None = None, workers: int = 1) -> list[LoadResult]:
    """Discover and load every ready delivery under `landing` (see the module docstring).

    `feeds` limits the run to these feeds (names like `penalties` or keys like `samr/penalties`).
    Returns one `LoadResult` per attempted delivery, in load order per feed.
    """
    from credit_risk import db

    found = discover(Path(landing))
    only = set(feeds) if feeds else None
    results: list[LoadResult] = []
    for phase in plan(found.ready, only):
        if workers <= 1 or len(phase) == 1:
            with db.connect() as conn:
                for paths in phase:
                    results.extend(load_delivery(Path(p), conn) for p in paths)
            continue
        url = db.warehouse_url().url
        # spawn, not fork: Arrow's thread pools do not survive a fork
        with ProcessPoolExecutor(
            max_workers=min(workers, len(phase)), mp_context=mp.get_context("spawn")
        ) as ex:
            futures = [ex.submit(_load_feed_paths, paths, url) for paths in phase]
            for fut in futures:
                results.extend(LoadResult(**d) for d in fut.result())
    rejected = [r for r in results if r.failed]
    log.info(
        "load_landing %s: %d deliveries, %d accepted, %d rejected, %d duplicate",
        landing,
        len(results),
        sum(r.status == "accepted" for r in results),
        len(rejected),
        sum(r.status == "duplicate" for r in results),
    )
    return results


def accounting_violations(conn: psycopg.Connection | None = None) -> list[dict]:
    """Accepted deliveries where rows in the manifest != rows loaded + rows quarantined, checked
    against the ledger and against the quarantine table's own count (should be empty)."""
    if conn is None:
        from credit_risk import db

        with db.connect() as own:
            return accounting_violations(own)
    rows = conn.execute(
        """select d.delivery_id, d.department, d.feed, d.delivery_date, d.rows_manifest, d.rows_loaded,
                  d.rows_quarantined, coalesce(q.n, 0) as quarantine_rows
           from ingest.deliveries d
           left join (select delivery_id, count(*) as n from ingest.quarantine group by delivery_id) q
             using (delivery_id)
           where d.status = 'accepted'
             and (d.rows_manifest is distinct from d.rows_loaded + d.rows_quarantined
                  or d.rows_quarantined is distinct from coalesce(q.n, 0))
           order by d.delivery_id"""
    ).fetchall()
    if not conn.autocommit:
        conn.commit()
    names = (
        "delivery_id",
        "department",
        "feed",
        "delivery_date",
        "rows_manifest",
        "rows_loaded",
        "rows_quarantined",
        "quarantine_rows",
    )
    out = []
    for r in rows:
        d = dict(zip(names, r, strict=True))
        d["delivery_date"] = str(d["delivery_date"])
        out.append(d)
    return out
