"""Scenarios and consumers as validated data (config/scenarios.yml, config/consumers.yml).

What a consumer may receive is decided here and only here: the published columns of each table
it is entitled to, the rows its filters and scenarios let through, and the file formats. The
YAML is checked when it is loaded, so a typo (an unknown key, table, column, grade, scenario or
encoding) stops the export with the file and the consumer named instead of silently sending
more, or less, than agreed. Personal columns cannot be configured at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
SCENARIOS_FILE = "scenarios.yml"
CONSUMERS_FILE = "consumers.yml"

GRADES: tuple[str, ...] = ("AAA", "AA", "A", "B", "C")  # spec/indicators.md, best first
RISK_CLASSES: tuple[str, ...] = ("A", "B", "C", "D")
ENTITY_TYPES: tuple[str, ...] = ("enterprise", "individual", "cooperative")
CSV_ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030")

# Column kinds: how a column is selected from PostgreSQL and typed in the files.
DATE, TEXT, SCORE2, SCORE, TEXT_LIST, BIGINT = "date", "text", "score2", "score", "text_list", "bigint"
ENTITY_NAME, TREATMENT_ZH, TREATMENT_EN = "entity_name", "treatment_zh", "treatment_en"

_SCORES = ("score_bas", "score_ops", "score_reg", "score_fin", "score_soc", "score_eva")

# The published tables exports may read (the warehouse contract), column -> kind, in table order.
PUBLISHED_COLUMNS: dict[str, dict[str, str]] = {
    "credit_evaluations": {
        "as_of": DATE,
        "uscc": TEXT,
        "region_code": TEXT,
        "total_score": SCORE2,
        **dict.fromkeys(_SCORES, SCORE),
        "credit_grade": TEXT,
        "fired_rules": TEXT_LIST,
        "top_losses": TEXT_LIST,
        "publication_id": BIGINT,
    },
    "risk_classifications": {
        "as_of": DATE,
        "uscc": TEXT,
        "entity_type": TEXT,
        "region_code": TEXT,
        "system_code": TEXT,
        "system_version": TEXT,
        "total_score": SCORE2,
        **dict.fromkeys(_SCORES, SCORE),
        "risk_class": TEXT,
        "fired_rules": TEXT_LIST,
        "top_losses": TEXT_LIST,
        "publication_id": BIGINT,
    },
    "indicator_scores": {
        "as_of": DATE,
        "uscc": TEXT,
        "entity_type": TEXT,
        "region_code": TEXT,
        **{f"i{n:02d}": SCORE for n in range(1, 45)},
        "publication_id": BIGINT,
    },
}

# Columns that are not in the published table but may be configured: the entity's name (from
# the registration; the name of a business is public, unlike its legal representative's) and the
# scenario's treatment of the row's grade.
VIRTUAL_COLUMNS: dict[str, dict[str, str]] = {
    "credit_evaluations": {
        "entity_name": ENTITY_NAME,
        "treatment_zh": TREATMENT_ZH,
        "treatment_en": TREATMENT_EN,
    },
    "risk_classifications": {"entity_name": ENTITY_NAME},
    "indicator_scores": {"entity_name": ENTITY_NAME},
}

PERSONAL_COLUMNS = frozenset({"legal_rep_name", "legal_rep_id_no", "contact_phone"})

# Which published tables have which filterable columns.
_FILTER_COLUMN = {"entity_types": "entity_type", "risk_classes": "risk_class"}

_ID = re.compile(r"^[a-z][a-z0-9_]{1,62}$")  # safe as a folder name on any file system
_REGION_PREFIX = re.compile(r"^[0-9]{2,6}$")


class ConfigError(ValueError):
    """The scenarios or consumers configuration is invalid."""


@dataclass(frozen=True)
class Treatment:
    """How one grade is treated in one scenario."""

    zh: str
    en: str


@dataclass(frozen=True)
class Scenario:
    """An application scenario of the IBE grades (应用场景)."""

    id: str
    number: int
    name_zh: str
    name_en: str
    owner: str
    treatments: dict[str, Treatment]  # grade -> treatment, in grade order
    source_document: str

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(self.treatments)


@dataclass(frozen=True)
class Filters:
    """Row filters of a consumer; None = not restricted."""

    grades: tuple[str, ...] | None = None
    region_prefixes: tuple[str, ...] | None = None
    entity_types: tuple[str, ...] | None = None
    risk_classes: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class Formats:
    """File formats of a consumer's packages."""

    csv_encoding: str = "utf-8-sig"
    parquet: bool = False
    spreadsheet: bool = True

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class Consumer:
    """A consuming department (结果运用部门) and what it is entitled to."""

    id: str
    name_zh: str
    name_en: str
    scenarios: tuple[str, ...]
    tables: dict[str, tuple[str, ...]]  # published table -> columns, in file order
    filters: Filters
    formats: Formats
    delivery_day: int | None
    retention: int
    source_document: str

    def grades_for(self, scenario: Scenario) -> tuple[str, ...]:
        """Grades this consumer receives in a scenario (scenario grades ∩ its own filter)."""
        if self.filters.grades is None:
            return scenario.grades
        return tuple(g for g in scenario.grades if g in self.filters.grades)


@dataclass(frozen=True)
class ExportConfig:
    """The whole validated configuration."""

    scenarios: dict[str, Scenario]
    consumers: dict[str, Consumer]
    source: tuple[str, ...] = field(default=())

    def packages(self) -> list[tuple[Consumer, Scenario]]:
        """Every (consumer, scenario) pair that gets a package, in configuration order."""
        return [(c, self.scenarios[s]) for c in self.consumers.values() for s in c.scenarios]


def allowed_columns(table: str) -> dict[str, str]:
    """Column -> kind of everything that may be configured for a published table."""
    return {**PUBLISHED_COLUMNS[table], **VIRTUAL_COLUMNS[table]}


# ------------------------------------------------------------------------------ loading


def load_config(config_dir: Path | str | None = None) -> ExportConfig:
    """Read and validate scenarios.yml and consumers.yml (default: the package's config folder)."""
    override = os.environ.get("CREDIT_RISK_EXPORT_CONFIG_DIR")
    d = Path(config_dir) if config_dir else Path(override) if override else CONFIG_DIR
    docs = []
    for name in (SCENARIOS_FILE, CONSUMERS_FILE):
        path = d / name
        try:
            with open(path, encoding="utf-8") as fh:
                docs.append(yaml.safe_load(fh))
        except FileNotFoundError as e:
            raise ConfigError(f"{path}: missing") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from e
    cfg = parse_config(docs[0], docs[1])
    return ExportConfig(cfg.scenarios, cfg.consumers, (str(d / SCENARIOS_FILE), str(d / CONSUMERS_FILE)))


def parse_config(scenarios_doc: Any, consumers_doc: Any) -> ExportConfig:
    """Validate the two parsed YAML documents; raise ConfigError naming the first problem."""
    scenarios = _parse_scenarios(scenarios_doc)
    consumers = _parse_consumers(consumers_doc, scenarios)
    for s in scenarios.values():
        where = f"{SCENARIOS_FILE}: scenario {s.id!r}"
        if s.owner not in consumers:
            raise ConfigError(f"{where}: owner {s.owner!r} is not a consumer in {CONSUMERS_FILE}")
        if s.id not in consumers[s.owner].scenarios:
            raise ConfigError(f"{where}: its owner {s.owner!r} does not list it under scenarios")
    return ExportConfig(scenarios, consumers)


def _mapping(
    value: Any, where: str, required: set[str], optional: set[str] | frozenset[str] = frozenset()
) -> Mapping:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    keys = set(value)
    if missing := required - keys:
        raise ConfigError(f"{where}: missing {', '.join(sorted(map(str, missing)))}")
    if unknown := keys - required - optional:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(allowed: {', '.join(sorted(required | optional))})"
        )
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: expected non-empty text, got {value!r}")
    return value.strip()


def _ident(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ConfigError(f"{where}: {value!r} is not a valid id (lower-case letters, digits, _; 2-63 chars)")
    return value


def _choices(value: Any, allowed: tuple[str, ...], where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a non-empty list")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise ConfigError(f"{where}: unknown value(s) {bad} (allowed: {', '.join(allowed)})")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: duplicate values in {value}")
    return tuple(a for a in allowed if a in value)  # canonical order


def _parse_scenarios(doc: Any) -> dict[str, Scenario]:
    top = _mapping(doc, SCENARIOS_FILE, {"version", "system", "scenarios", "source_document"}, {"grades"})
    if top["version"] != 1:
        raise ConfigError(f"{SCENARIOS_FILE}: unsupported version {top['version']!r} (expected 1)")
    if top["system"] != "IBE":
        raise ConfigError(f"{SCENARIOS_FILE}: system must be IBE (the grades are the IBE credit grades)")
    _text(top["source_document"], f"{SCENARIOS_FILE}: source_document")
    if "grades" in top and list(top["grades"]) != list(GRADES):
        raise ConfigError(f"{SCENARIOS_FILE}: grades must be {list(GRADES)} (spec/indicators.md)")
    if not isinstance(top["scenarios"], list) or not top["scenarios"]:
        raise ConfigError(f"{SCENARIOS_FILE}: scenarios must be a non-empty list")
    out: dict[str, Scenario] = {}
    numbers: set[int] = set()
    for i, raw in enumerate(top["scenarios"]):
        where = f"{SCENARIOS_FILE}: scenario #{i + 1}"
        m = _mapping(
            raw, where, {"id", "number", "name_zh", "name_en", "owner", "treatments", "source_document"}
        )
        sid = _ident(m["id"], f"{where}: id")
        where = f"{SCENARIOS_FILE}: scenario {sid!r}"
        if sid in out:
            raise ConfigError(f"{where}: duplicate id")
        number = m["number"]
        if not isinstance(number, int) or isinstance(number, bool) or number < 1 or number in numbers:
            raise ConfigError(f"{where}: number must be a unique positive integer, got {number!r}")
        numbers.add(number)
        tr = m["treatments"]
        if not isinstance(tr, Mapping) or not tr:
            raise ConfigError(f"{where}: treatments must map at least one grade to its treatment")
        bad = [g for g in tr if g not in GRADES]
        if bad:
            raise ConfigError(f"{where}: treatments: unknown grade(s) {bad} (allowed: {', '.join(GRADES)})")
        treatments = {}
        for g in GRADES:  # canonical grade order
            if g in tr:
                t = _mapping(tr[g], f"{where}: treatments: {g}", {"zh", "en"})
                treatments[g] = Treatment(
                    _text(t["zh"], f"{where}: {g}.zh"), _text(t["en"], f"{where}: {g}.en")
                )
        out[sid] = Scenario(
            id=sid,
            number=number,
            name_zh=_text(m["name_zh"], f"{where}: name_zh"),
            name_en=_text(m["name_en"], f"{where}: name_en"),
            owner=_ident(m["owner"], f"{where}: owner"),
            treatments=treatments,
            source_document=_text(m["source_document"], f"{where}: source_document"),
        )
    return out


def _parse_columns(value: Any, table: str, column_sets: Mapping, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        if value not in column_sets:
            raise ConfigError(
                f"{where}: unknown column set {value!r} (defined: {', '.join(sorted(column_sets))})"
            )
        value = column_sets[value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: expected a column set name or a non-empty list of columns")
    allowed = allowed_columns(table)
    for col in value:
        if col in PERSONAL_COLUMNS:
            raise ConfigError(f"{where}: {col!r} is personal data and is never exported")
        if col not in allowed:
            raise ConfigError(
                f"{where}: unknown column {col!r} for published.{table} (allowed: {', '.join(allowed)})"
            )
    if len(set(value)) != len(value):
        raise ConfigError(f"{where}: duplicate columns in {value}")
    if "uscc" not in value:
        raise ConfigError(f"{where}: uscc must be exported (it identifies the row and orders the file)")
    return tuple(value)


def _parse_filters(value: Any, tables: dict[str, tuple[str, ...]], where: str) -> Filters:
    if value is None:
        return Filters()
    m = _mapping(value, where, set(), {"grades", "region_prefixes", "entity_types", "risk_classes"})
    prefixes = None
    if "region_prefixes" in m:
        p = m["region_prefixes"]
        if (
            not isinstance(p, list)
            or not p
            or not all(isinstance(x, str) and _REGION_PREFIX.match(x) for x in p)
        ):
            raise ConfigError(
                f"{where}: region_prefixes must be a list of 2-6 digit strings (quote them), got {p!r}"
            )
        prefixes = tuple(sorted(set(p)))
    for key, col in _FILTER_COLUMN.items():
        if key in m and not any(col in PUBLISHED_COLUMNS[t] for t in tables):
            raise ConfigError(
                f"{where}: {key} needs a table with column {col}; entitled tables: {', '.join(tables)}"
            )
    entity_types = (
        _choices(m["entity_types"], ENTITY_TYPES, f"{where}: entity_types") if "entity_types" in m else None
    )
    if entity_types is not None and "individual" not in entity_types:
        # every package covers the businesses of a scenario's IBE evaluations: individuals only
        raise ConfigError(f"{where}: entity_types without 'individual' would leave every package empty")
    return Filters(
        grades=_choices(m["grades"], GRADES, f"{where}: grades") if "grades" in m else None,
        region_prefixes=prefixes,
        entity_types=entity_types,
        risk_classes=_choices(m["risk_classes"], RISK_CLASSES, f"{where}: risk_classes")
        if "risk_classes" in m
        else None,
    )


def _parse_formats(value: Any, default: Formats, where: str) -> Formats:
    if value is None:
        return default
    m = _mapping(value, where, set(), {"csv_encoding", "parquet", "spreadsheet"})
    enc = m.get("csv_encoding", default.csv_encoding)
    if enc not in CSV_ENCODINGS:
        raise ConfigError(
            f"{where}: csv_encoding {enc!r} not supported (allowed: {', '.join(CSV_ENCODINGS)})"
        )
    for k in ("parquet", "spreadsheet"):
        if k in m and not isinstance(m[k], bool):
            raise ConfigError(f"{where}: {k} must be true or false, got {m[k]!r}")
    return Formats(enc, m.get("parquet", default.parquet), m.get("spreadsheet", default.spreadsheet))


def _delivery_day(value: Any, where: str) -> int | None:
    if value is None:
        return None
    # 1-28 so that the day exists in every month
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 28:
        raise ConfigError(f"{where}: delivery_day must be a day of the month 1-28 or null, got {value!r}")
    return value


def _retention(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{where}: retention must be a positive number of as_of packages, got {value!r}")
    return value


def _parse_consumers(doc: Any, scenarios: dict[str, Scenario]) -> dict[str, Consumer]:
    top = _mapping(
        doc, CONSUMERS_FILE, {"version", "consumers", "source_document"}, {"defaults", "column_sets"}
    )
    if top["version"] != 1:
        raise ConfigError(f"{CONSUMERS_FILE}: unsupported version {top['version']!r} (expected 1)")
    _text(top["source_document"], f"{CONSUMERS_FILE}: source_document")
    defaults = _mapping(
        top.get("defaults") or {},
        f"{CONSUMERS_FILE}: defaults",
        set(),
        {"formats", "delivery_day", "retention"},
    )
    default_formats = _parse_formats(
        defaults.get("formats"), Formats(), f"{CONSUMERS_FILE}: defaults.formats"
    )
    default_day = _delivery_day(defaults.get("delivery_day"), f"{CONSUMERS_FILE}: defaults.delivery_day")
    default_retention = _retention(defaults.get("retention", 12), f"{CONSUMERS_FILE}: defaults.retention")
    column_sets = top.get("column_sets") or {}
    if not isinstance(column_sets, Mapping):
        raise ConfigError(f"{CONSUMERS_FILE}: column_sets must map names to column lists")
    if not isinstance(top["consumers"], list) or not top["consumers"]:
        raise ConfigError(f"{CONSUMERS_FILE}: consumers must be a non-empty list")

    out: dict[str, Consumer] = {}
    for i, raw in enumerate(top["consumers"]):
        where = f"{CONSUMERS_FILE}: consumer #{i + 1}"
        m = _mapping(
            raw,
            where,
            {"id", "name_zh", "name_en", "scenarios", "tables", "source_document"},
            {"filters", "formats", "delivery_day", "retention"},
        )
        cid = _ident(m["id"], f"{where}: id")
        where = f"{CONSUMERS_FILE}: consumer {cid!r}"
        if cid in out:
            raise ConfigError(f"{where}: duplicate id")
        sc = m["scenarios"]
        if not isinstance(sc, list) or not sc:
            raise ConfigError(f"{where}: scenarios must be a non-empty list")
        for s in sc:
            if s not in scenarios:
                raise ConfigError(f"{where}: unknown scenario {s!r} (see {SCENARIOS_FILE})")
        if len(set(sc)) != len(sc):
            raise ConfigError(f"{where}: duplicate scenarios in {sc}")
        tb = m["tables"]
        if not isinstance(tb, Mapping) or not tb:
            raise ConfigError(f"{where}: tables must map published tables to columns")
        tables: dict[str, tuple[str, ...]] = {}
        for t, cols in tb.items():
            if t not in PUBLISHED_COLUMNS:
                raise ConfigError(
                    f"{where}: unknown table {t!r} (exports read published.{', published.'.join(PUBLISHED_COLUMNS)})"
                )
            tables[t] = _parse_columns(cols, t, column_sets, f"{where}: tables.{t}")
        if "credit_evaluations" not in tables:
            # the scenario's businesses are those of its credit evaluations; a package without
            # them could not say why a business is in it
            raise ConfigError(f"{where}: tables must include credit_evaluations (scenarios serve IBE grades)")
        filters = _parse_filters(m.get("filters"), tables, f"{where}: filters")
        consumer = Consumer(
            id=cid,
            name_zh=_text(m["name_zh"], f"{where}: name_zh"),
            name_en=_text(m["name_en"], f"{where}: name_en"),
            scenarios=tuple(sc),
            tables=tables,
            filters=filters,
            formats=_parse_formats(m.get("formats"), default_formats, f"{where}: formats"),
            delivery_day=_delivery_day(m["delivery_day"], f"{where}: delivery_day")
            if "delivery_day" in m
            else default_day,
            retention=_retention(m["retention"], f"{where}: retention")
            if "retention" in m
            else default_retention,
            source_document=_text(m["source_document"], f"{where}: source_document"),
        )
        for s in consumer.scenarios:
            if not consumer.grades_for(scenarios[s]):
                raise ConfigError(
                    f"{where}: filters.grades {list(filters.grades or ())} leave nothing of scenario {s!r} "
                    f"(it serves {list(scenarios[s].grades)})"
                )
        out[cid] = consumer
    return out
