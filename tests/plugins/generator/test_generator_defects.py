"""--defects: the ledger lists every injected fault, and each listed fault is really in the files."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from gen_landing_check import decode, deliveries, records, row_reasons, verify_delivery

from credit_risk import feeds as contract
from credit_risk.generator import defects as defects_mod
from credit_risk.generator import truth_dir


@pytest.fixture(scope="module")
def ledger(tiny_defects) -> list[dict]:
    landing, _ = tiny_defects
    return json.loads((truth_dir(landing) / "defects.json").read_text(encoding="utf-8"))


def test_every_kind_is_injected(ledger):
    kinds = Counter(e["kind"] for e in ledger)
    assert set(defects_mod.ROW_KINDS) <= set(kinds)
    assert set(defects_mod.DELIVERY_KINDS) <= set(kinds)
    reasons = {e["expected"] for e in ledger if e["level"] == "row"}
    assert set(contract.REASONS) <= reasons
    assert [e["id"] for e in ledger] == list(range(1, len(ledger) + 1))


def test_bad_rows_are_where_the_ledger_says(tiny_defects, ledger):
    landing, summary = tiny_defects
    rows = [e for e in ledger if e["level"] == "row"]
    assert 0 < len(rows) < 0.005 * summary["total"]  # a tiny fraction of all records
    for e in rows:
        folder = landing / e["delivery"]
        man = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
        header, recs = records(decode(folder / e["file"], man["encoding"]))
        rec = next(r for r in recs if r.line == e["line"])
        f = contract.feed(e["department"], e["feed"])
        if e["kind"] == "blank_line":
            assert rec.fields == []
            continue
        if e["expected"] == "orphan":
            assert row_reasons(f, header, rec.fields) == []
            assert rec.fields[header.index("uscc")] == e["value"]
            continue
        assert row_reasons(f, header, rec.fields) == [e["expected"]], e
        if e["column"]:
            assert rec.fields[header.index(e["column"])] == (e["value"] or "")
        if e["key"] and e["kind"] not in ("field_count_missing",):
            assert rec.fields[header.index(e["key_column"])] == e["key"]


def test_orphans_are_unknown_to_every_registration_snapshot(tiny_defects, ledger):
    landing, _ = tiny_defects
    known = set()
    for d in deliveries(landing):
        if d.feed == "registration" and (d.folder / "_manifest.json").exists():
            _, recs = verify_delivery(d)
            known |= {r.fields[0] for r in recs if r.fields}
    orphans = {e["value"] for e in ledger if e["expected"] == "orphan"}
    assert orphans and not orphans & known


def test_the_latest_registration_snapshot_holds_only_a_handful_of_bad_rows(ledger):
    latest = [e for e in ledger if e["feed"] == "registration" and e["delivery"].endswith("20250630")]
    assert len(latest) <= 5


def _manifest_or_none(folder: Path) -> dict | None:
    try:
        return json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def test_bad_deliveries_are_really_bad(tiny_defects, ledger):
    landing, _ = tiny_defects
    truth = truth_dir(landing)
    for e in (x for x in ledger if x["level"] == "delivery"):
        folder = landing / e["delivery"]
        kind = e["kind"]
        man = _manifest_or_none(folder)
        if kind == "missing_manifest":
            assert folder.is_dir() and not (folder / "_manifest.json").exists()
            continue
        if kind == "unreadable_manifest":
            assert (folder / "_manifest.json").exists() and man is None
            continue
        assert man is not None, e
        files = man["files"]
        f = contract.FEEDS_BY_NAME.get(e["feed"])
        if kind == "unknown_feed":
            assert man["feed"] == e["feed"] and e["feed"] not in contract.FEEDS_BY_NAME
        elif kind == "missing_file":
            assert any(not (folder / x["name"]).exists() for x in files)
        elif kind == "file_name_slash":
            assert any("/" in x["name"] and ".." not in x["name"] for x in files)
        elif kind == "file_name_dotdot":
            assert any(".." in x["name"] for x in files)
        elif kind == "checksum_mismatch":
            x = files[0]
            assert hashlib.sha256((folder / x["name"]).read_bytes()).hexdigest() != x["sha256"]
        elif kind == "row_count_mismatch":
            x = files[0]
            assert len(records(decode(folder / x["name"], man["encoding"]))[1]) != x["rows"]
        elif kind == "manifest_folder_mismatch":
            assert man["delivery_date"].replace("-", "") != folder.name
        elif kind == "missing_required_column":
            header, _ = records(decode(folder / files[0]["name"], man["encoding"]))
            assert set(f.required_columns) - set(header)
        elif kind == "bad_gzip":
            with pytest.raises((EOFError, OSError, gzip.BadGzipFile)):
                gzip.decompress((folder / files[0]["name"]).read_bytes())
        elif kind == "undecodable_bytes":
            with pytest.raises(UnicodeDecodeError):
                decode(folder / files[0]["name"], man["encoding"])
        elif kind == "unclosed_quote":
            with pytest.raises(csv.Error):
                text = decode(folder / files[0]["name"], man["encoding"])
                list(csv.reader(io.StringIO(text, newline=""), strict=True))
        elif kind == "extra_unknown_column":
            header, recs = verify_delivery(next(d for d in deliveries(landing) if d.folder == folder))
            assert "remark" in header and set(header) - {"remark"} == {c.name for c in f.all_columns}
        elif kind == "unlisted_file":
            listed = {x["name"] for x in files}
            assert (folder / e["file"]).exists() and e["file"] not in listed
            verify_delivery(next(d for d in deliveries(landing) if d.folder == folder))
        elif kind == "identical_redelivery":
            copy = truth / "redelivery" / e["delivery"]
            assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in folder.iterdir())
            for p in copy.iterdir():
                assert p.read_bytes() == (folder / p.name).read_bytes()
        elif kind == "manifest_changed_after_load":
            changed = truth / "changed" / e["delivery"]
            new = json.loads((changed / "_manifest.json").read_text(encoding="utf-8"))
            assert new != man and new["files"][0]["rows"] == man["files"][0]["rows"] - 1
            data = (changed / new["files"][0]["name"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == new["files"][0]["sha256"]
        else:
            raise AssertionError(f"unchecked kind {kind}")
        if e["expected"] == "rejected" and e["record_ids"]:
            assert all(rid.startswith(tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")) for rid in e["record_ids"])


def test_non_delivery_folders(tiny_defects, ledger):
    landing, _ = tiny_defects
    folders = [e["delivery"] for e in ledger if e["level"] == "folder"]
    assert folders
    for rel in folders:
        p = landing / rel
        assert p.is_dir() and not (p / "_manifest.json").exists()
        assert p.name not in contract.FEEDS_BY_NAME and not p.name.isdigit()


def test_everything_not_in_the_ledger_still_verifies(tiny_defects, ledger):
    landing, _ = tiny_defects
    faulty = {
        e["delivery"] for e in ledger if e["level"] == "delivery" and e["expected"] in ("rejected", "waiting")
    }
    bad_lines = Counter((e["delivery"], e["file"]) for e in ledger if e["level"] == "row")
    n = 0
    for d in deliveries(landing):
        rel = str(d.folder.relative_to(landing))
        if rel in faulty or not d.date.isdigit():
            continue
        f = contract.feed(d.department, d.feed)
        man = d.manifest
        for entry in man["files"]:
            header, recs = records(decode(d.folder / entry["name"], man["encoding"]))
            assert len(recs) == entry["rows"]  # bad lines are counted in the manifest
            bad = sum(1 for r in recs if row_reasons(f, header, r.fields))
            assert bad == bad_lines[(rel, entry["name"])] - sum(
                1 for e in ledger if e["level"] == "row" and (e["delivery"], e["file"]) == (rel, entry["name"])
                and e["expected"] == "orphan"
            )  # fmt: skip
        n += 1
    assert n > 600
