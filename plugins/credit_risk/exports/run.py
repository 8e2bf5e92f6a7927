"""Export runs: packages for a published as_of, scheduled re-sends, retention, the summary."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import shutil
import time
import uuid
from typing import Any

import psycopg

from credit_risk import config as settings
from credit_risk import db
from credit_risk.exports import ledger, query, writer
from credit_risk.exports.entitlements import Consumer, ExportConfig, Scenario, load_config
from credit_risk.exports.query import Publication
from credit_risk.exports.target import (
    MANIFEST,
    ExportTargetError,
    LocalTarget,
    ObjectStoreTarget,
    Target,
    is_as_of_dir,
    package,
    target_for,
)
from credit_risk.exports.writer import FileResult, HashingWriter, write_table_files

log = logging.getLogger(__name__)

RESEND_DIR = "_resend"  # <consumer>/_resend/<day>/<scenario>/<as_of>/
MANIFEST_VERSION = 1
COPY_CHUNK = 1 << 20


class ExportError(RuntimeError):
    """An export could not be made (nothing published, a package failed, a target problem)."""


# ------------------------------------------------------------------------------ publication


def resolve_publication(conn: psycopg.Connection, as_of: dt.date | None = None) -> Publication:
    """The publication to export: of `as_of`, or of the latest published as_of.

    Only publications with status 'published' count; a later blocked attempt at the same as_of
    leaves the earlier publication in force (published.* still holds its rows).
    """
    if conn.execute("select to_regclass('published.publications')").fetchone()[0] is None:  # type: ignore[index]
        raise ExportError("nothing is published yet (published.publications does not exist)")
    if as_of is None:
        row = conn.execute(
            "select as_of, publication_id from published.publications where status = 'published' "
            "order by as_of desc, publication_id desc limit 1"
        ).fetchone()
        if row is None:
            raise ExportError("nothing is published yet: no publication with status 'published'")
        return Publication(row[0], int(row[1]))
    row = conn.execute(
        "select max(publication_id) from published.publications where as_of = %s and status = 'published'",
        (as_of,),
    ).fetchone()
    if row is None or row[0] is None:
        raise ExportError(
            f"as_of {as_of} is not published: refusing to export results that did not pass the gates"
        )
    return Publication(as_of, int(row[0]))


def _check_published_rows(conn: psycopg.Connection, pub: Publication) -> None:
    found = conn.execute(
        "select exists (select 1 from published.credit_evaluations where as_of = %s and publication_id = %s)",
        (pub.as_of, pub.publication_id),
    ).fetchone()[0]  # type: ignore[index]
    if not found:
        raise ExportError(
            f"published.credit_evaluations holds no rows of publication {pub.publication_id} (as_of {pub.as_of})"
        )


# ---------------------------------------------------------------------------------- packages


def package_parts(consumer: Consumer, scenario: Scenario, as_of: dt.date) -> tuple[str, str, str]:
    """Relative location of a package: <consumer>/<scenario>/<as_of>."""
    return (consumer.id, scenario.id, as_of.isoformat())


def build_manifest(
    consumer: Consumer, scenario: Scenario, pub: Publication, files: list[FileResult]
) -> bytes:
    """The package manifest: deterministic JSON (no wall-clock time; that is in the ledger)."""
    grades = consumer.grades_for(scenario)
    rows: dict[str, int] = {}
    for f in files:
        rows.setdefault(f"published.{f.table}", f.rows)
    doc = {
        "manifest_version": MANIFEST_VERSION,
        "consumer": consumer.id,
        "consumer_name": {"zh": consumer.name_zh, "en": consumer.name_en},
        "scenario": scenario.id,
        "scenario_number": scenario.number,
        "scenario_name": {"zh": scenario.name_zh, "en": scenario.name_en},
        "as_of": pub.as_of.isoformat(),
        "publication_id": pub.publication_id,
        "format": {
            "csv_encoding": consumer.formats.csv_encoding,
            "csv_dialect": {
                "delimiter": ",",
                "line_terminator": writer.CSV_EOL,
                "quoting": 'every non-null value double-quoted; null is an empty unquoted field; "" is empty text',
                "byte_order_mark": consumer.formats.csv_encoding == "utf-8-sig",
                "list_separator": query.LIST_SEPARATOR,
            },
            "spreadsheet_formula_guard": consumer.formats.spreadsheet,
            "parquet": consumer.formats.parquet,
            "score_decimals": query.SCORE_DECIMALS,
            "order": "uscc",
        },
        "entitlement": {
            "grades": list(grades),
            "filters": consumer.filters.as_dict(),
            "tables": {f"published.{t}": list(cols) for t, cols in consumer.tables.items()},
        },
        "treatments": {g: {"zh": scenario.treatments[g].zh, "en": scenario.treatments[g].en} for g in grades},
        "rows": rows,
        "files": [f.manifest_entry() for f in files],
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# Files already written in this run, by everything that determines their bytes: a second
# consumer with the same scenario, columns, filters and formats gets a byte copy (the files are
# deterministic, so a copy is exactly what recomputing would give, at disk speed).
ReuseKey = tuple[Any, ...]
Reuse = dict[ReuseKey, tuple[tuple[str, ...], list[FileResult]]]


def _reuse_key(consumer: Consumer, scenario: Scenario, table: str) -> ReuseKey:
    f = consumer.filters
    columns = consumer.tables[table]
    # the scenario shapes a file through its grades, and its treatment texts if selected
    treatments = scenario.id if {"treatment_zh", "treatment_en"} & set(columns) else None
    return (
        treatments,
        table,
        consumer.tables[table],
        consumer.grades_for(scenario),
        f.region_prefixes,
        f.entity_types,
        f.risk_classes,
        consumer.formats,
    )


def _copy_file(target: Target, src: tuple[str, ...], name: str, open_file: Any) -> tuple[int, str]:
    """Copy one file of a package into the package being written; return its size and sha256."""
    out = HashingWriter(open_file(name))
    try:
        with target.open_read(src, name) as fh:
            shutil.copyfileobj(fh, out, COPY_CHUNK)
    finally:
        out.close()
    return out.size, out.sha256


def _copy_files(
    target: Target, src: tuple[str, ...], files: list[FileResult], open_file: Any
) -> list[FileResult]:
    for f in files:
        if _copy_file(target, src, f.name, open_file) != (f.bytes, f.sha256):
            raise ExportError(f"{target.location(src)}/{f.name} changed while the run was copying it")
    return files


def write_package(
    conn: psycopg.Connection,
    target: Target,
    consumer: Consumer,
    scenario: Scenario,
    pub: Publication,
    reuse: Reuse | None = None,
) -> dict[str, Any]:
    """Write one complete package (or nothing) and return what the ledger records."""
    parts = package_parts(consumer, scenario, pub.as_of)
    made: dict[ReuseKey, list[FileResult]] = {}
    with package(target, parts) as pkg:
        files: list[FileResult] = []
        for table in consumer.tables:
            key = _reuse_key(consumer, scenario, table)
            if reuse is not None and key in reuse:
                src, done = reuse[key]
                files += _copy_files(target, src, done, pkg.open)
                continue
            fq = query.file_query(consumer, scenario, table, pub)
            made[key] = write_table_files(conn, fq, consumer.formats, pkg.open)
            files += made[key]
        pkg.commit(build_manifest(consumer, scenario, pub, files))
    if reuse is not None:  # only files of a committed package may be copied
        reuse.update({k: (parts, v) for k, v in made.items()})
    return {
        "location": pkg.location,
        "files": [
            {
                "name": f.name,
                "table": f.table,
                "format": f.format,
                "rows": f.rows,
                "bytes": f.bytes,
                "sha256": f.sha256,
            }
            for f in files
        ],
        "rows": sum(f.rows for f in files if f.format == "csv"),
        "bytes": sum(f.bytes for f in files),
    }


def read_manifest(target: Target, parts: tuple[str, ...]) -> tuple[dict[str, Any], bytes] | None:
    """The manifest of a complete package, or None when absent (incomplete or no package)."""
    raw = target.read_bytes(parts, MANIFEST)
    if raw is None:
        return None
    return json.loads(raw.decode("utf-8")), raw


def verify_package(target: Target, parts: tuple[str, ...]) -> dict[str, Any]:
    """Check every file of a package against its manifest (bytes and sha256); return the manifest."""
    found = read_manifest(target, parts)
    if found is None:
        raise ExportError(f"{target.location(parts)}: no manifest (the package is absent or incomplete)")
    manifest = found[0]
    for f in manifest["files"]:
        sink = HashingWriter(open(os.devnull, "wb"))  # noqa: SIM115 - closed below
        try:
            with target.open_read(parts, f["name"]) as src:
                shutil.copyfileobj(src, sink, COPY_CHUNK)
        finally:
            sink.close()
        if sink.size != f["bytes"] or sink.sha256 != f["sha256"]:
            raise ExportError(f"{target.location(parts)}/{f['name']}: does not match the manifest")
    return manifest


def copy_package(
    target: Target, src: tuple[str, ...], dst: tuple[str, ...], pub: Publication
) -> dict[str, Any]:
    """Copy a complete package byte for byte (verifying it on the way) to a new place."""
    found = read_manifest(target, src)
    if found is None:
        raise ExportError(
            f"no complete package at {target.location(src)} to re-send (export_all has not delivered it)"
        )
    manifest, raw = found
    if manifest.get("publication_id") != pub.publication_id:
        raise ExportError(
            f"{target.location(src)} holds publication {manifest.get('publication_id')}, but the latest published "
            f"is {pub.publication_id}: run the export for {pub.as_of} first"
        )
    with package(target, dst) as pkg:
        for f in manifest["files"]:
            if _copy_file(target, src, f["name"], pkg.open) != (f["bytes"], f["sha256"]):
                raise ExportError(
                    f"{target.location(src)}/{f['name']} does not match its manifest; not re-sent"
                )
        pkg.commit(raw)  # the manifest, unchanged and last
    return {
        "location": pkg.location,
        "files": [
            {k: f[k] for k in ("name", "table", "format", "rows", "bytes", "sha256")}
            for f in manifest["files"]
        ],
        "rows": sum(manifest["rows"].values()),
        "bytes": sum(f["bytes"] for f in manifest["files"]),
    }


# --------------------------------------------------------------------------------- retention


def apply_retention(target: Target, consumer: Consumer, conn: psycopg.Connection | None = None) -> int:
    """Keep the last `consumer.retention` as_of packages per scenario (and re-send days); remove the rest."""
    removed = 0
    for scenario_dir in target.children((consumer.id,)):
        if scenario_dir == RESEND_DIR:
            continue
        parts = (consumer.id, scenario_dir)
        target.cleanup(parts)
        as_ofs = sorted(n for n in target.children(parts) if is_as_of_dir(n))
        for old in as_ofs[: max(0, len(as_ofs) - consumer.retention)]:
            removed += _remove(target, (*parts, old), conn)
    days = sorted(n for n in target.children((consumer.id, RESEND_DIR)) if is_as_of_dir(n))
    for old in days[: max(0, len(days) - consumer.retention)]:
        removed += _remove(target, (consumer.id, RESEND_DIR, old), conn)
    return removed


def _remove(target: Target, parts: tuple[str, ...], conn: psycopg.Connection | None) -> int:
    location = target.location(parts)
    target.remove(parts)
    log.info("retention removed %s", location)
    if conn is not None:
        ledger.mark_removed(conn, location)
    return 1


# ------------------------------------------------------------------------------------- runs


def _record(
    conn: psycopg.Connection,
    run_id: str,
    target: Target,
    kind: str,
    pub: Publication,
    consumer: str,
    scenario: str,
    location: str,
    result: dict[str, Any] | None,
    error: Exception | None = None,
    resend_on: dt.date | None = None,
) -> None:
    ledger.record(
        conn,
        run_id=run_id,
        target=target.url,
        kind=kind,
        consumer=consumer,
        scenario=scenario,
        pub=pub,
        package_path=result["location"] if result else location,
        files=result["files"] if result else [],
        rows=result["rows"] if result else 0,
        nbytes=result["bytes"] if result else 0,
        status="delivered" if error is None else "failed",
        detail=None if error is None else f"{type(error).__name__}: {error}",
        resend_on=resend_on,
    )


def _target(root: Any) -> LocalTarget | ObjectStoreTarget:
    return target_for(root or settings.export_root())


class _RunLock:
    """Session advisory lock: one export run (or re-send) at a time per warehouse."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def __enter__(self) -> _RunLock:
        self.conn.execute("select pg_advisory_lock(%s)", (ledger.LOCK_KEY,))
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("select pg_advisory_unlock(%s)", (ledger.LOCK_KEY,))


def export_all(
    as_of: dt.date | str | None = None, root: Any = None, *, export_config: ExportConfig | None = None
) -> dict[str, Any]:
    """Write one package per consumer and scenario for a published as_of.

    `as_of` None = the latest published as_of; an as_of that is not published is refused.
    `root` (a path, an object-storage URL or an Airflow ObjectStoragePath) defaults to
    `CREDIT_RISK_EXPORT_ROOT` (config.export_root()). Every package is complete
    or absent; one that fails is recorded in the ledger and the others still go out; the run
    then raises ExportError naming the failures. Returns a summary (packages, files, rows,
    bytes, seconds, removed by retention).
    """
    t0 = time.monotonic()
    if isinstance(as_of, str):  # a DAG's conf or an Asset event may carry the ISO text
        as_of = dt.date.fromisoformat(as_of)
    run_id = uuid.uuid4().hex
    cfg = export_config or load_config()
    target = _target(root)
    delivered = failed = files = rows = nbytes = removed = 0
    failures: list[str] = []
    with db.connect(autocommit=True) as lconn:
        ensure_schema(lconn)
        with _RunLock(lconn):
            pub = resolve_publication(lconn, as_of)
            target.check()  # an unusable target fails once, clearly, before any package
            log.info("exporting as_of %s (publication %s) to %s", pub.as_of, pub.publication_id, target.url)
            with db.connect() as dconn:
                # one snapshot for every package: a re-publication mid-run cannot mix two versions
                dconn.execute("set transaction isolation level repeatable read")
                # dates leave PostgreSQL as YYYY-MM-DD whatever the server's default DateStyle
                dconn.execute("set local datestyle to 'ISO, YMD'")
                _check_published_rows(dconn, pub)
                for stmt in query.base_table_sql(pub):
                    dconn.execute(stmt)
                reuse: Reuse = {}
                note = functools.partial(_record, lconn, run_id, target, "export", pub)
                for consumer, scenario in cfg.packages():
                    location = target.location(package_parts(consumer, scenario, pub.as_of))
                    try:
                        with dconn.transaction():  # a savepoint: a failed COPY does not end the run
                            res = write_package(dconn, target, consumer, scenario, pub, reuse)
                    except Exception as e:  # noqa: BLE001 - recorded, reported, and raised below
                        log.exception("export of %s / %s failed", consumer.id, scenario.id)
                        failed += 1
                        failures.append(f"{consumer.id}/{scenario.id}: {e}")
                        note(consumer.id, scenario.id, location, None, e)
                        continue
                    delivered += 1
                    files += len(res["files"])
                    rows += res["rows"]
                    nbytes += res["bytes"]
                    note(consumer.id, scenario.id, location, res)
                dconn.rollback()  # nothing to keep: the run only read (the base table goes with it)
            for consumer in cfg.consumers.values():
                try:
                    removed += apply_retention(target, consumer, lconn)
                except (OSError, ExportTargetError) as e:
                    log.exception("retention for %s failed", consumer.id)
                    failures.append(f"{consumer.id}: retention: {e}")
    summary = {
        "run_id": run_id,
        "as_of": pub.as_of.isoformat(),
        "publication_id": pub.publication_id,
        "root": target.url,
        "packages": delivered,
        "failed": failed,
        "files": files,
        "rows": rows,
        "bytes": nbytes,
        "removed": removed,
        "seconds": round(time.monotonic() - t0, 2),
    }
    log.info("exports: %s", summary)
    if failures:
        shown = "; ".join(failures[:5]) + (f"; … {len(failures) - 5} more" if len(failures) > 5 else "")
        raise ExportError(f"{len(failures)} export problem(s) for as_of {pub.as_of} ({summary}): {shown}")
    return summary


def resend_scheduled(
    today: dt.date, root: Any = None, *, export_config: ExportConfig | None = None
) -> dict[str, Any]:
    """Re-send the latest published package to every consumer whose delivery day is today.

    The package is copied byte for byte (and verified against its manifest), never recomputed,
    to `<consumer>/_resend/<today>/<scenario>/<as_of>/`, complete or absent like any package.
    """
    t0 = time.monotonic()
    cfg = export_config or load_config()
    due = [c for c in cfg.consumers.values() if c.delivery_day == today.day]
    summary: dict[str, Any] = {
        "today": today.isoformat(),
        "consumers_due": [c.id for c in due],
        "as_of": None,
        "publication_id": None,
        "packages": 0,
        "failed": 0,
        "files": 0,
        "rows": 0,
        "bytes": 0,
        "removed": 0,
        "seconds": 0.0,
    }
    if not due:
        return summary
    target = _target(root)
    run_id = uuid.uuid4().hex
    failures: list[str] = []
    with db.connect(autocommit=True) as lconn:
        ensure_schema(lconn)
        with _RunLock(lconn):
            try:
                pub = resolve_publication(lconn, None)
            except ExportError as e:  # nothing published yet: nothing to re-send, not a failure
                log.warning("re-send on %s skipped: %s", today, e)
                summary["skipped"] = str(e)
                return summary
            target.check()
            summary.update(as_of=pub.as_of.isoformat(), publication_id=pub.publication_id)
            note = functools.partial(_record, lconn, run_id, target, "resend", pub)
            for consumer in due:
                for sid in consumer.scenarios:
                    scenario = cfg.scenarios[sid]
                    src = package_parts(consumer, scenario, pub.as_of)
                    dst = (consumer.id, RESEND_DIR, today.isoformat(), scenario.id, pub.as_of.isoformat())
                    try:
                        res = copy_package(target, src, dst, pub)
                    except Exception as e:  # noqa: BLE001 - recorded, reported, and raised below
                        log.exception("re-send of %s / %s failed", consumer.id, sid)
                        summary["failed"] += 1
                        failures.append(f"{consumer.id}/{sid}: {e}")
                        note(consumer.id, sid, target.location(dst), None, e, today)
                        continue
                    summary["packages"] += 1
                    summary["files"] += len(res["files"])
                    summary["rows"] += res["rows"]
                    summary["bytes"] += res["bytes"]
                    note(consumer.id, sid, res["location"], res, None, today)
                summary["removed"] += apply_retention(target, consumer, lconn)
    summary["seconds"] = round(time.monotonic() - t0, 2)
    if failures:
        raise ExportError(f"{len(failures)} re-send(s) failed on {today}: {'; '.join(failures[:5])}")
    return summary


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schema `exports` and table `exports.ledger` if missing."""
    ledger.ensure_schema(conn)


# ---------------------------------------------------------------------------------- summary


def summary(as_of: dt.date, export_config: ExportConfig | None = None) -> str:
    """One screen on the latest export run of an as_of (from the ledger), for `make demo`."""
    cfg = export_config or load_config()
    with db.connect(autocommit=True) as conn:
        if conn.execute("select to_regclass('exports.ledger')").fetchone()[0] is None:  # type: ignore[index]
            return f"exports: nothing recorded yet (no exports.ledger) for {as_of}"
        rows = conn.execute(
            """
            select consumer, scenario, publication_id, target, rows, bytes, status, detail
            from exports.ledger
            where kind = 'export' and run_id = (
                select run_id from exports.ledger where kind = 'export' and as_of = %s
                order by ledger_id desc limit 1)
            order by ledger_id
            """,
            (as_of,),
        ).fetchall()
        resent = conn.execute(
            "select count(*), max(resend_on) from exports.ledger "
            "where kind = 'resend' and as_of = %s and status = 'delivered'",
            (as_of,),
        ).fetchone()
    if not rows:
        return f"exports: no packages recorded for {as_of}"
    ok = [r for r in rows if r[6] == "delivered"]
    bad = [r for r in rows if r[6] != "delivered"]
    lines = [
        f"exports for {as_of} (publication {rows[0][2]}) -> {rows[0][3]}",
        f"{len(ok)} packages delivered to {len({r[0] for r in ok})} departments, {sum(r[4] for r in ok):,} rows, "
        f"{sum(r[5] for r in ok) / 2**20:.1f} MiB; {len(bad)} failed",
        f"{'#':>3} {'scenario':<27} {'depts':>5} {'rows':>11}  name",
    ]
    per: dict[str, list[Any]] = {}
    for r in ok:
        per.setdefault(r[1], []).append(r)
    for s in sorted(cfg.scenarios.values(), key=lambda s: s.number):
        got = per.get(s.id, [])
        lines.append(f"{s.number:>3} {s.id:<27} {len(got):>5} {sum(r[4] for r in got):>11,}  {s.name_zh}")
    for r in bad[:5]:
        lines.append(f"FAILED {r[0]}/{r[1]}: {r[7]}")
    if resent and resent[0]:
        lines.append(f"re-sent on fixed delivery days: {resent[0]} packages (latest on {resent[1]})")
    return "\n".join(lines)
