"""`credit-risk bench --loader`: the loader with one and with two worker processes, each against a
raw server-side COPY of the same files, on a real (tiny) generated landing zone and the test server.
The figures themselves are machine-dependent; what is checked is that every run loaded every row
the manifests announce, that the baseline copied the same rows, and that the record says where
and when it was measured."""

from __future__ import annotations

import json

import psycopg

from credit_risk import bench, db, generator


def test_loader_bench_measures_each_worker_count_against_raw_copy(pg_server, tmp_path):
    landing = tmp_path / "landing"
    generator.generate(landing, scale="tiny", seed=7, through="2025-05")
    manifest_rows = sum(bench._landing_rows(landing).values())

    assert bench.loader("tiny", (1, 2), landing_in=landing, results_dir=tmp_path / "results") == 0

    doc = json.loads((tmp_path / "results" / "tiny-loader.json").read_text())
    assert doc["machine"]["cpus"] and doc["machine"]["postgres"] != "unknown" and doc["commit"]
    assert [r["workers"] for r in doc["runs"]] == [1, 2]
    for r in doc["runs"]:
        assert r["rows"] == manifest_rows and r["raw_copy"]["rows"] == manifest_rows
        assert r["accepted"] == r["deliveries"] > 0 and r["raw_copy"]["failed_files"] == []
        assert r["loader"]["seconds"] > 0 and r["raw_copy"]["seconds"] > 0
        assert r["ratio"] == round(r["loader"]["rows_per_s"] / r["raw_copy"]["rows_per_s"], 3)
    assert doc["speedup_vs_one_worker"]["1"] == 1.0 and doc["speedup_vs_one_worker"]["2"] > 0
    # the scratch database is gone afterwards
    with psycopg.connect(db.server_url().with_db("postgres").url) as c:
        assert c.execute("select 1 from pg_database where datname = 'bench_loader_tiny'").fetchone() is None
