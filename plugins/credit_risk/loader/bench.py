"""Loader throughput against a raw server-side COPY of the same files, in the same run.

`benchmark_copy(landing)`:
1. creates a scratch database `<warehouse db>_loader_bench` on the warehouse server (dropped
   afterwards unless `keep=True`) and runs `load_landing(landing, workers=...)` into it: everything
   the loader does is timed (discovery, checksums, parsing, validation, HMAC, COPY, quarantine, ledger,
   commit);
2. for every file of every accepted delivery, writes a plain UTF-8 copy the server can read
   (gunzipped, transcoded from GB18030; NOT timed) and times
   `COPY bench_copy.<feed> FROM '<file>' (FORMAT csv, HEADER true, ON_ERROR ignore)` into an
   UNLOGGED table with typed columns (`feeds.PG_TYPES`; `month` as char(7), since `2025-03` is not a
   PostgreSQL date), one file after another in one session: no validation, no hashing, no ledger.

Returns rows/s per feed and overall for both and `ratio` = loader rows/s ÷ raw COPY rows/s (rows =
records in the files, as in the manifests). On a shared machine wall time depends on everybody
else's load, so CPU time is measured too (the loader's processes plus their server backends,
sampled from /proc every 0.2 s while they run; the COPY's backend): `cpu_ratio` = raw COPY CPU
seconds ÷ loader CPU seconds, i.e. rows per CPU-second relative to the COPY. It is `None` when the
server's processes are not visible (an external server).
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from credit_risk import feeds
from credit_risk.loader.manifest import read_manifest
from credit_risk.loader.reader import open_decoded, read_header


def _proc_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a local process, None if it is not visible."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _BackendCpu:
    """Samples the CPU time of every server backend connected to one database."""

    def __init__(self, url: str, dbname: str) -> None:
        self.url, self.dbname = url, dbname
        self.seen: dict[int, float] = {}
        self.visible = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as c:
            me = c.info.backend_pid
            self.visible = _proc_cpu(me) is not None  # the server's processes are on this host
            while self.visible:
                pids = [
                    p
                    for (p,) in c.execute(
                        "select pid from pg_stat_activity where datname = %s and pid <> %s", (self.dbname, me)
                    ).fetchall()
                ]
                for pid in pids:
                    cpu = _proc_cpu(pid)
                    if cpu is not None:  # None: the backend ended in between
                        self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
                if self._stop.wait(0.2):
                    return

    @property
    def seconds(self) -> float | None:
        return sum(self.seen.values()) if self.visible and self.seen else None


def _own_cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _bench_table_ddl(f: feeds.Feed) -> str:
    cols = []
    for c in f.all_columns:
        t = "char(7)" if c.type == feeds.MONTH else c.pg_type
        cols.append(f'"{c.name}" {t}')
    return f"create unlogged table if not exists bench_copy.{f.name} ({', '.join(cols)})"


def _plain_copy(src: Path, encoding: str, dest: Path) -> None:
    stream = open_decoded(src, encoding)
    with open(dest, "wb") as out:
        while chunk := stream.read(1 << 22):
            out.write(chunk)
    stream.close()
    dest.chmod(0o644)


def benchmark_copy(landing: Path, workers: int = 1, keep: bool = False, database: str | None = None) -> dict:
    """Load `landing` with the loader into a scratch database and time a raw server-side COPY of
    the same files there; returns {"loader": …, "raw_copy": …, "ratio": …, "per_feed": …}."""
    from credit_risk import db
    from credit_risk.loader.landing import load_landing

    landing = Path(landing).absolute()
    server = db.server_url()
    name = database or f"{db.warehouse_db()}_loader_bench"
    with psycopg.connect(server.with_db("postgres").url, autocommit=True) as c:
        c.execute(f'drop database if exists "{name}" with (force)')  # type: ignore[arg-type]
        c.execute(f'create database "{name}"')  # type: ignore[arg-type]
    previous = os.environ.get("CREDIT_RISK_WAREHOUSE_DB")
    os.environ["CREDIT_RISK_WAREHOUSE_DB"] = name
    try:
        sampler_url = server.with_db(name).url
        with _BackendCpu(sampler_url, name) as backends:
            t0, cpu0 = time.monotonic(), _own_cpu()
            results = load_landing(landing, workers=workers)
            loader_s, loader_python_cpu = time.monotonic() - t0, _own_cpu() - cpu0
        accepted = [r for r in results if r.status == "accepted"]
        per_feed: dict[str, dict] = {}
        for r in accepted:
            pf = per_feed.setdefault(f"{r.department}/{r.feed}", {"rows": 0, "loader_s": 0.0, "copy_s": 0.0})
            pf["rows"] += r.rows_manifest or 0
            pf["loader_s"] += r.seconds
        copy_s, copy_rows, copy_failed, copy_cpu = _raw_copy(db.warehouse_url().url, accepted, per_feed)
    finally:
        if previous is None:
            os.environ.pop("CREDIT_RISK_WAREHOUSE_DB", None)
        else:
            os.environ["CREDIT_RISK_WAREHOUSE_DB"] = previous
        if not keep:
            with psycopg.connect(server.with_db("postgres").url, autocommit=True) as c:
                c.execute(f'drop database if exists "{name}" with (force)')  # type: ignore[arg-type]
    rows = sum(pf["rows"] for pf in per_feed.values())
    for pf in per_feed.values():
        pf["loader_rows_per_s"] = round(pf["rows"] / pf["loader_s"]) if pf["loader_s"] else None
        pf["copy_rows_per_s"] = round(pf["rows"] / pf["copy_s"]) if pf["copy_s"] else None
        pf["ratio"] = (
            round(pf["loader_rows_per_s"] / pf["copy_rows_per_s"], 3)
            if pf["loader_rows_per_s"] and pf["copy_rows_per_s"]
            else None
        )
        pf["loader_s"] = round(pf["loader_s"], 3)
        pf["copy_s"] = round(pf["copy_s"], 3)
    loader_rps = rows / loader_s if loader_s else 0.0
    copy_rps = copy_rows / copy_s if copy_s else 0.0
    loader_cpu = loader_python_cpu + backends.seconds if backends.seconds is not None else None
    cpu_ratio = round(copy_cpu / loader_cpu, 3) if copy_cpu and loader_cpu and copy_rows == rows else None
    return {
        "landing": str(landing),
        "database": name,
        "workers": workers,
        "deliveries": len(results),
        "accepted": len(accepted),
        "rows": rows,
        "loader": {
            "seconds": round(loader_s, 3),
            "rows_per_s": round(loader_rps),
            "cpu_seconds_python": round(loader_python_cpu, 2),
            "cpu_seconds_server": round(backends.seconds, 2) if backends.seconds is not None else None,
        },
        "raw_copy": {
            "seconds": round(copy_s, 3),
            "rows": copy_rows,
            "rows_per_s": round(copy_rps),
            "failed_files": copy_failed,
            "cpu_seconds_server": round(copy_cpu, 2) if copy_cpu is not None else None,
            "how": "server-side COPY FROM file (FORMAT csv, HEADER, ON_ERROR ignore) into UNLOGGED typed "
            "tables, one session; decompression/transcoding to the temp files not timed",
        },
        "ratio": round(loader_rps / copy_rps, 3) if copy_rps else None,
        "cpu_ratio": cpu_ratio,
        "per_feed": per_feed,
    }


def _raw_copy(url: str, accepted: list, per_feed: dict) -> tuple[float, int, list[str], float | None]:
    tmp = Path(tempfile.mkdtemp(prefix="credit_risk_bench_", dir="/tmp"))
    tmp.chmod(0o755)  # the server runs as another OS user
    total_s, total_rows, failed = 0.0, 0, []
    total_cpu: float | None = 0.0
    try:
        with psycopg.connect(url, autocommit=True) as c:
            backend = c.info.backend_pid
            c.execute("create schema if not exists bench_copy")
            for r in accepted:
                feed = feeds.FEEDS_BY_KEY[f"{r.department}/{r.feed}"]
                c.execute(_bench_table_ddl(feed))  # type: ignore[arg-type]
                folder = Path(r.path)
                manifest = read_manifest(folder)
                for f in manifest.files:
                    src = folder / f.name
                    header, _ = read_header(src, manifest.encoding)
                    for h in header:
                        if h not in {col.name for col in feed.all_columns}:
                            c.execute(
                                f'alter table bench_copy.{feed.name} add column if not exists "{h}" text'
                            )  # type: ignore[arg-type]
                    plain = tmp / "file.csv"
                    _plain_copy(src, manifest.encoding, plain)
                    cols = ", ".join(f'"{h}"' for h in header)
                    sql = (
                        f"copy bench_copy.{feed.name} ({cols}) from '{plain}' "
                        "(format csv, header true, on_error ignore)"
                    )
                    t, cpu = time.monotonic(), _proc_cpu(backend)
                    try:
                        c.execute(sql)  # type: ignore[arg-type]
                    except psycopg.Error:
                        failed.append(str(src))
                        continue
                    finally:
                        plain.unlink(missing_ok=True)
                    dt_s = time.monotonic() - t
                    after = _proc_cpu(backend)
                    if total_cpu is not None and cpu is not None and after is not None:
                        total_cpu += after - cpu
                    else:
                        total_cpu = None
                    total_s += dt_s
                    total_rows += f.rows
                    per_feed[f"{feed.department}/{feed.name}"]["copy_s"] += dt_s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return total_s, total_rows, failed, total_cpu
