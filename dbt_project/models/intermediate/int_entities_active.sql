-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- Entities active at as_of (在营主体), from the current registration snapshot: the registry.
-- Active: established on or before as_of, and status active or a non-active status that changed
-- after as_of. Records of other feeds whose uscc is not here (orphans) score nothing.
select
    {{ as_of() }} as as_of,
    registry.uscc,
    registry.entity_type,
    registry.region_code,
    registry.industry_code,
    registry.registered_capital,
    registry.established_on,
    registry.status,
    registry.status_changed_on,
    {{ normalized_address('registry.address') }} as normalized_address,
    registry.legal_rep_id_no,
    registry.contact_phone,
    registry.is_four_new,
    registry.farmer_member_ratio,
    {{ as_of() }} - registry.established_on as days_established
from {{ ref('stg_samr__registration') }} as registry
where
    registry.established_on <= {{ as_of() }}
    and (registry.status = 'active' or registry.status_changed_on > {{ as_of() }})
