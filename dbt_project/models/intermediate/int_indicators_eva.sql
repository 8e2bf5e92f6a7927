-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- EVA 社会评价 indicators I38-I44 (complaints, credit commitments, honors, credit repairs) per active
-- entity, with the R0 input of substantiated complaints. I44 also reads the unrepaired penalties and
-- abnormal listings of int_indicators_reg.
with entities as (
    select uscc
    from {{ ref('int_entities_active') }}
),

complaints_dated as (
    select
        complaints.uscc,
        complaints.record_id,
        complaints.substantiated,
        {{ within_months('complaints.received_on', 12) }} as is_in_12m,
        {{ within_months('complaints.received_on', 3) }} as is_in_3m,
        -- "the 9 months before": as_of - 12 months < d <= as_of - 3 months
        complaints.received_on > {{ months_before(12) }}
        and complaints.received_on <= {{ months_before(3) }} as is_in_9m_before
    from {{ ref('stg_samr__complaints') }} as complaints
    where complaints.received_on <= {{ as_of() }}
),

complaint_counts as (
    select
        uscc,
        count(distinct record_id) filter (where is_in_12m) as complaints_12m,
        count(distinct record_id) filter (where is_in_3m) as complaints_3m,
        count(distinct record_id) filter (where is_in_9m_before) as complaints_9m_before,
        count(distinct record_id) filter (where is_in_12m and substantiated is not null) as decided_complaints_12m,
        count(distinct record_id) filter (where is_in_12m and substantiated) as substantiated_complaints_12m,
        coalesce(bool_or(substantiated), false) as has_substantiated_ever
    from complaints_dated
    group by uscc
),

commitment_counts as (
    select
        commitments.uscc,
        count(distinct commitments.record_id) filter (where commitments.status = 'broken') as broken_36m,
        count(distinct commitments.record_id) filter (where commitments.status = 'kept') as kept_36m
    from {{ ref('stg_bizenv__credit_commitments') }} as commitments
    where {{ within_months('commitments.evaluated_on', 36) }}
    group by commitments.uscc
),

honors_in_force as (
    select
        honors.uscc,
        count(distinct honors.record_id) as honors
    from {{ ref('stg_bizenv__honors') }} as honors
    where
        honors.awarded_on <= {{ as_of() }}
        and (honors.valid_until is null or honors.valid_until >= {{ as_of() }})
    group by honors.uscc
),

approved_repairs as (
    select distinct repairs.uscc
    from {{ ref('stg_samr__credit_repairs') }} as repairs
    where repairs.status = 'approved' and {{ within_months('repairs.decided_on', 36) }}
),

raw_values as (
    select
        entities.uscc,
        coalesce(complaint_counts.complaints_12m, 0) as i38_complaints_12m,
        coalesce(complaint_counts.complaints_3m, 0) as i39_complaints_3m,
        coalesce(complaint_counts.complaints_9m_before, 0) as i39_complaints_9m_before,
        -- surge: c3 >= 3 and c3 / 3 >= 3 x c9 / 9, compared multiplied by 9 to stay in integers
        coalesce(
            complaint_counts.complaints_3m >= 3
            and complaint_counts.complaints_3m * 3 >= 3 * complaint_counts.complaints_9m_before,
            false
        ) as i39_is_surge,
        coalesce(complaint_counts.decided_complaints_12m, 0) as i40_decided_complaints_12m,
        coalesce(complaint_counts.substantiated_complaints_12m, 0) as i40_substantiated_complaints_12m,
        coalesce(commitment_counts.broken_36m, 0) as i41_broken_commitments_36m,
        coalesce(commitment_counts.kept_36m, 0) as i42_kept_commitments_36m,
        coalesce(honors_in_force.honors, 0) as i43_honors_in_force,
        approved_repairs.uscc is not null as i44_has_approved_repair_36m,
        reg.i15_unrepaired_penalties_36m + reg.unremoved_abnormal_listings_36m as i44_unrepaired_records_36m,
        coalesce(complaint_counts.has_substantiated_ever, false) as has_substantiated_complaint_ever
    from entities
    inner join {{ ref('int_indicators_reg') }} as reg on entities.uscc = reg.uscc
    left join complaint_counts on entities.uscc = complaint_counts.uscc
    left join commitment_counts on entities.uscc = commitment_counts.uscc
    left join honors_in_force on entities.uscc = honors_in_force.uscc
    left join approved_repairs on entities.uscc = approved_repairs.uscc
)

select
    uscc,
    i38_complaints_12m,
    i39_complaints_3m,
    i39_complaints_9m_before,
    i39_is_surge,
    i40_decided_complaints_12m,
    i40_substantiated_complaints_12m,
    i41_broken_commitments_36m,
    i42_kept_commitments_36m,
    i43_honors_in_force,
    i44_has_approved_repair_36m,
    i44_unrepaired_records_36m,
    has_substantiated_complaint_ever,
    {{ band_score('I38', value='i38_complaints_12m') }} as i38,
    {{ band_score('I39', key="case when i39_is_surge then 'surge' else 'no_surge' end") }} as i39,
    case
        when i40_decided_complaints_12m = 0 then {{ band_score('I40', key="'none'") }}
        else 100 - {{ decimal_ratio('100 * i40_substantiated_complaints_12m', 'i40_decided_complaints_12m') }}
    end as i40,
    {{ band_score('I41', value='i41_broken_commitments_36m') }} as i41,
    {{ band_score('I42', value='i42_kept_commitments_36m') }} as i42,
    {{ band_score('I43', value='i43_honors_in_force') }} as i43,
    {{ band_score('I44', key="case
        when i44_has_approved_repair_36m then 'approved_repair'
        when i44_unrepaired_records_36m > 0 then 'unrepaired_record'
        else 'none'
    end") }} as i44
from raw_values
