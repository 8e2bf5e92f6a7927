-- A table, not a view: the dedup over the full history is computed once per build instead of again in
-- every data test and every downstream read (measured at 10% scale: README of models/staging). Statistics
-- right away: the intermediate models read it in the same run.
{{ config(materialized='table', post_hook='analyze {{ this }}') }}

-- Entity registration (登记注册): the rows of the current snapshot, one per uscc (the later row wins).
-- The loader keeps only the latest snapshot; the delivery-date filter makes that explicit.
with latest_delivery as (
    select max(snapshot_rows._delivery_date) as delivery_date
    from {{ source('raw', 'registration') }} as snapshot_rows
)

select distinct on (raw_rows.uscc)
    raw_rows.uscc,
    raw_rows.entity_name,
    raw_rows.entity_type,
    raw_rows.industry_code,
    raw_rows.region_code,
    raw_rows.registered_capital,
    raw_rows.established_on,
    raw_rows.status,
    raw_rows.status_changed_on,
    raw_rows.address,
    raw_rows.legal_rep_name,
    raw_rows.legal_rep_id_no,
    raw_rows.contact_phone,
    raw_rows.is_four_new,
    raw_rows.farmer_member_ratio,
    raw_rows._delivery_date
from {{ source('raw', 'registration') }} as raw_rows
inner join latest_delivery on raw_rows._delivery_date = latest_delivery.delivery_date
-- a key twice in the snapshot: the later file (by name, byte order), then the later line
order by
    raw_rows.uscc asc,
    raw_rows._file_name collate "C" desc,  -- noqa: RF02, RF03
    raw_rows._line_no desc
