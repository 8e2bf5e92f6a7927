"""The departments' delivery contract (../shared/spec/feeds.md, v1) as data.

One source of truth for the generator, the loader, the raw-table DDL, the dbt
sources and the gates. Nothing else in the project spells out a feed's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column types of the contract.
STR = "str"
DATE = "date"
MONTH = "month"
INT = "int"
MONEY = "money"
RATIO = "ratio"
FLAG = "flag"
ENUM = "enum"
USCC = "uscc"
ID_NO = "id_no"  # resident ID (GB 11643)
REGION = "region_code"  # 6 digits
PREFECTURE = "prefecture_code"  # 6 digits ending 00 (inspectors)
INDUSTRY = "industry_code"  # 4 digits

# PostgreSQL type of each contract type in the raw tables.
PG_TYPES: dict[str, str] = {
    STR: "text",
    DATE: "date",
    MONTH: "date",  # first day of the month
    INT: "bigint",
    MONEY: "numeric(18,2)",
    RATIO: "numeric",
    FLAG: "boolean",
    ENUM: "text",
    USCC: "char(18)",
    ID_NO: "text",  # stored as its keyed hash
    REGION: "char(6)",
    PREFECTURE: "char(6)",
    INDUSTRY: "char(4)",
}

# Quarantine reason codes, exactly as the contract names them.
REASONS = (
    "field_count",
    "required_empty",
    "bad_date",
    "bad_month",
    "bad_number",
    "bad_ratio",
    "bad_flag",
    "bad_enum",
    "bad_code",
    "bad_uscc",
    "bad_id_no",
)

# The reason a bad value of each type gets.
REASON_FOR_TYPE: dict[str, str] = {
    DATE: "bad_date",
    MONTH: "bad_month",
    INT: "bad_number",
    MONEY: "bad_number",
    RATIO: "bad_ratio",
    FLAG: "bad_flag",
    ENUM: "bad_enum",
    USCC: "bad_uscc",
    ID_NO: "bad_id_no",
    REGION: "bad_code",
    PREFECTURE: "bad_code",
    INDUSTRY: "bad_code",
}


@dataclass(frozen=True)
class Column:
    """One column of a feed."""

    name: str
    type: str = STR
    required: bool = False
    values: tuple[str, ...] = ()  # enum words
    personal: bool = False  # replaced by its keyed hash before anything is written

    @property
    def pg_type(self) -> str:
        return PG_TYPES[self.type]


@dataclass(frozen=True)
class Feed:
    """One feed of one department."""

    department: str
    name: str
    mode: str  # snapshot | incremental
    columns: tuple[Column, ...]
    title_zh: str = ""
    monthly: bool = False  # a monthly feed (has `period`)
    # personal columns that are personal only when another column has a value
    # (registration_changes: before/after of legal_rep changes)
    conditional_personal: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.department}/{self.name}"

    @property
    def is_event(self) -> bool:
        return self.mode == "incremental"

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """Columns including the event feeds' record_id and deleted."""
        if self.is_event:
            return (Column("record_id", STR, True), *self.columns, Column("deleted", FLAG))
        return self.columns

    @property
    def key_column(self) -> str:
        return "record_id" if self.is_event else self.columns[0].name

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.all_columns if c.required)

    @property
    def personal_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.all_columns if c.personal)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    def column(self, name: str) -> Column:
        for c in self.all_columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _c(
    name: str, type_: str = STR, required: bool = False, values: tuple[str, ...] = (), personal: bool = False
):
    return Column(name, type_, required, values, personal)


R = True  # required marker, for readability below

SEVERITIES = (
    "warning",
    "fine_small",
    "fine_large",
    "confiscation",
    "license_suspension",
    "license_revocation",
)
ENTITY_TYPES = ("enterprise", "individual", "cooperative")

FEEDS: tuple[Feed, ...] = (
    # ---- samr: market regulation 市场监管局
    Feed(
        "samr",
        "registration",
        "snapshot",
        (
            _c("uscc", USCC, R),
            _c("entity_name", STR, R),
            _c("entity_type", ENUM, R, ENTITY_TYPES),
            _c("industry_code", INDUSTRY, R),
            _c("region_code", REGION, R),
            _c("registered_capital", MONEY),
            _c("established_on", DATE, R),
            _c("status", ENUM, R, ("active", "revoked", "deregistered")),
            _c("status_changed_on", DATE),
            _c("address", STR, R),
            _c("legal_rep_name", STR, R, personal=True),
            _c("legal_rep_id_no", ID_NO, R, personal=True),
            _c("contact_phone", STR, personal=True),
            _c("is_four_new", FLAG),
            _c("farmer_member_ratio", RATIO),
        ),
        "登记注册",
    ),
    Feed(
        "samr",
        "registration_changes",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c(
                "change_type",
                ENUM,
                R,
                ("legal_rep", "address", "registered_capital", "name", "scope", "other"),
            ),
            _c("changed_on", DATE, R),
            _c("before_value", STR),
            _c("after_value", STR),
        ),
        "变更登记",
        conditional_personal=(
            ("before_value", "change_type", "legal_rep"),
            ("after_value", "change_type", "legal_rep"),
        ),
    ),
    Feed(
        "samr",
        "annual_reports",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("report_year", INT, R),
            _c("filed_on", DATE, R),
            _c("employees", INT),
            _c("revenue", MONEY),
            _c("is_false_report", FLAG),
        ),
        "年度报告",
    ),
    Feed(
        "samr",
        "penalties",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("decision_no", STR, R),
            _c("decided_on", DATE, R),
            _c("violation_type", STR, R),
            _c("severity", ENUM, R, SEVERITIES),
            _c("fine_amount", MONEY),
            _c("publicity_end_on", DATE),
            _c("repaired_on", DATE),
        ),
        "行政处罚",
    ),
    Feed(
        "samr",
        "abnormal_list",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("listed_on", DATE, R),
            _c(
                "reason",
                ENUM,
                R,
                ("annual_report_missing", "unreachable_address", "false_info", "failure_to_disclose"),
            ),
            _c("removed_on", DATE),
            _c("removal_reason", STR),
        ),
        "经营异常名录",
    ),
    Feed(
        "samr",
        "serious_dishonesty",
        "incremental",
        (_c("uscc", USCC, R), _c("listed_on", DATE, R), _c("reason", STR, R), _c("removed_on", DATE)),
        "严重违法失信名单",
    ),
    Feed(
        "samr",
        "inspections",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("task_id", STR, R),
            _c("member_unit", STR, R),
            _c("inspected_on", DATE, R),
            _c("inspection_type", ENUM, R, ("random", "targeted", "triggered", "joint")),
            _c("result", ENUM, R, ("no_problem", "problem_found", "not_found_at_address", "refused")),
            _c("inspector_ids", STR),
        ),
        "抽查检查结果",
    ),
    Feed(
        "samr",
        "complaints",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("received_on", DATE, R),
            _c("channel", ENUM, R, ("12315", "12345", "other")),
            _c("category", STR, R),
            _c("substantiated", FLAG),
        ),
        "投诉举报",
    ),
    Feed(
        "samr",
        "credit_repairs",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("target_type", ENUM, R, ("penalty", "abnormal_list", "serious_dishonesty")),
            _c("target_record_id", STR, R),
            _c("applied_on", DATE, R),
            _c("status", ENUM, R, ("submitted", "approved", "rejected")),
            _c("decided_on", DATE),
        ),
        "信用修复申请",
    ),
    Feed(
        "samr",
        "inspection_items",
        "snapshot",
        (
            _c("item_id", STR, R),
            _c("member_unit", STR, R),
            _c("item_name", STR, R),
            _c("industry_scope", STR, R),
            _c("entity_types", STR, R),
            _c("is_key_item", FLAG, R),
        ),
        "联查事项清单",
    ),
    Feed(
        "samr",
        "inspectors",
        "snapshot",
        (
            _c("inspector_id", STR, R),
            _c("member_unit", STR, R),
            _c("region_code", PREFECTURE, R),
            _c("is_active", FLAG, R),
        ),
        "执法检查人员",
    ),
    # ---- tax 税务局
    Feed(
        "tax",
        "credit_ratings",
        "incremental",
        (_c("uscc", USCC, R), _c("rating_year", INT, R), _c("rating", ENUM, R, ("A", "B", "M", "C", "D"))),
        "纳税信用等级",
    ),
    Feed(
        "tax",
        "monthly_returns",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("period", MONTH, R),
            _c("declared", FLAG, R),
            _c("tax_paid", MONEY),
            _c("arrears_balance", MONEY),
            _c("is_abnormal_taxpayer", FLAG, R),
        ),
        "月度申报",
        monthly=True,
    ),
    # ---- hrss 人社厅
    Feed(
        "hrss",
        "social_insurance",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("period", MONTH, R),
            _c("insured_headcount", INT, R),
            _c("amount_due", MONEY, R),
            _c("amount_paid", MONEY, R),
            _c("arrears_balance", MONEY, R),
        ),
        "社保缴纳",
        monthly=True,
    ),
    Feed(
        "hrss",
        "wage_arrears",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("case_no", STR, R),
            _c("opened_on", DATE, R),
            _c("amount", MONEY, R),
            _c("workers_affected", INT, R),
            _c("resolved_on", DATE),
        ),
        "欠薪案件",
    ),
    # ---- fin 人民银行 / 金融监管
    Feed(
        "fin",
        "loan_performance",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("period", MONTH, R),
            _c("loans_outstanding", MONEY, R),
            _c("max_days_overdue", INT, R),
        ),
        "信贷履约",
        monthly=True,
    ),
    # ---- power 电力公司
    Feed(
        "power",
        "utility_bills",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("period", MONTH, R),
            _c("kwh", INT, R),
            _c("amount_billed", MONEY, R),
            _c("amount_paid", MONEY, R),
            _c("arrears_balance", MONEY, R),
        ),
        "电费缴纳",
        monthly=True,
    ),
    # ---- court 法院
    Feed(
        "court",
        "dishonest_debtors",
        "incremental",
        (_c("uscc", USCC, R), _c("case_no", STR, R), _c("listed_on", DATE, R), _c("removed_on", DATE)),
        "失信被执行人",
    ),
    # ---- bizenv 营商环境建设监督局
    Feed(
        "bizenv",
        "credit_commitments",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c("commitment_type", STR, R),
            _c("committed_on", DATE, R),
            _c("status", ENUM, R, ("pending", "kept", "broken")),
            _c("evaluated_on", DATE),
        ),
        "信用承诺",
    ),
    Feed(
        "bizenv",
        "honors",
        "incremental",
        (
            _c("uscc", USCC, R),
            _c(
                "honor_type",
                ENUM,
                R,
                ("contract_abiding", "a_taxpayer", "quality_award", "ad_alliance_member", "other"),
            ),
            _c("awarded_on", DATE, R),
            _c("valid_until", DATE),
        ),
        "荣誉表彰",
    ),
)

FEEDS_BY_KEY: dict[str, Feed] = {f.key: f for f in FEEDS}
FEEDS_BY_NAME: dict[str, Feed] = {f.name: f for f in FEEDS}
DEPARTMENTS: tuple[str, ...] = tuple(dict.fromkeys(f.department for f in FEEDS))
MONTHLY_FEEDS: tuple[str, ...] = tuple(f.name for f in FEEDS if f.monthly)

# Metadata columns every raw table carries after the contract's columns.
RAW_META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_delivery_id", "bigint not null"),
    ("_delivery_date", "date not null"),
    ("_file_name", "text not null"),
    ("_line_no", "bigint not null"),
)


def feed(department: str, name: str) -> Feed:
    """The feed `department/name`; KeyError for an unknown feed."""
    return FEEDS_BY_KEY[f"{department}/{name}"]


def raw_table_ddl(f: Feed) -> str:
    """CREATE TABLE statement of a feed's typed raw table."""
    cols = [f'"{c.name}" {c.pg_type}' for c in f.all_columns]
    cols += [f"{n} {t}" for n, t in RAW_META_COLUMNS]
    return f"create table if not exists raw.{f.name} (\n    " + ",\n    ".join(cols) + "\n)"
