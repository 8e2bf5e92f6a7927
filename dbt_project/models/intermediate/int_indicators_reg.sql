-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- REG 监管记录 indicators I15-I23 (penalties, abnormal list, serious-dishonesty list, inspections)
-- per active entity, with the rule inputs they carry (R1, R2, R4, R0) and the I44 inputs.
with entities as (
    select uscc
    from {{ ref('int_entities_active') }}
),

-- every penalty decided on or before as_of; "counts" = decided in 36m and not repaired by as_of
penalties_dated as (
    select
        penalties.uscc,
        penalties.record_id,
        penalties.severity,
        penalties.fine_amount,
        {{ within_months('penalties.decided_on', 36) }}
        and (penalties.repaired_on is null or penalties.repaired_on > {{ as_of() }}) as is_counted
    from {{ ref('stg_samr__penalties') }} as penalties
    where penalties.decided_on <= {{ as_of() }}
),

penalty_summary as (
    select
        uscc,
        count(distinct record_id) filter (where is_counted) as unrepaired_penalties_36m,
        -- the worst severity is the highest position in the contract's order (mildest first)
        max(array_position({{ penalty_severity_order() }}, severity)) filter (where is_counted)
            as worst_severity_rank,
        coalesce(sum({{ non_negative('fine_amount') }}) filter (where is_counted), 0) as fine_amount_36m,
        coalesce(bool_or(severity = 'license_revocation') filter (where is_counted), false)
            as has_unrepaired_revocation_36m
    from penalties_dated
    group by uscc
),

-- listings on or before as_of; "now" = not removed by as_of; "in 36m" whether removed or not
abnormal_dated as (
    select
        abnormal.uscc,
        abnormal.record_id,
        abnormal.removed_on is null or abnormal.removed_on > {{ as_of() }} as is_listed_now,
        {{ within_months('abnormal.listed_on', 36) }} as is_in_36m
    from {{ ref('stg_samr__abnormal_list') }} as abnormal
    where abnormal.listed_on <= {{ as_of() }}
),

abnormal_listings as (
    select
        uscc,
        bool_or(is_listed_now) as is_listed_now,
        count(distinct record_id) filter (where is_in_36m) as listings_36m,
        count(distinct record_id) filter (where is_in_36m and is_listed_now) as unremoved_listings_36m
    from abnormal_dated
    group by uscc
),

serious_dishonesty_listings as (
    select
        dishonesty.uscc,
        bool_or(dishonesty.removed_on is null or dishonesty.removed_on > {{ as_of() }}) as is_listed_now,
        count(distinct dishonesty.record_id) filter (
            where {{ within_months('dishonesty.listed_on', 36) }}
        ) as listings_36m
    from {{ ref('stg_samr__serious_dishonesty') }} as dishonesty
    where dishonesty.listed_on <= {{ as_of() }}
    group by dishonesty.uscc
),

inspection_summary as (
    select
        inspections.uscc,
        count(distinct inspections.record_id) as inspections_36m,
        count(distinct inspections.record_id) filter (
            where inspections.result in ('problem_found', 'refused')
        ) as problem_inspections_36m,
        bool_or(inspections.result = 'not_found_at_address') as has_not_found_at_address
    from {{ ref('stg_samr__inspections') }} as inspections
    where {{ within_months('inspections.inspected_on', 36) }}
    group by inspections.uscc
),

raw_values as (
    select
        entities.uscc,
        coalesce(penalty_summary.unrepaired_penalties_36m, 0) as i15_unrepaired_penalties_36m,
        ({{ penalty_severity_order() }})[penalty_summary.worst_severity_rank] as i16_worst_severity,
        coalesce(penalty_summary.fine_amount_36m, 0) as i17_fine_amount_36m,
        coalesce(abnormal_listings.is_listed_now, false) as i18_is_abnormal_now,
        coalesce(abnormal_listings.listings_36m, 0) as i19_abnormal_listings_36m,
        coalesce(serious_dishonesty_listings.is_listed_now, false) as i20_is_on_serious_dishonesty_now,
        coalesce(serious_dishonesty_listings.listings_36m, 0) as i21_serious_dishonesty_listings_36m,
        coalesce(inspection_summary.inspections_36m, 0) as i22_inspections_36m,
        coalesce(inspection_summary.problem_inspections_36m, 0) as i22_problem_inspections_36m,
        coalesce(inspection_summary.has_not_found_at_address, false) as i23_has_not_found_at_address_36m,
        coalesce(abnormal_listings.unremoved_listings_36m, 0) as unremoved_abnormal_listings_36m,
        coalesce(penalty_summary.has_unrepaired_revocation_36m, false) as has_unrepaired_revocation_36m,
        -- R0 "at all": any penalty or listing dated on or before as_of, repaired or removed included
        (
            penalty_summary.uscc is not null
            or abnormal_listings.uscc is not null
            or serious_dishonesty_listings.uscc is not null
        ) as has_regulatory_record_ever
    from entities
    left join penalty_summary on entities.uscc = penalty_summary.uscc
    left join abnormal_listings on entities.uscc = abnormal_listings.uscc
    left join serious_dishonesty_listings on entities.uscc = serious_dishonesty_listings.uscc
    left join inspection_summary on entities.uscc = inspection_summary.uscc
)

select
    uscc,
    i15_unrepaired_penalties_36m,
    i16_worst_severity,
    i17_fine_amount_36m,
    i18_is_abnormal_now,
    i19_abnormal_listings_36m,
    i20_is_on_serious_dishonesty_now,
    i21_serious_dishonesty_listings_36m,
    i22_inspections_36m,
    i22_problem_inspections_36m,
    i23_has_not_found_at_address_36m,
    unremoved_abnormal_listings_36m,
    has_unrepaired_revocation_36m,
    has_regulatory_record_ever,
    {{ band_score('I15', value='i15_unrepaired_penalties_36m') }} as i15,
    {{ band_score('I16', key="coalesce(i16_worst_severity, 'none')") }} as i16,
    {{ band_score('I17', value='i17_fine_amount_36m') }} as i17,
    {{ band_score('I18', key=yes_no('i18_is_abnormal_now')) }} as i18,
    {{ band_score('I19', value='i19_abnormal_listings_36m') }} as i19,
    {{ band_score('I20', key=yes_no('i20_is_on_serious_dishonesty_now')) }} as i20,
    {{ band_score('I21', key="case
        when i20_is_on_serious_dishonesty_now then 'now'
        when i21_serious_dishonesty_listings_36m > 0 then 'listed_36m'
        else 'none'
    end") }} as i21,
    case
        when i22_inspections_36m = 0 then {{ neutral_score('I22') }}
        else 100 - {{ decimal_ratio('100 * i22_problem_inspections_36m', 'i22_inspections_36m') }}
    end as i22,
    {{ band_score('I23', key=yes_no('i23_has_not_found_at_address_36m')) }} as i23
from raw_values
