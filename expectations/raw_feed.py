"""Raw gate: one suite per feed, `raw.<feed>` (feeds.md v1 "Bad deliveries").

Window: the deliveries of the feed loaded since the previous publication, i.e. ledger rows
with `since < delivery_id <= upto` (`since` = the high-water mark the previous successful
publication recorded, `upto` = the highest delivery id when this gate started). History
that earlier publications already passed is not rescanned, except for freshness (below).

One query per feed computes its aggregates in one pass and returns them as a few rows: a
`deliveries` row with the rates and freshness (checked against gates.yml bounds), and one
row per check in a `violations` column (each must be 0; a failure names its `subject`):
- from the load ledger (ingest.deliveries): the accounting identity of every accepted
  delivery (rows_manifest = rows_loaded + rows_quarantined), rejected deliveries loaded
  nothing, quarantine and orphan rates;
- from ingest.quarantine: one quarantined row recorded per counted quarantined row;
- from the raw rows of the window (one pass): the rows the ledger says were loaded are there
  (event feeds keep every version, so the counts must match), every row belongs to an
  accepted delivery, required columns are not null, enum columns hold contract words, dates
  and periods are plausible, ratios in [0, 1], personal columns hold 64-hex keyed hashes;
- freshness (monthly feeds): an accepted delivery containing rows whose `period` is the
  as_of month exists — looked for in the window first, in the whole table only if needed.
  The literal reading of "an accepted delivery for the as_of month": measured against
  as_of, never the clock.
Amounts are not bounded: the contract allows negatives (they count as 0).
"""

from __future__ import annotations

from credit_risk import feeds
from credit_risk.gates.suites import (
    SuiteContext,
    SuiteSpec,
    at_least,
    at_most,
    each_between,
    sql_list,
)

GATE = "raw"


def _not_hash(column: str) -> str:
    """SQL: the value is not a 64-character hex string (a keyed hash). bytea's hex parser
    does the character check in C: a regex with {64} costs ~15 µs a row here, this ~0.2."""
    return f"not (octet_length({column}) = 64 and pg_input_is_valid('\\x' || {column}, 'bytea'))"


# What each ledger-level check counts (the row checks carry their own descriptions).
CHECKS = (
    (
        "accounting_violations",
        "accepted deliveries where rows in the manifest <> rows loaded + rows quarantined",
    ),
    ("rejected_with_rows", "rejected deliveries that loaded rows or record no reason"),
    ("quarantine_rows_not_in_ledger", "quarantined rows in ingest.quarantine minus those the ledger counts"),
    ("rows_without_accepted_delivery", "raw rows of the window that belong to no accepted delivery"),
    ("raw_rows_not_in_ledger", "raw rows of the window minus the rows the ledger says were loaded"),
    ("rows_of_superseded_snapshots", "raw snapshot rows not from the latest accepted delivery"),
)


def _row_checks(feed: feeds.Feed, ctx: SuiteContext) -> list[tuple[str, str, str]]:
    """(column alias, SQL count expression, description) for the window's raw rows."""
    lo, hi = ctx.date(ctx.settings.date_min), ctx.date(ctx.settings.date_max)
    out: list[tuple[str, str, str]] = []
    for c in feed.all_columns:
        q = f'"{c.name}"'
        if c.required:
            out.append(
                (
                    f"null_{c.name}",
                    f"count(*) filter (where {q} is null)",
                    f"required column {c.name} is never null",
                )
            )
        if c.type == feeds.ENUM:
            out.append(
                (
                    f"bad_{c.name}",
                    f"count(*) filter (where {q} not in {sql_list(c.values)})",
                    f"{c.name} is one of {', '.join(c.values)}",
                )
            )
        elif c.type == feeds.DATE:
            out.append(
                (
                    f"absurd_{c.name}",
                    f"count(*) filter (where {q} < {lo} or {q} > {hi})",
                    f"{c.name} between {ctx.settings.date_min} and {ctx.settings.date_max}",
                )
            )
        elif c.type == feeds.MONTH:
            out.append(
                (
                    f"bad_{c.name}",
                    f"count(*) filter (where {q} <> date_trunc('month', {q})::date or {q} < {lo} or {q} > {hi})",
                    f"{c.name} is the first day of a month between {ctx.settings.date_min} and {ctx.settings.date_max}",
                )
            )
        elif c.type == feeds.RATIO:
            out.append(
                (f"bad_{c.name}", f"count(*) filter (where {q} < 0 or {q} > 1)", f"{c.name} in [0, 1]")
            )
        elif c.type == feeds.INT and c.name.endswith("_year"):
            y0, y1 = ctx.settings.date_min.year, ctx.settings.date_max.year
            out.append(
                (
                    f"absurd_{c.name}",
                    f"count(*) filter (where {q} < {y0} or {q} > {y1})",
                    f"{c.name} between {y0} and {y1}",
                )
            )
        if c.personal:
            out.append(
                (
                    f"clear_{c.name}",
                    f"count(*) filter (where {_not_hash(q)})",
                    f"personal column {c.name} holds only keyed hashes (64 hex characters)",
                )
            )
    for col, cond_col, cond_val in feed.conditional_personal:
        value, condition = f'"{col}"', f'"{cond_col}"'
        out.append(
            (
                f"clear_{col}",
                f"count(*) filter (where {condition} = '{cond_val}' and {_not_hash(value)})",
                f"{col} of {cond_val} changes holds only keyed hashes",
            )
        )
    return out


def _suite(feed: feeds.Feed, ctx: SuiteContext) -> SuiteSpec:
    dept, name = feed.department, feed.name
    table = f"raw.{name}"
    since, upto = ctx.since_delivery_id, ctx.upto_delivery_id
    row_checks = _row_checks(feed, ctx)
    fresh = name in ctx.settings.freshness_feeds and feed.monthly
    month = ctx.as_of_month_sql
    accepted_all = (
        f"select delivery_id from ingest.deliveries where department = '{dept}' and feed = '{name}' "
        "and status = 'accepted'"
    )
    if ctx.has_table(table):
        checks_sql = "".join(f",\n            {expr} as {alias}" for alias, expr, _ in row_checks)
        fresh_sql = (
            f",\n            count(*) filter (where period = {month}) as as_of_month_rows" if fresh else ""
        )
        rows_cte = f"""
        select
            count(*) as raw_rows,
            count(*) filter (where _delivery_id not in (select delivery_id from accepted)) as rows_without_accepted_delivery{checks_sql}{fresh_sql}
        from {table}
        where _delivery_id > {since} and _delivery_id <= {upto}"""
        superseded = (
            f"(select count(*) from {table} where _delivery_id <> coalesce((select delivery_id from ingest.deliveries "
            f"where department = '{dept}' and feed = '{name}' and status = 'accepted' "
            "order by delivery_date desc, delivery_id desc limit 1), -1))"
        )
        history_fresh = (
            f"(select count(*) from (select 1 from {table} where period = {month} "
            f"and _delivery_id in ({accepted_all}) limit 1) as found)"
        )
    else:
        # A feed never loaded has no raw table: nothing in it, which the ledger must agree with.
        zeros = "".join(f", 0::bigint as {alias}" for alias, _, _ in row_checks)
        fresh_zero = ", 0::bigint as as_of_month_rows" if fresh else ""
        rows_cte = (
            f"select 0::bigint as raw_rows, 0::bigint as rows_without_accepted_delivery{zeros}{fresh_zero}"
        )
        superseded = "0::bigint"
        history_fresh = "0::bigint"

    checks = [
        ("accounting_violations", "l.accounting_violations"),
        ("rejected_with_rows", "l.rejected_with_rows"),
        ("quarantine_rows_not_in_ledger", "q.quarantine_rows - l.rows_quarantined"),
        ("rows_without_accepted_delivery", "r.rows_without_accepted_delivery"),
    ]
    if feed.is_event:
        checks.append(("raw_rows_not_in_ledger", "r.raw_rows - l.rows_loaded"))
    else:
        checks.append(("rows_of_superseded_snapshots", superseded))
    checks += [(alias, f"r.{alias}") for alias, _, _ in row_checks]
    fresh_value = (
        f"(case when r.as_of_month_rows > 0 then 1 else {history_fresh} end)" if fresh else "null::int"
    )
    values = ",\n        ".join(f"('{alias}', ({expr})::bigint, null, null, null)" for alias, expr in checks)
    query = f"""
with window_deliveries as (
    select delivery_id, status, reason, rows_manifest, rows_loaded, rows_quarantined, orphan_rows
    from ingest.deliveries
    where department = '{dept}' and feed = '{name}' and delivery_id > {since} and delivery_id <= {upto}
),
accepted as (select delivery_id from window_deliveries where status = 'accepted'),
ledger as (
    select
        count(*) filter (where status = 'accepted') as accepted_deliveries,
        count(*) filter (where status = 'accepted' and (rows_manifest is null or rows_loaded is null
            or rows_quarantined is null or rows_manifest <> rows_loaded + rows_quarantined)) as accounting_violations,
        count(*) filter (where status = 'rejected' and (coalesce(rows_loaded, 0) <> 0 or reason is null))
            as rejected_with_rows,
        coalesce(sum(rows_manifest) filter (where status = 'accepted'), 0) as rows_manifest,
        coalesce(sum(rows_loaded) filter (where status = 'accepted'), 0) as rows_loaded,
        coalesce(sum(rows_quarantined) filter (where status = 'accepted'), 0) as rows_quarantined,
        coalesce(sum(orphan_rows) filter (where status = 'accepted'), 0) as orphan_rows
    from window_deliveries
),
quarantined as (
    select count(*) as quarantine_rows from ingest.quarantine where delivery_id in (select delivery_id from accepted)
),
r as ({rows_cte}
)
select v.*
from ledger l cross join quarantined q cross join r
cross join lateral (values
        ('deliveries', null::bigint,
         coalesce(l.rows_quarantined::float8 / nullif(l.rows_manifest, 0), 0),
         coalesce(l.orphan_rows::float8 / nullif(l.rows_loaded, 0), 0),
         {fresh_value}),
        {values}
    ) as v(subject, violations, quarantine_rate, orphan_rate, as_of_month_delivered)
"""
    exp = [
        each_between(
            "violations", 0, 0, "no contract violation in the deliveries since the previous publication"
        ),
        at_most(
            "quarantine_rate",
            ctx.settings.feed_limit(name, "quarantine_rate_max"),
            "rows quarantined / rows in the manifests since the previous publication",
        ),
    ]
    if feed.is_event and any(c.name == "uscc" for c in feed.all_columns):
        exp.append(
            at_most(
                "orphan_rate",
                ctx.settings.feed_limit(name, "orphan_rate_max"),
                "rows whose uscc is not in the registration snapshot / rows loaded since the previous publication",
            )
        )
    if fresh:
        exp.append(
            at_least(
                "as_of_month_delivered", 1, f"an accepted delivery holds rows of period {ctx.as_of:%Y-%m}"
            )
        )
    meaning = dict(CHECKS)
    meaning.update({alias: desc for alias, _, desc in row_checks})
    legend = "; ".join(f"{alias}: {meaning[alias]}" for alias, _ in checks)
    return SuiteSpec(
        name=f"raw.{name}",
        query=query,
        expectations=exp,
        description=f"{dept}/{name} {feed.title_zh}: deliveries loaded since the previous publication "
        f"(delivery_id in ({since}, {upto}]). Each row of `violations` counts one check's violations "
        f"(0 expected): {legend}",
    )


def suites(ctx: SuiteContext) -> list[SuiteSpec]:
    """One suite per feed of the contract."""
    return [_suite(f, ctx) for f in feeds.FEEDS]
