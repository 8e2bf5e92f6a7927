"""Runs the generation tasks (two processes), writes the truth files and the state for --extend."""

from __future__ import annotations

import ctypes
import gc
import gzip
import json
import logging
import multiprocessing
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from credit_risk import feeds as contract
from credit_risk.generator import defects as defects_mod
from credit_risk.generator import vec
from credit_risk.generator.context import Context
from credit_risk.generator.events import EventTask
from credit_risk.generator.monthly import MonthlyTask
from credit_risk.generator.params import DEFAULT, SCALES, TYPE_NAMES, Params
from credit_risk.generator.snapshots import SnapshotTask
from credit_risk.generator.writer import DeliveryInfo, Writer

log = logging.getLogger("credit_risk.generator")

# Largest first, so that two processes finish together.
TASKS = ("monthly_returns", "events", "snapshots", "utility_bills", "social_insurance", "loan_performance")
STATE_VERSION = 1
FIXED_FEEDS = ("inspection_items", "inspectors")  # reference data: the same size at every scale

_CTX: Context | None = None  # set before forking: the workers share the population copy-on-write


def release_memory() -> None:
    """Give freed memory back to the OS (Arrow's pool and glibc keep it otherwise): the
    population's build temporaries would else stay in every forked worker's footprint."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def truth_dir(landing: Path) -> Path:
    """Where the generator keeps what the loader must not see: `<landing>.truth` beside the landing root."""
    landing = Path(landing).resolve()
    return landing.parent / (landing.name + ".truth")


def default_processes() -> int:
    """Worker processes (default 2; `CREDIT_RISK_GENERATOR_PROCESSES` overrides, 1 = in-process)."""
    return max(1, int(os.environ.get("CREDIT_RISK_GENERATOR_PROCESSES", "2")))


def _make_task(ctx: Context, name: str, last_month: int) -> Any:
    if name == "events":
        return EventTask(ctx)
    if name == "snapshots":
        return SnapshotTask(ctx, last_month)
    return MonthlyTask(ctx, name)


def _run_task(job: dict[str, Any]) -> dict[str, Any]:
    """Run one task over the given months (in a worker process or in-process)."""
    ctx = _CTX
    assert ctx is not None
    name = job["task"]
    months: list[int] = job["months"]
    t0 = time.monotonic()
    task = _make_task(ctx, name, months[-1])
    state_dir = Path(job["state_dir"]) if job.get("state_dir") else None
    if state_dir is not None and job.get("resume"):
        for feed_name, q in task.queues().items():
            q.load(state_dir / f"{feed_name}.parquet")
    injector = defects_mod.Injector(ctx, job["plan"]) if job.get("plan") else None
    landing = Path(job["landing"]) if job.get("landing") else None
    w = Writer(landing, ctx.scale.part_rows, hook=injector)
    for k, m in enumerate(months):
        task.month(m, w)
        if len(months) > 1 and (k + 1) % 6 == 0:
            log.info("generate %-16s %s (%d/%d months) %9d records, %.0f s", name, vec.month_label(m), k + 1,
                     len(months), sum(w.counts.values()), time.monotonic() - t0)  # fmt: skip
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        for feed_name, q in task.queues().items():
            q.save(state_dir / f"{feed_name}.parquet")
    personal: list[str] = []
    if isinstance(task, EventTask) and task.personal:
        personal = pc.unique(pa.concat_arrays([a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
                                               for a in task.personal])).to_pylist()  # fmt: skip
    if injector is not None:
        personal += injector.personal
    log.info("generate %-16s done: %d records in %.1f s", name, sum(w.counts.values()), time.monotonic() - t0)
    return {
        "task": name,
        "counts": w.counts,
        "deliveries": w.deliveries,
        "defects": w.inserted,
        "personal": personal,
        "samples": w.samples,
        "seconds": time.monotonic() - t0,
    }


def _run_all(ctx: Context, jobs: list[dict[str, Any]], processes: int) -> list[dict[str, Any]]:
    global _CTX
    _CTX = ctx
    try:
        if processes > 1 and len(jobs) > 1 and "fork" in multiprocessing.get_all_start_methods():
            with multiprocessing.get_context("fork").Pool(processes) as pool:
                results = list(pool.imap_unordered(_run_task, jobs))
        else:
            results = [_run_task(j) for j in jobs]
    finally:
        _CTX = None
    order = {t: i for i, t in enumerate(TASKS)}
    return sorted(results, key=lambda r: order[r["task"]])


def _setup_logging() -> None:
    """Progress lines to stderr when nobody configured logging."""
    if not logging.getLogger().handlers and not log.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(h)
        log.setLevel(logging.INFO)


def _prepare(out: Path, truth: Path) -> None:
    """Start from empty folders; only a previous generator output may be replaced."""
    for p in (out, truth):
        if p.exists() and any(p.iterdir()):
            if not (truth / "state.json").exists():
                raise FileExistsError(f"{p} is not empty and was not written by the generator")
    for p in (out, truth):
        if p.exists():
            shutil.rmtree(p)
        p.mkdir(parents=True)


def _write_entities(ctx: Context, truth: Path, last_month: int) -> None:
    """Per-entity truth for calibration: uscc, entity_type, latent_risk, decile (+ context)."""
    e = ctx.ent
    day = vec.day_number(vec.month_end(last_month))
    exited = e.exit <= day
    t = pa.table(
        {
            "uscc": e.uscc,
            "entity_type": vec.pick(TYPE_NAMES, e.etype),
            "latent_risk": pa.array(np.round(e.risk, 6)),
            "decile": pa.array(e.decile.astype(np.int64)),
            "latent_z": pa.array(np.round(e.z, 4)),
            "shell_cluster": pa.array(np.where(e.shell >= 0, e.shell, -1).astype(np.int64)),
            "region_code": vec.fixed_strings(vec.digits(e.region, 6)),
            "established_on": vec.dates(e.est),
            "status_at_last_month": vec.pick(
                ("active", "revoked", "deregistered"), np.where(exited, e.exit_status, 0)
            ),  # fmt: skip
        }
    )
    buf = pa.BufferOutputStream()
    pcsv.write_csv(t, buf, pcsv.WriteOptions(quoting_style="none", quoting_header="none"))
    (truth / "entities.csv.gz").write_bytes(
        gzip.compress(buf.getvalue().to_pybytes(), compresslevel=6, mtime=0)
    )


def _write_personal(ctx: Context, truth: Path, extra: list[str]) -> int:
    """Every clear name, resident ID and phone the landing zone holds, one per line (sorted, unique)."""
    e = ctx.ent
    parts = [e.rep_name.take(pa.array(e.person)), e.rep_id.take(pa.array(e.person)), e.phone.drop_null()]
    old = truth / "personal_data.txt.gz"
    if old.exists():
        parts.append(pa.array(gzip.decompress(old.read_bytes()).decode("utf-8").splitlines(), pa.string()))
    if extra:
        parts.append(pa.array(extra, pa.string()))
    values = pc.unique(pa.concat_arrays([p.cast(pa.string()) for p in parts]))
    values = values.take(pc.sort_indices(values))
    buf = pa.BufferOutputStream()
    try:  # one value per line; personal values never hold a comma, quote or line break
        pcsv.write_csv(
            pa.table({"v": values}), buf, pcsv.WriteOptions(include_header=False, quoting_style="none")
        )
        data = buf.getvalue().to_pybytes()
    except pa.ArrowInvalid:
        data = ("\n".join(values.to_pylist()) + "\n").encode("utf-8")
    old.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
    return len(values)


def _summary(results: list[dict[str, Any]], t0: float, **extra: Any) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r["counts"].items():
            counts[k] = counts.get(k, 0) + v
    records = {f.name: counts.get(f.name, 0) for f in contract.FEEDS}
    deliveries = sum(len(r["deliveries"]) for r in results)
    return {"records": records, "total": sum(records.values()), "deliveries": deliveries,
            "seconds": round(time.monotonic() - t0, 1), **extra}  # fmt: skip


def generate(
    out: Path,
    scale: str,
    seed: int,
    through: str = "2025-06",
    defects: bool = False,
    *,
    processes: int | None = None,
    params: Params = DEFAULT,
) -> dict[str, Any]:
    """Write a synthetic landing zone of 36 months ending at `through` (YYYY-MM) into `out`.

    Truth files and the state for `extend` go to `<out>.truth` (outside the landing root).
    Returns a summary: records per feed, total, deliveries, seconds.
    """
    processes = processes or default_processes()
    _setup_logging()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; one of {sorted(SCALES)}")
    t0 = time.monotonic()
    out = Path(out)
    truth = truth_dir(out)
    _prepare(out, truth)
    anchor = vec.month_index(through)
    ctx = Context.build(scale, seed, anchor, params)
    release_memory()
    months = list(range(ctx.first_month, anchor + 1))
    the_plan = defects_mod.plan(ctx, months, params.defects) if defects else None
    jobs = [
        {
            "task": t,
            "months": months,
            "landing": str(out),
            "state_dir": str(truth / "state" / t),
            "plan": the_plan,
        }
        for t in TASKS
    ]
    log.info("generate %s scale (%d entities), seed %d, %s … %s into %s", scale, ctx.ent.n, seed,
             vec.month_label(months[0]), vec.month_label(months[-1]), out)  # fmt: skip
    results = _run_all(ctx, jobs, processes)
    ledger: list[dict[str, Any]] = []
    personal: list[str] = []
    for r in results:
        personal += r["personal"]
    if defects:
        for r in results:
            ledger += r["defects"]
        samples: dict[str, pa.Table] = {}
        regular: list[DeliveryInfo] = []
        for r in results:
            samples.update(r["samples"])
            regular += r["deliveries"]
        ledger += defects_mod.deliveries(ctx, out, truth, months, samples, regular)
        for i, entry in enumerate(ledger):
            entry["id"] = i + 1
        (truth / "defects.json").write_text(
            json.dumps(ledger, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    _write_entities(ctx, truth, anchor)
    n_personal = _write_personal(ctx, truth, personal)
    state = {"version": STATE_VERSION, "scale": scale, "seed": seed, "through": through,
             "last_month": vec.month_label(months[-1]), "defects": defects}  # fmt: skip
    (truth / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    summary = _summary(results, t0, landing=str(out), truth=str(truth), defects=len(ledger),
                       personal_values=n_personal)  # fmt: skip
    log.info("generate: %d records in %d deliveries, %.1f s", summary["total"], summary["deliveries"],
             summary["seconds"])  # fmt: skip
    return summary


def extend(landing: Path, *, processes: int | None = None, params: Params = DEFAULT) -> dict[str, Any]:
    """Add the next month's deliveries to a generated landing zone (deterministically)."""
    processes = processes or default_processes()
    _setup_logging()
    t0 = time.monotonic()
    landing = Path(landing)
    truth = truth_dir(landing)
    state_file = truth / "state.json"
    if not state_file.exists():
        raise FileNotFoundError(
            f"{state_file} not found: {landing} was not written by `credit-risk generate`"
        )
    state = json.loads(state_file.read_text(encoding="utf-8"))
    month = vec.month_index(state["last_month"]) + 1
    ctx = Context.build(state["scale"], int(state["seed"]), vec.month_index(state["through"]), params)
    release_memory()
    jobs = [
        {"task": t, "months": [month], "landing": str(landing), "state_dir": str(truth / "state" / t),
         "plan": None, "resume": True}
        for t in TASKS
    ]  # fmt: skip
    log.info("extend %s with %s", landing, vec.month_label(month))
    results = _run_all(ctx, jobs, processes)
    personal: list[str] = []
    for r in results:
        personal += r["personal"]
    _write_personal(ctx, truth, personal)
    state["last_month"] = vec.month_label(month)
    state_file.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    return _summary(results, t0, landing=str(landing), month=vec.month_label(month))


def estimate(scale: str, *, seed: int = 1, through: str = "2025-06", basis: str = "medium",
             params: Params = DEFAULT) -> dict[str, Any]:  # fmt: skip
    """Expected records per feed at `scale`, without writing files.

    Simulates the generator at `basis` scale (or `scale` if smaller) in memory and scales
    the entity-proportional feeds by the ratio of entity counts; reference feeds
    (inspection items, inspectors) do not scale.
    """
    order = list(SCALES)
    sim = scale if order.index(scale) <= order.index(basis) else basis
    t0 = time.monotonic()
    anchor = vec.month_index(through)
    ctx = Context.build(sim, seed, anchor, params)
    months = list(range(ctx.first_month, anchor + 1))
    jobs = [{"task": t, "months": months, "landing": None, "state_dir": None, "plan": None} for t in TASKS]
    results = _run_all(ctx, jobs, 1)
    factor = SCALES[scale].entities / SCALES[sim].entities
    summary = _summary(results, t0)
    records = {k: (v if k in FIXED_FEEDS else round(v * factor)) for k, v in summary["records"].items()}
    monthly = sum(records[f] for f in contract.MONTHLY_FEEDS)
    return {"scale": scale, "simulated_at": sim, "records": records, "total": sum(records.values()),
            "monthly_share": round(monthly / max(1, sum(records.values())), 4), "seconds": summary["seconds"]}  # fmt: skip


__all__ = ["generate", "extend", "estimate", "truth_dir"]
