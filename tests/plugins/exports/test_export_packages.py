"""Export packages against a real PostgreSQL: entitlements, manifests, atomicity, determinism."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from export_fixtures import AS_OF, BLOCKED_AS_OF, OLD_AS_OF, OLD_PUB, PUB, SPECIAL_NAMES, Warehouse, uscc

from credit_risk import exports
from credit_risk.exports import run, writer
from credit_risk.exports.entitlements import Consumer, Scenario
from credit_risk.exports.target import MANIFEST

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ------------------------------------------------------------------------------ the oracle


def read_csv(path: Path, encoding: str) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    if encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf"), f"{path}: no byte-order mark"
    else:
        assert not raw.startswith(b"\xef\xbb\xbf"), f"{path}: unexpected byte-order mark"
    text = raw.decode(encoding)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def expected_rows(
    wh: Warehouse, consumer: Consumer, scenario: Scenario, table: str, as_of, pub
) -> list[dict]:
    """The rows a consumer is entitled to, computed from the fixture data, not by the exporter."""
    grades = set(scenario.grades) & set(consumer.filters.grades or scenario.grades)
    prefixes = consumer.filters.region_prefixes

    def in_scope(e):
        return (
            e["as_of"] == as_of
            and e["publication_id"] == pub
            and e["credit_grade"] in grades
            and (prefixes is None or any(e["region_code"].startswith(p) for p in prefixes))
        )

    population = [e for e in wh.evaluations if in_scope(e)]
    if table == "credit_evaluations":
        rows = population
    else:
        codes = {e["uscc"] for e in population}
        source = wh.classifications if table == "risk_classifications" else wh.indicators
        rows = [
            r for r in source if r["uscc"] in codes and r["as_of"] == as_of and r["publication_id"] == pub
        ]
        if consumer.filters.entity_types:
            rows = [r for r in rows if r["entity_type"] in consumer.filters.entity_types]
        if consumer.filters.risk_classes and table == "risk_classifications":
            rows = [r for r in rows if r["risk_class"] in consumer.filters.risk_classes]
    return sorted(rows, key=lambda r: r["uscc"])


def csv_value(row: dict, col: str, wh: Warehouse, scenario: Scenario, spreadsheet: bool) -> str:
    if col == "entity_name":
        v = wh.names.get(row["uscc"], "")
        return "'" + v if spreadsheet and v.startswith(FORMULA_START) else v
    if col in ("treatment_zh", "treatment_en"):
        t = scenario.treatments[row["credit_grade"]]
        return t.zh if col == "treatment_zh" else t.en
    v = row[col]
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(v)
    if isinstance(v, Decimal):  # PostgreSQL's rendering: plain digits, half away from zero
        return format(
            v.quantize(Decimal("0.01") if col == "total_score" else Decimal("1e-10"), ROUND_HALF_UP), "f"
        )
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def check_package(
    root: Path, consumer: Consumer, scenario: Scenario, wh: Warehouse, as_of=AS_OF, pub=PUB
) -> dict:
    """Assert a package holds exactly what the configuration entitles; return its manifest."""
    pkg = root / consumer.id / scenario.id / as_of.isoformat()
    manifest = json.loads((pkg / MANIFEST).read_text("utf-8"))
    expected_files = {MANIFEST} | {f"{t}.csv" for t in consumer.tables}
    if consumer.formats.parquet:
        expected_files |= {f"{t}.parquet" for t in consumer.tables}
    assert {p.name for p in pkg.iterdir()} == expected_files
    assert manifest["consumer"] == consumer.id and manifest["scenario"] == scenario.id
    assert manifest["as_of"] == as_of.isoformat() and manifest["publication_id"] == pub
    by_name = {f["name"]: f for f in manifest["files"]}
    for table, columns in consumer.tables.items():
        want = expected_rows(wh, consumer, scenario, table, as_of, pub)
        header, rows = read_csv(pkg / f"{table}.csv", consumer.formats.csv_encoding)
        assert header == list(columns), f"{pkg}/{table}.csv header"
        assert not set(header) & {"legal_rep_name", "legal_rep_id_no", "contact_phone"}
        assert [r[columns.index("uscc")] for r in rows] == [w["uscc"] for w in want], (
            f"{pkg}/{table}.csv rows"
        )
        for got, w in zip(rows, want, strict=True):
            assert got == [csv_value(w, c, wh, scenario, consumer.formats.spreadsheet) for c in columns]
        assert by_name[f"{table}.csv"]["rows"] == len(rows)
        if consumer.formats.parquet:
            t = pq.read_table(pkg / f"{table}.parquet")
            assert t.column_names == list(columns)
            assert t.column("uscc").to_pylist() == [w["uscc"] for w in want]
            assert by_name[f"{table}.parquet"]["rows"] == t.num_rows
            if "entity_name" in columns:  # Parquet is not for spreadsheets: names are untouched
                assert t.column("entity_name").to_pylist() == [wh.names.get(w["uscc"]) for w in want]
            if "fired_rules" in columns:
                assert t.column("fired_rules").to_pylist() == [w["fired_rules"] for w in want]
    for name, f in by_name.items():
        data = (pkg / name).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest(), name
    return manifest


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------------- tests


def test_shipped_configuration_exports_exactly_the_entitled_rows_and_columns(
    warehouse, tmp_path, monkeypatch
):
    cfg = exports.load_config()
    computed = []
    real = run.write_table_files

    def counting(conn, fq, formats, open_file):
        computed.append(fq.table)
        return real(conn, fq, formats, open_file)

    monkeypatch.setattr(run, "write_table_files", counting)
    result = exports.export_all(AS_OF, str(tmp_path), export_config=cfg)
    # identical entitlements are computed once and copied (checked like every other package below)
    assert len(computed) < sum(len(c.tables) for c, _ in cfg.packages())
    assert result["packages"] == len(cfg.packages()) == 59 and result["failed"] == 0
    assert result["publication_id"] == PUB
    total = 0
    for consumer, scenario in cfg.packages():
        manifest = check_package(tmp_path, consumer, scenario, warehouse)
        total += sum(manifest["rows"].values())
    assert result["rows"] == total > 0
    # nothing but packages (no temporary folders) in the target
    assert not [p for p in tmp_path.rglob(".*")]
    with psycopg.connect(warehouse.url) as conn:
        n, rows = conn.execute(
            "select count(*), sum(rows) from exports.ledger where kind = 'export' and status = 'delivered' "
            "and package_path like %s",
            (str(tmp_path) + "%",),
        ).fetchone()
    assert (n, rows) == (59, total)


def test_small_config_covers_filters_formats_and_every_table(warehouse, tmp_path, small_config):
    result = exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    assert result["packages"] == 5
    for consumer, scenario in small_config.packages():
        check_package(tmp_path, consumer, scenario, warehouse)
    # the superseded publication's rows, enterprises and cooperatives never leave
    text = b"".join(p.read_bytes() for p in tmp_path.rglob("*.csv"))
    assert uscc("stale", 0).encode() not in text
    assert uscc("enterprise", 0).encode() not in text and uscc("cooperative", 0).encode() not in text
    # the prefecture consumer only sees its prefecture's C-class/D-class risk rows
    _, rows = read_csv(
        tmp_path / "c_region" / "s_all" / AS_OF.isoformat() / "risk_classifications.csv", "utf-8-sig"
    )
    assert rows and all(r[1].startswith("2301") and r[2] in ("C", "D") for r in rows)


def test_rerun_gives_byte_identical_files(warehouse, tmp_path, small_config):
    exports.export_all(AS_OF, str(tmp_path / "a"), export_config=small_config)
    first = tree_digest(tmp_path / "a")
    exports.export_all(AS_OF, str(tmp_path / "a"), export_config=small_config)  # in place, replacing
    exports.export_all(AS_OF, str(tmp_path / "b"), export_config=small_config)
    assert tree_digest(tmp_path / "a") == first == tree_digest(tmp_path / "b")
    assert any(name.endswith(".parquet") for name in first)


def test_gb18030_round_trip_of_chinese_names(warehouse, tmp_path, small_config):
    exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    path = tmp_path / "c_gb" / "s_top" / AS_OF.isoformat() / "credit_evaluations.csv"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really GB18030, not UTF-8
    header, rows = read_csv(path, "gb18030")
    names = {r[0]: r[1] for r in rows}
    assert names[uscc("individual", 5)] == SPECIAL_NAMES[5]  # four-byte GB18030 characters
    assert names[uscc("individual", 1)] == SPECIAL_NAMES[1]  # not a spreadsheet consumer: untouched
    assert "哈尔滨市10号小吃店" in names.values()
    assert {r[3] for r in rows} == {"AAA级措施", "AA级措施"}


def test_formula_cells_are_neutralized_for_spreadsheets_only(warehouse, tmp_path, small_config):
    exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    pkg = tmp_path / "c_all" / "s_all" / AS_OF.isoformat()
    header, rows = read_csv(pkg / "credit_evaluations.csv", "utf-8-sig")
    names = {r[1]: r[header.index("entity_name")] for r in rows}
    for n in (0, 1, 2, 3, 9):
        assert names[uscc("individual", n)] == "'" + SPECIAL_NAMES[n]
    assert names[uscc("individual", 4)] == SPECIAL_NAMES[4]  # comma, quote, newline survive the CSV
    assert names[uscc("individual", 6)] == "NULL"  # a text, not a null
    assert names[uscc("individual", 7)] == ""  # not in the registration
    # no cell of a spreadsheet CSV starts like a formula
    assert not [c for r in rows for c in r if c.startswith(FORMULA_START)]
    parquet = pq.read_table(pkg / "credit_evaluations.parquet").to_pydict()
    assert SPECIAL_NAMES[0] in parquet["entity_name"]


def test_manifests_verify(warehouse, tmp_path, small_config):
    exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    target = exports.target_for(str(tmp_path))
    for consumer, scenario in small_config.packages():
        parts = (consumer.id, scenario.id, AS_OF.isoformat())
        manifest = exports.verify_package(target, parts)
        assert "delivered_at" not in json.dumps(manifest) and "T" not in manifest["as_of"]
    victim = tmp_path / "c_gb" / "s_top" / AS_OF.isoformat() / "credit_evaluations.csv"
    victim.write_bytes(victim.read_bytes().replace(b"\r\n", b"\n", 1))
    with pytest.raises(exports.ExportError, match="does not match"):
        exports.verify_package(target, ("c_gb", "s_top", AS_OF.isoformat()))


def test_latest_published_as_of_by_default_and_unpublished_refused(warehouse, tmp_path, small_config):
    result = exports.export_all(None, str(tmp_path), export_config=small_config)
    assert (result["as_of"], result["publication_id"]) == (AS_OF.isoformat(), PUB)
    old = exports.export_all(OLD_AS_OF, str(tmp_path), export_config=small_config)
    assert old["publication_id"] == OLD_PUB
    check_package(tmp_path, small_config.consumers["c_all"], small_config.scenarios["s_all"], warehouse,
                  OLD_AS_OF, OLD_PUB)  # fmt: skip
    for as_of in (BLOCKED_AS_OF, dt.date(2024, 12, 31)):
        with pytest.raises(exports.ExportError, match="not published"):
            exports.export_all(as_of, str(tmp_path), export_config=small_config)
    assert not (tmp_path / "c_all" / "s_all" / BLOCKED_AS_OF.isoformat()).exists()


def test_failure_mid_export_leaves_no_complete_looking_package(
    warehouse, tmp_path, small_config, monkeypatch
):
    root = tmp_path / "out"
    exports.export_all(AS_OF, str(root), export_config=small_config)
    before = tree_digest(root)
    calls = {"n": 0}
    real = run.write_table_files

    def failing(conn, fq, formats, open_file):
        calls["n"] += 1
        if calls["n"] == 2:  # the first table's files are written, the second fails
            raise OSError(28, "No space left on device")
        return real(conn, fq, formats, open_file)

    monkeypatch.setattr(run, "write_table_files", failing)
    with pytest.raises(exports.ExportError, match="1 export problem"):
        exports.export_all(AS_OF, str(root), export_config=small_config)
    # the failed package (c_all/s_all) still holds the previous complete version, untouched;
    # no temporary folder is left and no other package changed
    assert tree_digest(root) == before
    assert not [p for p in root.rglob(".*")]
    # a first-time failure leaves nothing at all
    calls["n"] = 0
    fresh = tmp_path / "fresh"
    with pytest.raises(exports.ExportError):
        exports.export_all(AS_OF, str(fresh), export_config=small_config)
    assert not (fresh / "c_all" / "s_all").exists() or not list((fresh / "c_all" / "s_all").iterdir())
    assert not [p for p in fresh.rglob(".*")]
    with psycopg.connect(warehouse.url) as conn:
        status, detail = conn.execute(
            "select status, detail from exports.ledger where package_path like %s order by ledger_id desc limit 1 ",
            (str(fresh / "c_all" / "s_all") + "%",),
        ).fetchone()
    assert status == "failed" and "No space left" in detail


def test_failure_inside_the_stream_is_cleaned_up(warehouse, tmp_path, small_config, monkeypatch):
    """A writer that breaks after its first file, while the COPY is still streaming."""
    real_write = writer.CsvFileWriter.write_batch
    monkeypatch.setattr(writer, "READ_BLOCK_BYTES", 256)  # several batches: COPY still streaming
    calls = {"n": 0}

    def boom(self, batch):
        real_write(self, batch)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk went away")

    monkeypatch.setattr(writer.CsvFileWriter, "write_batch", boom)
    with pytest.raises(exports.ExportError, match="1 export problem.*disk went away"):
        exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    # the broken package is absent; the run went on over the same connection for the others
    assert not (tmp_path / "c_all" / "s_all").exists() or not list((tmp_path / "c_all" / "s_all").iterdir())
    assert not [p for p in tmp_path.rglob(".*")]
    assert len(list(tmp_path.rglob(MANIFEST))) == 4
    for consumer, scenario in small_config.packages()[1:]:
        check_package(tmp_path, consumer, scenario, warehouse)


def test_unwritable_target_fails_clearly_and_writes_nothing(warehouse, tmp_path, small_config):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export root should be")
    with pytest.raises(exports.ExportTargetError, match="not writable"):
        exports.export_all(AS_OF, str(blocker / "exports"), export_config=small_config)
    assert blocker.read_text() == "a file where the export root should be"
    if os.geteuid() != 0:  # root ignores permission bits; the file-as-parent case covers it
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(exports.ExportTargetError, match="not writable"):
                exports.export_all(AS_OF, str(ro), export_config=small_config)
            assert not list(ro.iterdir())
        finally:
            ro.chmod(0o755)


def test_retention_keeps_the_last_n_as_of_packages(warehouse, tmp_path, small_config):
    # fake older packages (as a previous month's run would have left them) plus a dead temp dir
    for consumer, scenario in small_config.packages():
        for day in ("2025-01-31", "2025-02-28", "2025-03-31"):
            d = tmp_path / consumer.id / scenario.id / day
            d.mkdir(parents=True)
            (d / MANIFEST).write_text("{}")
    dead = tmp_path / "c_all" / "s_all" / ".2025-04-30.tmp-999999999"
    dead.mkdir()
    result = exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    keep = {"c_all": 2, "c_gb": 2, "c_region": 1}
    for consumer, scenario in small_config.packages():
        left = sorted(p.name for p in (tmp_path / consumer.id / scenario.id).iterdir())
        assert left == (["2025-03-31", AS_OF.isoformat()][-keep[consumer.id] :]), left
    assert result["removed"] == sum(3 - (keep[c.id] - 1) for c, _ in small_config.packages())
    assert not dead.exists()


def test_resend_on_fixed_delivery_day_copies_the_latest_package(warehouse, tmp_path, small_config):
    exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    nobody = exports.resend_scheduled(dt.date(2025, 7, 6), str(tmp_path), export_config=small_config)
    assert nobody["packages"] == 0 and nobody["consumers_due"] == []
    day = dt.date(2025, 7, 5)
    result = exports.resend_scheduled(day, str(tmp_path), export_config=small_config)
    assert result["consumers_due"] == ["c_all"] and result["packages"] == 2 and result["failed"] == 0
    for sid in ("s_all", "s_top"):
        src = tmp_path / "c_all" / sid / AS_OF.isoformat()
        dst = tmp_path / "c_all" / "_resend" / day.isoformat() / sid / AS_OF.isoformat()
        assert tree_digest(src) == tree_digest(dst)  # copied, byte for byte, manifest included
    # a package that no longer matches its manifest is not re-sent
    (tmp_path / "c_all" / "s_top" / AS_OF.isoformat() / "credit_evaluations.csv").write_bytes(b"tampered")
    with pytest.raises(exports.ExportError, match="does not match"):
        exports.resend_scheduled(dt.date(2025, 8, 5), str(tmp_path), export_config=small_config)
    assert not (
        tmp_path / "c_all" / "_resend" / "2025-08-05" / "s_top" / AS_OF.isoformat() / MANIFEST
    ).exists()


def test_summary_reads_the_ledger(warehouse, tmp_path, small_config):
    exports.export_all(AS_OF, str(tmp_path), export_config=small_config)
    text = exports.summary(AS_OF, export_config=small_config)
    assert f"exports for {AS_OF}" in text and "场景1" in text and len(text.splitlines()) <= 40
    assert "no packages recorded" in exports.summary(dt.date(2001, 1, 31), export_config=small_config)


def test_object_storage_writes_the_manifest_last(warehouse, small_config, monkeypatch):
    fsspec = pytest.importorskip("fsspec")  # pinned in requirements.lock (Airflow needs it)
    from fsspec.implementations.memory import MemoryFileSystem

    opened: list[str] = []
    real_open = MemoryFileSystem._open

    def recording_open(self, path, mode="rb", **kw):
        if "w" in mode:
            opened.append(path)
        return real_open(self, path, mode, **kw)

    monkeypatch.setattr(MemoryFileSystem, "_open", recording_open)
    root = "memory://exports-test"
    fs = fsspec.filesystem("memory")
    for day in ("2025-03-31", "2025-04-30"):  # older packages, to be thinned out by retention
        fs.pipe_file(f"/exports-test/c_region/s_c/{day}/{MANIFEST}", b"{}")
    result = exports.export_all(AS_OF, root, export_config=small_config)
    assert result["packages"] == 5 and result["removed"] == 2
    assert [p.rsplit("/", 1)[-1] for p in fs.ls("/exports-test/c_region/s_c", detail=False)] == [
        AS_OF.isoformat()
    ]
    for consumer, scenario in small_config.packages():
        prefix = f"/exports-test/{consumer.id}/{scenario.id}/{AS_OF.isoformat()}/"
        mine = [p for p in opened if p.startswith(prefix)]
        assert mine[-1] == prefix + MANIFEST and mine.count(prefix + MANIFEST) == 1
        manifest = json.loads(fs.cat_file(prefix + MANIFEST))
        for f in manifest["files"]:
            assert hashlib.sha256(fs.cat_file(prefix + f["name"])).hexdigest() == f["sha256"]
    # a failure before the manifest leaves an incomplete package: files maybe, manifest never
    opened.clear()

    def failing(conn, fq, formats, open_file):
        open_file(f"{fq.table}.csv").write(b"partial")
        raise OSError("connection reset by object store")

    monkeypatch.setattr(run, "write_table_files", failing)
    with pytest.raises(exports.ExportError):
        exports.export_all(AS_OF, "memory://exports-broken", export_config=small_config)
    assert not [p for p in fs.find("/exports-broken") if p.endswith(MANIFEST)]
    fs.rm("/exports-test", recursive=True)


def test_an_empty_selection_gives_header_only_files(warehouse, tmp_path):
    from export_fixtures import small_config_docs

    from credit_risk.exports.entitlements import parse_config

    scenarios, consumers = small_config_docs()
    consumers["consumers"][2]["filters"]["region_prefixes"] = ["2399"]  # no such prefecture
    cfg = parse_config(scenarios, consumers)
    exports.export_all(AS_OF, str(tmp_path), export_config=cfg)
    pkg = tmp_path / "c_region" / "s_c" / AS_OF.isoformat()
    manifest = check_package(tmp_path, cfg.consumers["c_region"], cfg.scenarios["s_c"], warehouse)
    assert manifest["rows"] == {"published.credit_evaluations": 0, "published.risk_classifications": 0}
    assert (
        pkg / "credit_evaluations.csv"
    ).read_bytes() == b'\xef\xbb\xbf"uscc","region_code","credit_grade"\r\n'
    assert pq.read_table(pkg / "risk_classifications.parquet").num_rows == 0


def test_large_table_is_streamed_in_row_groups(warehouse, tmp_path, small_config, monkeypatch):
    """Small block and row-group sizes: many batches, several row groups, same bytes in CSV."""
    exports.export_all(AS_OF, str(tmp_path / "big"), export_config=small_config)
    monkeypatch.setattr(writer, "READ_BLOCK_BYTES", 512)
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 4)
    batches = {"n": 0}
    real = writer.CsvFileWriter.write_batch

    def counting(self, batch):
        batches["n"] += 1
        return real(self, batch)

    monkeypatch.setattr(writer.CsvFileWriter, "write_batch", counting)
    exports.export_all(AS_OF, str(tmp_path / "small"), export_config=small_config)
    assert batches["n"] > 10
    pkg = Path("c_all") / "s_all" / AS_OF.isoformat()
    meta = pq.ParquetFile(tmp_path / "small" / pkg / "credit_evaluations.parquet").metadata
    assert meta.num_row_groups == -(-meta.num_rows // 4) and meta.num_rows == 40
    big = tree_digest(tmp_path / "big")
    small = tree_digest(tmp_path / "small")
    assert {k: v for k, v in big.items() if k.endswith(".csv")} == {
        k: v for k, v in small.items() if k.endswith(".csv")
    }


def test_config_is_validated_before_anything_is_written(warehouse, tmp_path):
    from export_fixtures import small_config_docs

    from credit_risk.exports.entitlements import ConfigError, parse_config

    scenarios, consumers = small_config_docs()
    consumers["consumers"][1]["tables"]["credit_evaluations"].append("legal_rep_id_no")
    with pytest.raises(ConfigError, match="personal data"):
        parse_config(scenarios, consumers)
    assert not list(tmp_path.iterdir())
