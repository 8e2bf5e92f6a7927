-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- The 44 third-level indicator scores (三级指标得分) of every active entity at as_of, with the
-- attributes and rule inputs the classification (marts) needs. One row per active entity.
select
    entities.as_of,
    entities.uscc,
    entities.entity_type,
    entities.region_code,
    entities.industry_code,
    entities.established_on,
    entities.farmer_member_ratio,
    entities.is_four_new,
    bas.i01,
    bas.i02,
    bas.i03,
    bas.i04,
    bas.i05,
    bas.i06,
    ops.i07,
    ops.i08,
    ops.i09,
    ops.i10,
    ops.i11,
    ops.i12,
    monthly.i13,
    monthly.i14,
    reg.i15,
    reg.i16,
    reg.i17,
    reg.i18,
    reg.i19,
    reg.i20,
    reg.i21,
    reg.i22,
    reg.i23,
    monthly.i24,
    monthly.i25,
    fin.i26,
    fin.i27,
    monthly.i28,
    monthly.i29,
    soc.i30,
    monthly.i31,
    monthly.i32,
    monthly.i33,
    monthly.i34,
    monthly.i35,
    soc.i36,
    soc.i37,
    eva.i38,
    eva.i39,
    eva.i40,
    eva.i41,
    eva.i42,
    eva.i43,
    eva.i44,
    -- inputs of the direct rules R0-R6
    reg.i20_is_on_serious_dishonesty_now as is_on_serious_dishonesty_now,
    reg.has_unrepaired_revocation_36m,
    fin.i26_is_dishonest_debtor_now as is_dishonest_debtor_now,
    reg.i18_is_abnormal_now as is_abnormal_now,
    soc.i30_tax_rating as latest_tax_rating,
    (
        reg.has_regulatory_record_ever
        or fin.has_debtor_listing_ever
        or eva.has_substantiated_complaint_ever
    ) as has_any_record_ever,
    entities.days_established
from {{ ref('int_entities_active') }} as entities
inner join {{ ref('int_indicators_bas') }} as bas on entities.uscc = bas.uscc
inner join {{ ref('int_indicators_ops') }} as ops on entities.uscc = ops.uscc
inner join {{ ref('int_indicators_monthly') }} as monthly on entities.uscc = monthly.uscc
inner join {{ ref('int_indicators_reg') }} as reg on entities.uscc = reg.uscc
inner join {{ ref('int_indicators_fin') }} as fin on entities.uscc = fin.uscc
inner join {{ ref('int_indicators_soc') }} as soc on entities.uscc = soc.uscc
inner join {{ ref('int_indicators_eva') }} as eva on entities.uscc = eva.uscc
