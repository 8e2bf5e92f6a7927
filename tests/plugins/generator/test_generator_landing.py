"""A clean generated landing zone follows the delivery contract (feeds.md) to the letter."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
from gen_landing_check import deliveries, reason, row_reasons, verify_delivery
from stdnum.cn import ric, uscc

from credit_risk import feeds as contract
from credit_risk.generator import params, truth_dir


@pytest.fixture(scope="module")
def loaded(tiny) -> dict[str, list]:
    """Every delivery of the tiny landing zone, verified and parsed: feed -> [(date, header, records)]."""
    landing, _ = tiny
    out: dict[str, list] = {}
    for d in deliveries(landing):
        header, recs = verify_delivery(d)
        out.setdefault(d.feed, []).append((d.date, header, recs))
    return out


def test_layout_has_only_contract_departments_and_feeds(tiny):
    landing, _ = tiny
    assert sorted(p.name for p in landing.iterdir()) == sorted(contract.DEPARTMENTS)
    for d in deliveries(landing):
        contract.feed(d.department, d.feed)  # KeyError for an unknown feed
        assert len(d.date) == 8 and d.date.isdigit()
        names = {p.name for p in d.folder.iterdir()}
        assert names == {"_manifest.json", *(f["name"] for f in d.manifest["files"])}
        # the manifest is written last
        written = max((d.folder / n).stat().st_mtime_ns for n in names if n != "_manifest.json")
        assert (d.folder / "_manifest.json").stat().st_mtime_ns >= written
    # the generator's own files stay outside the landing root
    assert (truth_dir(landing) / "state.json").exists()
    assert not (landing / "state.json").exists()


def test_every_manifest_verifies_and_headers_match_the_contract(tiny, loaded):
    landing, summary = tiny
    seen = Counter()
    for feed_name, items in loaded.items():
        f = contract.FEEDS_BY_NAME[feed_name]
        for _, header, recs in items:
            assert header == [c.name for c in f.all_columns]
            seen[feed_name] += len(recs)
    assert dict(seen) == {k: v for k, v in summary["records"].items() if v}
    assert summary["total"] == sum(seen.values())


def test_encodings_compression_line_ends_and_bom_per_department(tiny):
    landing, _ = tiny
    for d in deliveries(landing):
        fmt = params.FORMATS[d.department]
        man = d.manifest
        assert man["encoding"] == fmt.encoding
        for entry in man["files"]:
            assert entry["name"].endswith(".csv.gz") == fmt.gzip
            raw = (d.folder / entry["name"]).read_bytes()
            if fmt.gzip:
                assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip mtime 0
                raw = gzip.decompress(raw)
            assert raw.startswith(b"\xef\xbb\xbf") == fmt.bom
            first = raw.split(b"\n", 1)[0]
            assert first.endswith(b"\r") == fmt.crlf


def test_every_value_is_valid_for_its_type(loaded):
    for feed_name, items in loaded.items():
        f = contract.FEEDS_BY_NAME[feed_name]
        for date, header, recs in items:
            for rec in recs:
                assert row_reasons(f, header, rec.fields) == [], (feed_name, date, rec)


def test_usccs_and_resident_ids_pass_stdnum(loaded):
    n_uscc = n_id = 0
    for _feed_name, items in loaded.items():
        for _, header, recs in items:
            for name in ("uscc", "legal_rep_id_no"):
                if name not in header:
                    continue
                k = header.index(name)
                for rec in recs:
                    v = rec.fields[k]
                    if name == "uscc":
                        assert uscc.is_valid(v) and v == v.upper() and v[-1] == uscc.calc_check_digit(v)
                        n_uscc += 1
                    else:
                        assert v[-1] == ric.calc_check_digit(v), v
                        n_id += 1
    assert n_uscc > 10_000 and n_id > 5_000


def test_registration_semantics(loaded):
    snaps = sorted(loaded["registration"])
    assert [s[0] for s in snaps] == ["20240930", "20241231", "20250331", "20250630"]
    _, header, recs = snaps[-1]
    col = {n: i for i, n in enumerate(header)}
    types = Counter()
    for rec in recs:
        v = rec.fields
        t = v[col["entity_type"]]
        types[t] += 1
        code = v[col["uscc"]]
        assert code[:2] == {"enterprise": "91", "individual": "92", "cooperative": "93"}[t]
        assert code[2:8] == v[col["region_code"]]
        assert v[col["region_code"]].startswith("23")
        assert (v[col["registered_capital"]] == "") == (t == "individual")
        assert (v[col["status_changed_on"]] == "") == (v[col["status"]] == "active")
        if v[col["farmer_member_ratio"]]:
            assert t == "cooperative"
    n = sum(types.values())
    assert abs(types["enterprise"] / n - 0.8 / 3) < 0.02 and abs(types["cooperative"] / n - 0.1 / 3) < 0.01
    assert len({r.fields[0] for r in recs}) == n  # one row per uscc


def test_monthly_deliveries_corrections_and_retractions(loaded):
    for f in contract.FEEDS:
        if f.is_event:
            dates = sorted(x[0] for x in loaded.get(f.name, []))
            assert len(dates) == 36 and dates[0] == "20220731" and dates[-1] == "20250630", f.name
    versions: Counter[str] = Counter()
    deleted = 0
    for feed_name, items in loaded.items():
        if not contract.FEEDS_BY_NAME[feed_name].is_event:
            continue
        for _, header, recs in items:
            d = header.index("deleted")
            for rec in recs:
                versions[f"{feed_name}/{rec.fields[0]}"] += 1
                deleted += rec.fields[d] == "Y"
    assert sum(1 for v in versions.values() if v > 1) > 100  # lifecycle updates and corrections
    assert deleted > 0


def test_cross_feed_references(loaded):
    def latest(feed_name: str, key: int = 0) -> set[str]:
        return {r.fields[key] for _, _, recs in loaded.get(feed_name, []) for r in recs}

    targets = latest("penalties") | latest("abnormal_list") | latest("serious_dishonesty")
    _, header, _ = loaded["credit_repairs"][0]
    k = header.index("target_record_id")
    refs = {r.fields[k] for _, _, recs in loaded["credit_repairs"] for r in recs}
    assert refs and refs <= targets
    inspectors = {r.fields[0] for _, _, recs in loaded["inspectors"] for r in recs}
    _, header, _ = loaded["inspections"][0]
    k = header.index("inspector_ids")
    used = {
        i for _, _, recs in loaded["inspections"] for r in recs if r.fields[k] for i in r.fields[k].split(";")
    }
    assert used and used <= inspectors
    registry = {r.fields[0] for r in sorted(loaded["registration"])[-1][2]}
    for feed_name, items in loaded.items():
        if feed_name in ("registration", "inspection_items", "inspectors"):
            continue
        k = items[0][1].index("uscc")
        assert {r.fields[k] for _, _, recs in items for r in recs} <= registry, feed_name  # no orphans
    items = sorted(loaded["inspection_items"])[-1][2]
    assert len(items) == 753 and len({r.fields[1] for r in items}) == 39


def test_truth_files(tiny, loaded):
    landing, _ = tiny
    truth = truth_dir(landing)
    lines = gzip.decompress((truth / "entities.csv.gz").read_bytes()).decode().splitlines()
    assert lines[0].startswith("uscc,entity_type,latent_risk,decile")
    rows = [line.split(",") for line in lines[1:]]
    deciles = Counter(int(r[3]) for r in rows)
    assert sorted(deciles) == list(range(1, 11)) and max(deciles.values()) - min(deciles.values()) <= 1
    registry = {r.fields[0] for r in sorted(loaded["registration"])[-1][2]}
    assert {r[0] for r in rows} == registry
    # every clear name, resident ID and phone of the landing zone is in the personal-data list
    personal = set(gzip.decompress((truth / "personal_data.txt.gz").read_bytes()).decode().splitlines())
    _, header, recs = sorted(loaded["registration"])[-1]
    for name in ("legal_rep_name", "legal_rep_id_no", "contact_phone"):
        k = header.index(name)
        assert {r.fields[k] for r in recs if r.fields[k]} <= personal
    _, header, _ = loaded["registration_changes"][0]
    ct, b, a = header.index("change_type"), header.index("before_value"), header.index("after_value")
    for _, _, recs in loaded["registration_changes"]:
        for r in recs:
            if r.fields[ct] == "legal_rep":
                assert r.fields[b] in personal and r.fields[a] in personal
    state = json.loads((truth / "state.json").read_text())
    assert state["through"] == "2025-06" and state["last_month"] == "2025-06"


def test_reason_helper_rejects_what_the_contract_rejects():
    col = contract.feed("samr", "penalties").column("decided_on")
    assert reason(col, "2024-02-29") is None
    assert reason(col, "2023-02-29") == "bad_date"
    assert reason(col, " 2024-01-01") == "bad_date"
    assert reason(col, "") == "required_empty"
