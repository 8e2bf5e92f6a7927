-- A table, not a view: the dedup over the full history is computed once per build instead of again in
-- every data test and every downstream read (measured at 10% scale: README of models/staging). Statistics
-- right away: the intermediate models read it in the same run.
{{ config(materialized='table', post_hook='analyze {{ this }}') }}

-- Administrative penalties (行政处罚): the latest version of each record_id; retracted records removed.
with latest_versions as (
    select distinct on (raw_rows.record_id)
        raw_rows.record_id,
        raw_rows.uscc,
        raw_rows.decision_no,
        raw_rows.decided_on,
        raw_rows.violation_type,
        raw_rows.severity,
        raw_rows.fine_amount,
        raw_rows.publicity_end_on,
        raw_rows.repaired_on,
        raw_rows.deleted,
        raw_rows._delivery_date
    from {{ source('raw', 'penalties') }} as raw_rows
    -- latest delivery, then the later file (by name, byte order), then the later line
    order by
        raw_rows.record_id asc,
        raw_rows._delivery_date desc,
        raw_rows._file_name collate "C" desc,  -- noqa: RF03
        raw_rows._line_no desc
)

select
    record_id,
    uscc,
    decision_no,
    decided_on,
    violation_type,
    severity,
    fine_amount,
    publicity_end_on,
    repaired_on,
    _delivery_date
from latest_versions
where not coalesce(deleted, false)
