"""Run suites with Great Expectations Core 1.x against the warehouse and build Data Docs.

One ephemeral GX context per gate run: a SQL data source on the warehouse URL (`add_sql`,
which takes any SQLAlchemy URL, socket form included), one query asset + whole-table batch
definition + expectation suite + validation definition per suite, and one checkpoint whose
data-docs action writes the run's HTML under `<home>/gx/data_docs/<as_of>/<run_id>/<gate>/`.

The data source materialises each query asset once into a temporary table
(`create_temp_table=True`), so every expectation of a suite reads the few aggregate rows,
and the aggregate query itself (the only scan of the big tables) runs once.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any, Literal

from credit_risk import config, db
from credit_risk.gates.report import GateReport, json_safe
from credit_risk.gates.suites import SUBJECT, SuiteSpec

log = logging.getLogger(__name__)

SITE = "run"
_DATASOURCE = "warehouse"


def gx_module() -> Any:
    """`great_expectations`, imported on first use (heavy; keeps DAG parsing fast)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
    return gx


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"


def data_docs_dir(as_of: dt.date, run_id: str, gate: str) -> Path:
    """Folder of one gate run's Data Docs site."""
    return config.home() / "gx" / "data_docs" / as_of.isoformat() / _safe(run_id) / gate


@functools.cache
def _docs_action_class() -> type:
    """An UpdateDataDocsAction that renders the site once per checkpoint run.

    GX's own action rebuilds the site (index included) once per validation result, which
    is quadratic in the number of suites (21 raw suites: ~12 s instead of ~1 s). Defined
    once per process: GX registers action classes by their `type`.
    """
    gx_module()
    from great_expectations.checkpoint.actions import UpdateDataDocsAction
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    class UpdateDataDocsOnce(UpdateDataDocsAction):
        type: Literal["update_data_docs_once"] = "update_data_docs_once"  # type: ignore[assignment]

        def run(self, checkpoint_result, action_context=None) -> dict:  # type: ignore[override]
            identifiers: list[Any] = []
            for result_id, result in checkpoint_result.run_results.items():
                identifiers += [result_id, ExpectationSuiteIdentifier(name=result.suite_name)]
            self._build_data_docs(site_names=self.site_names, resource_identifiers=identifiers)
            return {}

    return UpdateDataDocsOnce


def _threshold(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"min": kwargs.get("min_value"), "max": kwargs.get("max_value")}


def _observed(result: dict[str, Any]) -> Any:
    if "observed_value" in result:
        return result["observed_value"]
    if "unexpected_count" in result:
        bad = result.get("unexpected_index_list") or result.get("partial_unexpected_list") or []
        if not bad:
            return f"all {result.get('element_count', 0)} rows within bounds"
        return bad
    return None


def _expectation_result(suite: str, er: Any) -> dict[str, Any]:
    cfg = er.expectation_config
    kwargs = dict(cfg.kwargs)
    info = er.exception_info or {}
    raised = bool(info.get("raised_exception")) if isinstance(info, dict) else False
    out = {
        "suite": suite,
        "expectation": cfg.type,
        "column": kwargs.get("column"),
        "description": cfg.description,
        "success": bool(er.success) and not raised,
        "observed": json_safe(_observed(dict(er.result or {}))),
        "threshold": json_safe(_threshold(kwargs)),
    }
    if raised:
        out["observed"] = "error: " + str(info.get("exception_message"))[:500]
    return out


def _precheck(specs: list[SuiteSpec]) -> dict[str, str]:
    """Suites whose query PostgreSQL cannot even plan (a missing table or column).

    Such a suite would make the whole checkpoint raise; it is reported as a failure of its
    own instead, and the other suites still run.
    """
    bad: dict[str, str] = {}
    with db.connect(autocommit=True) as conn:
        for spec in specs:
            try:
                conn.execute("explain " + wrap(spec))  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001 - any planning error fails this suite
                bad[spec.name] = str(e).strip().splitlines()[0]
    return bad


def wrap(spec: SuiteSpec) -> str:
    """The asset query: GX requires it to begin with SELECT."""
    return (
        f"select * from (\n{spec.query.strip()}\n) as {_safe(spec.name).replace('.', '_').replace('-', '_')}"
    )


def run_suites(
    gate: str, as_of: dt.date, run_id: str, specs: list[SuiteSpec], meta: dict[str, Any] | None = None
) -> GateReport:
    """Validate `specs` in one checkpoint; the report lists every expectation's outcome."""
    started = time.monotonic()
    meta = dict(meta or {})
    results: list[dict[str, Any]] = []
    broken = _precheck(specs)
    for name, err in broken.items():
        results.append(
            {
                "suite": name,
                "expectation": "query_runs",
                "column": None,
                "description": "the suite's aggregate query runs",
                "success": False,
                "observed": "error: " + err,
                "threshold": {"min": None, "max": None},
            }
        )
    runnable = [s for s in specs if s.name not in broken]
    docs_dir = data_docs_dir(as_of, run_id, gate)
    docs_index: str | None = None
    if runnable:
        try:
            results += _run_gx(gate, run_id, runnable, docs_dir)
            index = docs_dir / "index.html"
            docs_index = str(index) if index.exists() else None
        except Exception as e:  # noqa: BLE001 - a gate that cannot run must fail, not crash the DAG
            log.exception("gate %s could not run", gate)
            meta["error"] = f"{type(e).__name__}: {e}"
            results.append(
                {
                    "suite": gate,
                    "expectation": "gate_runs",
                    "column": None,
                    "description": "Great Expectations ran the gate's suites",
                    "success": False,
                    "observed": "error: " + meta["error"][:500],
                    "threshold": {"min": None, "max": None},
                }
            )
    meta["suites"] = [s.name for s in specs]
    report = GateReport(
        name=gate,
        as_of=as_of,
        run_id=run_id,
        success=bool(results) and all(r["success"] for r in results),
        results=results,
        data_docs=docs_index,
        seconds=round(time.monotonic() - started, 3),
        meta=json_safe(meta),
    )
    if docs_index:
        log.info("GX Data Docs for the %s gate of %s: %s", gate, as_of, docs_index)
    return report


def _run_gx(gate: str, run_id: str, specs: list[SuiteSpec], docs_dir: Path) -> list[dict[str, Any]]:
    gx = gx_module()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    docs_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # "a more specific PostgresDatasource may be more appropriate": add_postgres rejects
        # the socket-form URLs the embedded server uses (STYLE.md), so add_sql it is.
        warnings.simplefilter("ignore")
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        source = context.data_sources.add_sql(
            _DATASOURCE, connection_string=db.warehouse_url().sqlalchemy("psycopg2"), create_temp_table=True
        )
        definitions = []
        for spec in specs:
            asset = source.add_query_asset(name=spec.name, query=wrap(spec))
            batch = asset.add_batch_definition_whole_table("aggregates")
            suite = context.suites.add(
                gx.ExpectationSuite(
                    name=spec.name,
                    expectations=spec.expectations,
                    meta={"notes": spec.description, "gate": gate},
                )
            )
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(name=spec.name, data=batch, suite=suite)
                )
            )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{gate}_gate",
                validation_definitions=definitions,
                actions=[_docs_action_class()(name="update_data_docs", site_names=[SITE])],
                result_format={
                    "result_format": "COMPLETE",
                    "unexpected_index_column_names": [SUBJECT],
                    "partial_unexpected_count": 20,
                },
            )
        )
        try:
            outcome = checkpoint.run(run_id=RunIdentifier(run_name=run_id, run_time=dt.datetime.now(dt.UTC)))
        finally:
            source.get_engine().dispose()  # drop the temp tables' connections now
    results: list[dict[str, Any]] = []
    for validation in outcome.run_results.values():
        for er in validation.results:
            results.append(_expectation_result(validation.suite_name, er))
    return results
