-- A table, not a view: the dedup over the full history is computed once per build instead of again in
-- every data test and every downstream read (measured at 10% scale: README of models/staging). Statistics
-- right away: the intermediate models read it in the same run.
{{ config(materialized='table', post_hook='analyze {{ this }}') }}

-- Law-enforcement inspectors (执法检查人员): the rows of the current snapshot, one per inspector_id (the later row wins).
-- The loader keeps only the latest snapshot; the delivery-date filter makes that explicit.
with latest_delivery as (
    select max(snapshot_rows._delivery_date) as delivery_date
    from {{ source('raw', 'inspectors') }} as snapshot_rows
)

select distinct on (raw_rows.inspector_id)
    raw_rows.inspector_id,
    raw_rows.member_unit,
    raw_rows.region_code,
    raw_rows.is_active,
    raw_rows._delivery_date
from {{ source('raw', 'inspectors') }} as raw_rows
inner join latest_delivery on raw_rows._delivery_date = latest_delivery.delivery_date
-- a key twice in the snapshot: the later file (by name, byte order), then the later line
order by
    raw_rows.inspector_id asc,
    raw_rows._file_name collate "C" desc,  -- noqa: RF02, RF03
    raw_rows._line_no desc
