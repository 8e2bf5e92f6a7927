-- A table, not a view: the dedup over the full history is computed once per build instead of again in
-- every data test and every downstream read (measured at 10% scale: README of models/staging). Statistics
-- right away: the intermediate models read it in the same run.
{{ config(materialized='table', post_hook='analyze {{ this }}') }}

-- Tax credit ratings (纳税信用等级): the latest version of each record_id; retracted records removed.
with latest_versions as (
    select distinct on (raw_rows.record_id)
        raw_rows.record_id,
        raw_rows.uscc,
        raw_rows.rating_year,
        raw_rows.rating,
        raw_rows.deleted,
        raw_rows._delivery_date
    from {{ source('raw', 'credit_ratings') }} as raw_rows
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
    rating_year,
    rating,
    _delivery_date
from latest_versions
where not coalesce(deleted, false)
