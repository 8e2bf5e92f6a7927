"""The scenarios and consumers configuration: what ships, and what the loader refuses."""

from __future__ import annotations

import copy
import datetime as dt

import pyarrow as pa
import pytest
from export_fixtures import small_config_docs

from credit_risk.exports import entitlements as ent
from credit_risk.exports import query
from credit_risk.exports.entitlements import ConfigError, load_config, parse_config
from credit_risk.exports.writer import neutralize_formulas


def test_shipped_scenarios_and_consumers():
    cfg = load_config()
    assert len(cfg.scenarios) == 22 and len(cfg.consumers) == 42
    assert sorted(s.number for s in cfg.scenarios.values()) == list(range(1, 23))
    names = " ".join(s.name_zh for s in cfg.scenarios.values())
    for named in ("公共资源交易", "政府采购", "融资增信", "信易贷", "医疗保障", "便捷服务", "容缺受理", "招标投标",
                  "评优评先", "财政补贴"):  # fmt: skip
        assert named in names
    used = {s for c in cfg.consumers.values() for s in c.scenarios}
    assert used == set(cfg.scenarios)
    assert all(
        c.source_document and s.source_document
        for c in cfg.consumers.values()
        for s in cfg.scenarios.values()
    )
    assert {c.formats.csv_encoding for c in cfg.consumers.values()} == {"utf-8-sig", "gb18030"}
    assert any(c.formats.parquet for c in cfg.consumers.values())
    assert any(c.delivery_day for c in cfg.consumers.values())
    assert any(c.filters.region_prefixes for c in cfg.consumers.values())
    # restrictive treatment of C where a scenario serves it; grades in canonical order
    cf = cfg.scenarios["credit_financing"]
    assert cf.grades == ("AAA", "AA", "A", "B", "C") and "审慎" in cf.treatments["C"].zh
    assert "容缺受理" in cfg.scenarios["convenient_services"].treatments["AAA"].zh
    for c in cfg.consumers.values():
        for cols in c.tables.values():
            assert not set(cols) & ent.PERSONAL_COLUMNS


def _edit(fn):
    scenarios, consumers = small_config_docs()
    scenarios, consumers = copy.deepcopy(scenarios), copy.deepcopy(consumers)
    fn(scenarios, consumers)
    return scenarios, consumers


def _consumer(c, i=0):
    return c["consumers"][i]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s, c: _consumer(c, 1)["tables"]["credit_evaluations"].append("address"),
            "unknown column 'address'",
        ),
        (
            lambda s, c: _consumer(c, 1)["tables"]["credit_evaluations"].append("contact_phone"),
            "personal data",
        ),
        (
            lambda s, c: _consumer(c, 1)["tables"].update(level2_scores=["uscc"]),
            "unknown table 'level2_scores'",
        ),
        (
            lambda s, c: _consumer(c, 1)["tables"].update(credit_evaluations=["entity_name"]),
            "uscc must be exported",
        ),
        (
            lambda s, c: _consumer(c)["tables"]["risk_classifications"].append("treatment_zh"),
            "unknown column",
        ),
        (lambda s, c: _consumer(c)["tables"].update(credit_evaluations="no_such_set"), "unknown column set"),
        (lambda s, c: _consumer(c)["scenarios"].append("s_missing"), "unknown scenario 's_missing'"),
        (lambda s, c: _consumer(c).update(formats={"csv_encoding": "gbk"}), "csv_encoding 'gbk'"),
        (lambda s, c: _consumer(c).update(formats={"spreadhseet": True}), "unknown key"),
        (lambda s, c: _consumer(c).update(colour="red"), "unknown key"),
        (lambda s, c: _consumer(c).update(delivery_day=31), "delivery_day"),
        (lambda s, c: _consumer(c).update(retention=0), "retention"),
        (lambda s, c: _consumer(c, 1).update(filters={"grades": ["B", "C"]}), "leave nothing of scenario"),
        (lambda s, c: _consumer(c, 1).update(filters={"region_prefixes": ["23x1"]}), "region_prefixes"),
        (lambda s, c: _consumer(c, 1).update(filters={"region_prefixes": [2301]}), "region_prefixes"),
        (lambda s, c: _consumer(c, 1).update(filters={"risk_classes": ["D"]}), "needs a table with column"),
        (lambda s, c: _consumer(c, 2)["filters"].update(entity_types=["enterprise"]), "without 'individual'"),
        (lambda s, c: _consumer(c, 2)["filters"].update(grades=["AAA", "X"]), "unknown value"),
        (lambda s, c: _consumer(c, 2).update(id="C-Region"), "not a valid id"),
        (lambda s, c: c["consumers"].append(copy.deepcopy(_consumer(c, 1))), "duplicate id"),
        (lambda s, c: _consumer(c, 1).pop("source_document"), "missing source_document"),
        (lambda s, c: s["scenarios"][0]["treatments"].update(AAAA={"zh": "x", "en": "x"}), "unknown grade"),
        (lambda s, c: s["scenarios"][0].update(owner="c_gb"), "does not list it"),
        (lambda s, c: s["scenarios"][0].update(owner="nobody"), "not a consumer"),
        (lambda s, c: s["scenarios"][1].update(number=1), "unique positive integer"),
        (lambda s, c: s.update(system="ENT"), "system must be IBE"),
    ],
)
def test_invalid_configuration_is_rejected_with_a_clear_error(edit, message):
    scenarios, consumers = _edit(edit)
    with pytest.raises(ConfigError, match=message):
        parse_config(scenarios, consumers)


def test_a_broken_file_is_named(tmp_path):
    (tmp_path / "scenarios.yml").write_text("scenarios: [unclosed\n")
    (tmp_path / "consumers.yml").write_text("version: 1\n")
    with pytest.raises(ConfigError, match="scenarios.yml: not valid YAML"):
        load_config(tmp_path)


def test_identifiers_and_values_are_quoted_in_the_sql():
    cfg = parse_config(*small_config_docs())
    pub = query.Publication(dt.date(2025, 6, 30), 3)
    fq = query.file_query(cfg.consumers["c_region"], cfg.scenarios["s_all"], "risk_classifications", pub)
    text = fq.statement.as_string(None)
    assert '"published"."risk_classifications" as t' in text and '"t"."risk_class"' in text
    assert "'{2301%}'::text[]" in text and "'{A,B,C}'::text[]" in text and "'{C,D}'::text[]" in text
    assert fq.columns == ("uscc", "region_code", "risk_class")
    assert fq.parquet_schema.field("uscc").type == pa.string()


def test_neutralize_formulas_only_touches_risky_text():
    values = ["=1+1", "+86", "-x", "@A1", "\tx", "\rx", "a=b", "'=x", "", None, "正常名称", "1-2"]
    got = neutralize_formulas(pa.array(values, pa.string())).to_pylist()
    assert got == ["'=1+1", "'+86", "'-x", "'@A1", "'\tx", "'\rx", "a=b", "'=x", "", None, "正常名称", "1-2"]
