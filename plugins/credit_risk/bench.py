"""`make bench SCALE=medium|full`: the end-to-end benchmark.

generate → ingest → build (dbt) → gates → publish → supervision → exports for one as_of, then one
more month of deliveries (`generate --extend`) and the second as_of (the incremental case).
Each stage runs as its own process (the real `credit-risk` commands), timed, with the peak RSS of
its largest process sampled. Baselines measured in the same run on the same data:

* raw server-side `COPY` of the same files into UNLOGGED typed tables (files decompressed and
  transcoded to UTF-8 beforehand, outside the timing);
* `SELECT uscc, count(*) FROM raw.<feed> GROUP BY uscc` over every raw feed (the dbt floor).

Results: `benchmarks/results/<scale>.json` (machine, date, commit) and the matching section of
`BENCHMARKS.md`, with a PNG chart of stage times.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from credit_risk import config, db
from credit_risk.feeds import FEEDS_BY_NAME

FIRST_AS_OF = dt.date(2025, 5, 31)
# the landing zone both benchmarks generate: seed and last delivered month (FIRST_AS_OF's)
LANDING_SEED, LANDING_THROUGH = 1, "2025-05"
SECOND_AS_OF = dt.date(2025, 6, 30)
RESULTS_DIR = config.PROJECT_ROOT / "benchmarks" / "results"


class PeakRss:
    """Samples the RSS of a process tree; keeps the largest single process and the tree sum."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval = pid, interval
        self.max_single = 0
        self.max_tree = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss)
                    except psutil.NoSuchProcess:
                        pass
                if rss:
                    self.max_single = max(self.max_single, max(rss))
                    self.max_tree = max(self.max_tree, sum(rss))
            except psutil.NoSuchProcess:
                return
            time.sleep(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def run_stage(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> dict:
    """Run one `credit-risk` command as a child process; wall time and peak RSS."""
    log = log_dir / f"{name}.log"
    t0 = time.monotonic()
    with open(log, "w") as out:
        p = subprocess.Popen(
            [sys.executable, "-m", "credit_risk.cli", *args], env=env, stdout=out, stderr=out
        )
        with PeakRss(p.pid) as rss:
            rc = p.wait()
    seconds = time.monotonic() - t0
    text = log.read_text(errors="replace")
    print(f"  {name:<24} rc={rc} {seconds:8.1f} s  peak RSS {rss.max_single / 2**20:7.0f} MiB", flush=True)
    dag_seconds = {
        m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+)\s+\w+\s+\w+\s+([\d.]+)s$", text, re.M)
    }
    return {
        "stage": name,
        "returncode": rc,
        "seconds": round(seconds, 2),
        "dag_seconds": dag_seconds,
        "peak_rss_mib": round(rss.max_single / 2**20),
        "peak_tree_rss_mib": round(rss.max_tree / 2**20),
        "log": str(log),
    }


def _landing_rows(landing: Path) -> dict[str, int]:
    rows: dict[str, int] = {}
    for m in landing.rglob("_manifest.json"):
        try:
            meta = json.loads(m.read_text())
        except ValueError:
            continue
        rows[meta["feed"]] = rows.get(meta["feed"], 0) + sum(f["rows"] for f in meta["files"])
    return rows


def _copy_type(feed_name: str, column: str) -> str:
    c = FEEDS_BY_NAME[feed_name].column(column)
    if c.personal or c.type in ("month", "id_no"):
        return "text"
    return c.pg_type


def raw_copy_baseline(landing: Path, tmp: Path) -> dict:
    """Server-side COPY of every delivered file into an UNLOGGED typed table per feed."""
    tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o755)
    prepared: list[tuple[str, Path, list[str]]] = []
    for m in sorted(landing.rglob("_manifest.json")):
        meta = json.loads(m.read_text())
        if meta["feed"] not in FEEDS_BY_NAME:
            continue
        enc = "gb18030" if meta.get("encoding", "UTF-8").upper() == "GB18030" else "utf-8-sig"
        for f in meta["files"]:
            src = m.parent / f["name"]
            dst = tmp / f"{meta['department']}_{meta['feed']}_{m.parent.name}_{f['name']}".replace(".gz", "")
            opener = gzip.open if src.suffix == ".gz" else open
            with opener(src, "rb") as fh:
                data = fh.read().decode(enc)
            dst.write_text(data, encoding="utf-8")
            os.chmod(dst, 0o644)
            header = data.split("\n", 1)[0].strip("\r").split(",")
            prepared.append((meta["feed"], dst, header))
    rows_total = 0
    per_feed: dict[str, dict] = {}
    t_all = 0.0
    with db.connect(autocommit=True) as conn:
        conn.execute("create schema if not exists bench")
        for feed, path, header in prepared:
            table = f"bench.copy_{feed}_{abs(hash(tuple(header))) % 10**6}"
            cols = ", ".join(f'"{c}" {_copy_type(feed, c)}' for c in header)
            conn.execute(f"create unlogged table if not exists {table} ({cols})")
            t0 = time.monotonic()
            cur = conn.execute(f"copy {table} from '{path}' (format csv, header true)")
            dt_ = time.monotonic() - t0
            n = cur.rowcount
            rows_total += n
            t_all += dt_
            pf = per_feed.setdefault(feed, {"rows": 0, "seconds": 0.0})
            pf["rows"] += n
            pf["seconds"] += dt_
        conn.execute("drop schema bench cascade")
    shutil.rmtree(tmp, ignore_errors=True)
    for pf in per_feed.values():
        pf["rows_per_s"] = round(pf["rows"] / pf["seconds"]) if pf["seconds"] else None
        pf["seconds"] = round(pf["seconds"], 2)
    return {
        "rows": rows_total,
        "seconds": round(t_all, 2),
        "rows_per_s": round(rows_total / t_all) if t_all else None,
        "per_feed": per_feed,
    }


def group_by_floor() -> dict:
    """`SELECT uscc, count(*) FROM raw.<feed> GROUP BY uscc` over every raw feed with uscc."""
    out: dict[str, float] = {}
    with db.connect(autocommit=True) as conn:
        for name, f in FEEDS_BY_NAME.items():
            if "uscc" not in [c.name for c in f.all_columns]:
                continue
            t0 = time.monotonic()
            conn.execute(
                f"select count(*) from (select uscc, count(*) from raw.{name} group by uscc) g"
            ).fetchone()
            out[name] = round(time.monotonic() - t0, 2)
    return {"seconds": round(sum(out.values()), 2), "per_feed": out}


# The pipeline stages of `credit-risk run`; each benchmark stage runs one of them alone.
PIPELINE_STAGES = ("ingest", "build", "supervision", "exports")


def run_only(stage: str) -> list[str]:
    """`credit-risk run` arguments that skip every pipeline stage but `stage`."""
    return [arg for other in PIPELINE_STAGES if other != stage for arg in ("--skip", other)]


# benchmark stage kinds that `rerun` can repeat on a finished run -> their pipeline stage
RERUNNABLE = {"build_publish": "build", "supervision": "supervision", "exports": "exports"}


def _bench_env(scale: str, base: Path) -> dict[str, str]:
    """Point this process and the stage processes at the benchmark's warehouse and export root."""
    os.environ.setdefault("CREDIT_RISK_DEMO", "1")
    os.environ["CREDIT_RISK_WAREHOUSE_DB"] = f"bench_{scale}"
    return {**os.environ, "CREDIT_RISK_EXPORT_ROOT": str(base / "exports")}


def main(scale: str = "medium", keep: bool = False, landing_in: Path | None = None) -> int:
    """Run the benchmark; `landing_in`: reuse a landing zone generated beforehand (through
    2025-05, seed 1, same scale) instead of generating one (its generation is then measured
    separately and recorded by hand)."""
    base = config.home() / "bench" / scale
    landing = landing_in.resolve() if landing_in else base / "landing"
    log_dir = base / "logs"
    if base.exists():
        shutil.rmtree(base)
    log_dir.mkdir(parents=True)
    env = _bench_env(scale, base)
    db.start(quiet=True)
    with db.connect(url=db.server_url().with_db("postgres").url, autocommit=True) as c:
        c.execute(f'drop database if exists "bench_{scale}" with (force)')
        c.execute(f'create database "bench_{scale}"')
    print(f"benchmark at scale {scale}: {base}")
    stages: list[dict] = []
    la = str(landing)
    partial: dict = {"baselines": {}}

    def stage(name, *args):
        r = run_stage(name, list(args), env, log_dir)
        stages.append(r)
        # record as we go: a long run that is stopped still leaves its figures
        write_partial(scale, stages, partial)
        return r

    if landing_in is None:
        stage(
            "generate",
            "generate",
            "--out",
            la,
            "--scale",
            scale,
            "--seed",
            str(LANDING_SEED),
            "--through",
            LANDING_THROUGH,
        )
    rows_first = _landing_rows(landing)
    partial["records_first"] = sum(rows_first.values())
    a1, a2 = FIRST_AS_OF.isoformat(), SECOND_AS_OF.isoformat()
    stage("ingest_1", "run", "--landing", la, "--as-of", a1, *run_only("ingest"))
    stage("build_publish_1", "run", "--landing", la, "--as-of", a1, *run_only("build"))
    print("  baselines …", flush=True)
    partial["baselines"]["group_by_floor"] = floor = group_by_floor()
    write_partial(scale, stages, partial)
    partial["baselines"]["raw_copy"] = copy = raw_copy_baseline(
        landing, Path("/tmp") / f"credit-risk-bench-{scale}"
    )
    write_partial(scale, stages, partial)
    stage("supervision_1", "run", "--landing", la, "--as-of", a1, *run_only("supervision"))
    stage("exports_1", "run", "--landing", la, "--as-of", a1, *run_only("exports"))
    stages[-1]["export_bytes"] = _dir_bytes(base / "exports")
    shutil.rmtree(base / "exports", ignore_errors=True)
    stage("generate_extend", "generate", "--extend", la)
    rows_all = _landing_rows(landing)
    # 30 June switches the annual-report year (indicators.md "Time"): class shares move by about
    # 3 points, which the drift gate blocks unless approved — approve it, as a regulator would.
    stage(
        "approve_drift_2", "approve", "--as-of", a2, "--reason", "report-year switch on 30 June (benchmark)"
    )
    stage("ingest_2", "run", "--landing", la, "--as-of", a2, *run_only("ingest"))
    stage("build_publish_2", "run", "--landing", la, "--as-of", a2, *run_only("build"))
    stage("supervision_2", "run", "--landing", la, "--as-of", a2, *run_only("supervision"))
    stage("exports_2", "run", "--landing", la, "--as-of", a2, *run_only("exports"))
    stages[-1]["export_bytes"] = _dir_bytes(base / "exports")
    shutil.rmtree(base / "exports", ignore_errors=True)
    result = assemble(scale, stages, rows_first, rows_all, floor, copy)
    write_results(scale, result)
    if not keep and landing_in is None:
        shutil.rmtree(landing, ignore_errors=True)
    failed = [s["stage"] for s in stages if s["returncode"] != 0]
    if failed:
        print(f"stages failed: {failed} (logs in {log_dir})")
    return 1 if failed else 0


def write_partial(scale: str, stages: list[dict], partial: dict) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "scale": scale,
        "partial": True,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        **partial,
        "stages": stages,
    }
    (RESULTS_DIR / f"{scale}.partial.json").write_text(json.dumps(doc, indent=2) + "\n")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=config.PROJECT_ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"


def assemble(scale, stages, rows_first, rows_all, floor, copy) -> dict:
    by = {s["stage"]: s for s in stages}
    first_rows = sum(rows_first.values())
    ingest1 = by["ingest_1"]
    ingest_dag = ingest1["dag_seconds"].get("ingest", ingest1["seconds"])
    # first as_of end to end (an older run without supervision_1/exports_1 used the second's)
    down = [by.get(f"{k}_1", by.get(f"{k}_2")) for k in ("supervision", "exports")]
    e2e_first = (
        by["ingest_1"]["seconds"] + by["build_publish_1"]["seconds"] + sum(d["seconds"] for d in down if d)
    )
    e2e_second = sum(by[s]["seconds"] for s in ("ingest_2", "build_publish_2", "supervision_2", "exports_2"))
    build1 = by["build_publish_1"]
    return {
        "scale": scale,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": _machine(),
        "records_first": first_rows,
        "records_total": sum(rows_all.values()),
        "records_per_feed": rows_all,
        "stages": stages,
        "baselines": {"raw_copy": copy, "group_by_floor": floor},
        "headline": {
            "generation_seconds": by["generate"]["seconds"] if "generate" in by else None,
            "generation_records_per_s": round(first_rows / by["generate"]["seconds"])
            if "generate" in by
            else None,
            "ingest_rows_per_s": round(first_rows / ingest_dag),
            "raw_copy_rows_per_s": copy["rows_per_s"],
            "ingest_vs_raw_copy": round((first_rows / ingest_dag) / copy["rows_per_s"], 3)
            if copy["rows_per_s"]
            else None,
            "build_publish_seconds": build1["seconds"],
            "group_by_floor_seconds": floor["seconds"],
            "build_vs_floor": round(build1["seconds"] / floor["seconds"], 2) if floor["seconds"] else None,
            "end_to_end_first_seconds": round(e2e_first, 1),
            "end_to_end_second_seconds": round(e2e_second, 1),
            "second_vs_first": round(e2e_second / e2e_first, 3) if e2e_first else None,
            "max_task_rss_mib": max(
                s["peak_rss_mib"] for s in stages if s["stage"] not in ("generate", "generate_extend")
            ),
        },
    }


def _machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgres": _pg_version(),
    }


def _pg_version() -> str:
    try:
        with db.connect(autocommit=True) as c:
            return str(c.execute("show server_version").fetchone()[0])  # type: ignore[index]
    except Exception:
        return "unknown"


def write_results(scale: str, result: dict) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{scale}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    chart = RESULTS_DIR / f"{scale}-stages.png"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [s["stage"] for s in result["stages"]]
        secs = [s["seconds"] for s in result["stages"]]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ax.barh(names[::-1], secs[::-1], color="#3b6ea5")
        ax.set_xlabel("wall time (s)")
        ax.set_title(f"credit-risk benchmark, scale {scale}: {result['records_total']:,} records")
        for i, v in enumerate(secs[::-1]):
            ax.text(v, i, f" {v:.0f}s", va="center", fontsize=8)
        fig.tight_layout()
        fig.savefig(chart, dpi=110, metadata={"Software": None})
        plt.close(fig)
    except Exception as e:  # the chart is a convenience; the JSON is the record
        print(f"chart not written: {e}")
    h = result["headline"]
    print(json.dumps(h, indent=2))
    print(f"results: {path}\nchart:   {chart}")


def rerun(scale: str, names: list[str], landing_in: Path | None = None) -> int:
    """Re-run named stages of a finished benchmark (e.g. after a stage was disturbed) and
    re-assemble its results file; the record says which stages were re-run."""
    path = RESULTS_DIR / f"{scale}.json"
    result = json.loads(path.read_text())
    base = config.home() / "bench" / scale
    landing = landing_in.resolve() if landing_in else base / "landing"
    env = _bench_env(scale, base)
    as_of = {"1": FIRST_AS_OF.isoformat(), "2": SECOND_AS_OF.isoformat()}
    stages = result["stages"]
    for name in names:
        kind, n = name.rsplit("_", 1)
        only = run_only(RERUNNABLE[kind])
        r = run_stage(
            name, ["run", "--landing", str(landing), "--as-of", as_of[n], *only], env, base / "logs"
        )
        r["rerun"] = True
        if kind == "exports":
            r["export_bytes"] = _dir_bytes(base / "exports")
            shutil.rmtree(base / "exports", ignore_errors=True)
        stages = [r if s["stage"] == name else s for s in stages]
        # write after every stage: a long re-run that is stopped still leaves its figures
        new = assemble(
            scale,
            stages,
            {"_": result["records_first"]},
            result["records_per_feed"],
            result["baselines"]["group_by_floor"],
            result["baselines"]["raw_copy"],
        )
        new["reruns"] = sorted(set(result.get("reruns", [])) | {name})
        result = {**result, **new}
        write_results(scale, new)
    return 0 if all(s["returncode"] == 0 for s in stages) else 1


def loader(
    scale: str = "medium",
    workers: tuple[int, ...] = (1, 2),
    landing_in: Path | None = None,
    results_dir: Path | None = None,
) -> int:
    """`make bench-loader SCALE=…`: the loader alone, with 1 and with 2 worker processes, each
    against a raw server-side `COPY` of the same files measured right after it (same run, same
    server; `loader.bench.benchmark_copy`). Two workers is what the ingestion DAG does under a
    real executor: its `load_feed` tasks run two feeds at a time (`max_active_tis_per_dagrun=2`),
    while `credit-risk run` (`dag.test()`) runs them one after another — the figure of the
    end-to-end benchmark. Results: `benchmarks/results/<scale>-loader.json`."""
    from credit_risk.loader.bench import benchmark_copy

    base = config.home() / "bench" / f"{scale}-loader"
    landing = landing_in.resolve() if landing_in else base / "landing"
    os.environ.setdefault("CREDIT_RISK_DEMO", "1")  # generated data: the local demo key hashes it
    db.start(quiet=True)
    generated = None
    if landing_in is None:
        if base.exists():
            shutil.rmtree(base)
        base.mkdir(parents=True)
        from credit_risk import generator

        t = time.monotonic()
        generator.generate(landing, scale=scale, seed=LANDING_SEED, through=LANDING_THROUGH)
        generated = round(time.monotonic() - t, 2)
    runs = []
    for w in workers:
        print(f"loader with {w} worker process(es) …", flush=True)
        r = benchmark_copy(landing, workers=w, database=f"bench_loader_{scale}")
        del r["per_feed"], r["landing"], r["database"]
        runs.append(r)
        print(
            f"  {r['rows']:,} rows in {r['loader']['seconds']:.1f} s = {r['loader']['rows_per_s']:,} rows/s;"
            f" raw COPY {r['raw_copy']['rows_per_s']:,} rows/s; ratio {r['ratio']}",
            flush=True,
        )
    one = next((r for r in runs if r["workers"] == 1), None)
    result = {
        "scale": scale,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": _machine(),
        "generation_seconds": generated,
        "runs": runs,
        "speedup_vs_one_worker": {
            str(r["workers"]): round(one["loader"]["seconds"] / r["loader"]["seconds"], 2)
            for r in runs
            if one and r["loader"]["seconds"]
        },
    }
    out_dir = results_dir or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{scale}-loader.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {path}")
    if landing_in is None:
        shutil.rmtree(base, ignore_errors=True)
    bad = [
        r["workers"] for r in runs if r["accepted"] != r["deliveries"] or r["raw_copy"]["rows"] != r["rows"]
    ]
    if bad:
        print(f"runs with rejected deliveries or a raw COPY that did not take every row: workers {bad}")
    return 1 if bad else 0
