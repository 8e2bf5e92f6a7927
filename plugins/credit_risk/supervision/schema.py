"""Tables of schema `supervision` (created idempotently by `ensure_schema`).

Results are kept per `as_of` (recomputed when that as_of is re-run); plan and dispatch seeds
are kept forever (a retry reuses them); sandbox and white-list memberships are spells
(entry, exit, reasons) with a per-as_of member snapshot.
"""

from __future__ import annotations

import psycopg

from credit_risk import db

DDL = (
    db.create_schema_sql("supervision")
    + """;

create table if not exists supervision.runs (
    as_of date primary key,
    publication_id bigint,
    previous_as_of date,
    config_sha256 text not null,
    started_at timestamptz not null,
    finished_at timestamptz,
    summary jsonb
);
comment on table supervision.runs is
    'One row per supervised as_of (差异化监管运行): the publication used and the run summary.';

-- §1 spot-check plans (双随机、一公开)
create table if not exists supervision.plan_seeds (
    plan_id text primary key,
    member_unit text not null,
    prefecture char(6) not null,
    plan_period text not null,
    plan_seed char(32) not null,
    created_at timestamptz not null default now(),
    created_for_as_of date not null
);
comment on table supervision.plan_seeds is
    'plan_seed of every plan (32 random hex characters), drawn once when the plan is first made; reused.';

create table if not exists supervision.spot_check_plans (
    as_of date not null,
    plan_id text not null,
    member_unit text not null,
    prefecture char(6) not null,
    plan_period text not null,
    period_start date not null,
    period_end date not null,
    plan_seed char(32) not null,
    publication_id bigint,
    ratio_mode text not null,
    ratios_bp jsonb not null,
    strata integer not null,
    population bigint not null,
    sample integer not null,
    tasks integer not null,
    joint_tasks integer not null,
    application_rate numeric(7, 4) not null,
    primary key (as_of, plan_id)
);
comment on table supervision.spot_check_plans is
    'Spot-check plan (抽查计划) per member unit, prefecture and quarter, as drawn at as_of: seed, ratios, '
    'totals, and the application rate of classification results (share of strata whose ratio came from the class).';

create table if not exists supervision.plan_items (
    as_of date not null,
    item_id text not null,
    member_unit text not null,
    item_name text,
    industry_scope text not null,
    entity_types text not null,
    is_key_item boolean not null,
    primary key (as_of, item_id)
);
comment on table supervision.plan_items is 'Inspection items (联查事项) used by the plans of as_of.';

create table if not exists supervision.plan_frame (
    as_of date not null,
    uscc char(18) not null,
    entity_type text not null,
    industry_division text,
    prefecture char(6) not null,
    risk_class text not null,
    is_white_listed boolean not null,
    is_sandbox_member boolean not null,
    primary key (as_of, uscc)
);
comment on table supervision.plan_frame is
    'Sampling frame of as_of published to auditors: every classified entity with the industry division, '
    'prefecture, class and memberships the draw used.';

create table if not exists supervision.plan_strata (
    as_of date not null,
    plan_id text not null,
    item_id text not null,
    risk_class text not null,
    is_white_listed boolean not null,
    ratio_bp integer not null,
    ratio_source text not null,
    inspection_mode text not null,
    population integer not null,
    sample integer not null,
    primary key (as_of, plan_id, item_id, risk_class, is_white_listed)
);
comment on table supervision.plan_strata is
    'Stratum (plan, item, prefecture, class, white-list flag): population N, ratio (bp) and its source '
    '(class | key_item | white_list | flat), sample n = ceil(bp × N / 10000).';

create table if not exists supervision.spot_check_tasks (
    as_of date not null,
    task_id text not null,
    plan_period text not null,
    prefecture char(6) not null,
    uscc char(18) not null,
    task_type text not null,
    inspection_mode text not null,
    member_units text[] not null,
    item_ids text[] not null,
    first_unit text not null,
    eligible_inspectors integer not null,
    inspector_ids text[] not null,
    is_staffed boolean not null,
    primary key (as_of, task_id)
);
comment on table supervision.spot_check_tasks is
    'Inspection task per entity, period and prefecture (一业一查: joint when several member units selected it); '
    'two inspectors ordered by sha256(seed of the first unit:task_id:inspector_id), 回避 applied; '
    'is_staffed = false when fewer than two eligible inspectors exist (flagged, not dropped).';

-- The drawn lists are kept once, in the tasks (every item and unit that drew the entity); these
-- views give them per plan and per stratum (a plan id is <member_unit>-<prefecture>-<plan_period>).
create or replace view supervision.plan_tasks as
select t.as_of, u.member_unit || '-' || t.prefecture || '-' || t.plan_period as plan_id, t.task_id, t.uscc,
       t.task_type, t.inspection_mode, t.is_staffed
from supervision.spot_check_tasks as t
cross join lateral unnest(t.member_units) as u(member_unit);
comment on view supervision.plan_tasks is
    'Tasks of each plan: a joint task (一业一查) belongs to every plan that selected it.';

create or replace view supervision.plan_samples as
select t.as_of, i.member_unit || '-' || t.prefecture || '-' || t.plan_period as plan_id, i.item_id,
       f.risk_class, f.is_white_listed, t.uscc, t.task_id
from supervision.spot_check_tasks as t
cross join lateral unnest(t.item_ids) as x(item_id)
join supervision.plan_items as i on i.as_of = t.as_of and i.item_id = x.item_id
join supervision.plan_frame as f on f.as_of = t.as_of and f.uscc = t.uscc;
comment on view supervision.plan_samples is
    'Drawn entities per stratum (plan, item, class, white-list flag): the first n by '
    'sha256(plan_seed:item_id:uscc), lower-case hex ascending.';

-- §2 monitoring and early warning (监测预警, 指挥调度)
create table if not exists supervision.warning_batches (
    as_of date not null,
    batch_id text not null,
    rule_id text not null,
    rule_name text not null,
    severity text not null,
    threshold numeric,
    dispatch_threshold integer not null,
    verifying_unit text not null,
    hits integer not null,
    prefectures integer not null,
    primary key (as_of, rule_id)
);
comment on table supervision.warning_batches is 'One warning batch (预警批次) per rule and run.';

create table if not exists supervision.warning_hits (
    as_of date not null,
    rule_id text not null,
    uscc char(18) not null,
    prefecture char(6) not null,
    risk_class text not null,
    evidence jsonb not null,
    primary key (as_of, rule_id, uscc)
);
comment on table supervision.warning_hits is 'Warning hits with their evidence.';

create table if not exists supervision.dispatch_seeds (
    dispatch_id text primary key,
    seed char(32) not null,
    created_at timestamptz not null default now()
);

create table if not exists supervision.dispatch_batches (
    as_of date not null,
    dispatch_id text not null,
    rule_id text not null,
    prefecture char(6) not null,
    verifying_unit text not null,
    seed char(32) not null,
    entities integer not null,
    staffed_tasks integer not null,
    primary key (as_of, dispatch_id)
);
comment on table supervision.dispatch_batches is
    'Dispatch batch (自动派发批次) per rule and prefecture whose hits reached the dispatch threshold.';

create table if not exists supervision.dispatch_tasks (
    as_of date not null,
    dispatch_id text not null,
    task_id text not null,
    uscc char(18) not null,
    member_unit text not null,
    eligible_inspectors integer not null,
    inspector_ids text[] not null,
    is_staffed boolean not null,
    primary key (as_of, task_id)
);
comment on table supervision.dispatch_tasks is 'Verification tasks (核查任务) of the dispatch batches.';

-- §3 sandbox (沙盒监管) and §4 white list (白名单): spells and per-as_of members
create table if not exists supervision.sandbox_memberships (
    uscc char(18) not null,
    entered_as_of date not null,
    grace_ends_on date not null,
    exited_as_of date,
    exit_reasons text[],
    primary key (uscc, entered_as_of)
);
comment on table supervision.sandbox_memberships is
    'Sandbox membership history (internal to the regulator and auditors): entry, 包容期 end, exit and reasons.';

create table if not exists supervision.sandbox_members (
    as_of date not null,
    uscc char(18) not null,
    entered_as_of date not null,
    grace_ends_on date not null,
    tolerated_penalty_id text,
    primary key (as_of, uscc)
);
comment on table supervision.sandbox_members is 'Sandbox members at as_of (left out of the random plans).';

create table if not exists supervision.white_list_memberships (
    uscc char(18) not null,
    entered_as_of date not null,
    exited_as_of date,
    exit_reasons text[],
    primary key (uscc, entered_as_of)
);
comment on table supervision.white_list_memberships is 'White-list membership history: entry, exit and reasons.';

create table if not exists supervision.white_list_members (
    as_of date not null,
    uscc char(18) not null,
    entered_as_of date not null,
    primary key (as_of, uscc)
);
comment on table supervision.white_list_members is 'White-listed entities at as_of (sampled at 1 %, off-site).';

create or replace view supervision.membership_events as
select 'sandbox'::text as list, entered_as_of as as_of, uscc, 'entry'::text as event, null::text[] as reasons
from supervision.sandbox_memberships
union all
select 'sandbox', exited_as_of, uscc, 'exit', exit_reasons
from supervision.sandbox_memberships where exited_as_of is not null
union all
select 'white_list', entered_as_of, uscc, 'entry', null
from supervision.white_list_memberships
union all
select 'white_list', exited_as_of, uscc, 'exit', exit_reasons
from supervision.white_list_memberships where exited_as_of is not null;
comment on view supervision.membership_events is 'Sandbox and white-list entries and exits per as_of, with reasons.';

-- §5 annual-report urging (年报督促)
create table if not exists supervision.annual_report_urging (
    as_of date not null,
    uscc char(18) not null,
    prefecture char(6) not null,
    report_year integer not null,
    risk_class text not null,
    urging_list text not null,
    primary key (as_of, uscc)
);
comment on table supervision.annual_report_urging is
    'Entities with no report for year Y filed by as_of: interview list (约谈, C and D) or reminder list (A and B).';

create table if not exists supervision.annual_report_urging_counts (
    as_of date not null,
    prefecture char(6) not null,
    urging_list text not null,
    entities integer not null,
    primary key (as_of, prefecture, urging_list)
);

-- §6 credit repair (信用修复)
create table if not exists supervision.repair_queue (
    as_of date not null,
    application_id text not null,
    uscc char(18) not null,
    target_type text not null,
    target_record_id text not null,
    applied_on date not null,
    is_eligible boolean not null,
    failing_conditions text[] not null,
    primary key (as_of, application_id)
);
comment on table supervision.repair_queue is
    'Officers'' queue: every application still submitted at as_of, eligible or not, with the failing conditions.';

create table if not exists supervision.repair_guidance (
    as_of date not null,
    uscc char(18) not null,
    prefecture char(6) not null,
    risk_class text not null,
    target_type text not null,
    target_record_id text not null,
    primary key (as_of, uscc, target_type, target_record_id)
);
comment on table supervision.repair_guidance is
    'Guidance list (分类指导): C and D entities holding a record that would be eligible for repair if applied for.';

create table if not exists supervision.repair_stats (
    as_of date primary key,
    applications_in_month integer not null,
    applications_year_to_date integer not null,
    approvals_in_month integer not null,
    approvals_year_to_date integer not null,
    queue_submitted integer not null,
    queue_eligible integer not null,
    guidance_entities integer not null,
    guidance_records integer not null
);
"""
)

# Per-as_of result tables, emptied for an as_of before it is recomputed.
PER_AS_OF_TABLES = (
    "spot_check_plans",
    "plan_items",
    "plan_frame",
    "plan_strata",
    "spot_check_tasks",
    "warning_batches",
    "warning_hits",
    "dispatch_batches",
    "dispatch_tasks",
    "sandbox_members",
    "white_list_members",
    "annual_report_urging",
    "annual_report_urging_counts",
    "repair_queue",
    "repair_guidance",
    "repair_stats",
)


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create schema `supervision` and its tables if missing (idempotent; caller commits)."""
    conn.execute(DDL)
