-- A view: read only to explain scores (nothing in the pipeline reads it), so the join of the domain
-- tables of this as_of is not paid on every run.
{{ config(materialized='view') }}

-- The raw values behind the 44 indicator scores (三级指标原始值) of every active entity at as_of, for
-- explanation to analysts and credit-repair officers and for tests. One row per active entity.
select
    entities.as_of,
    entities.uscc,
    bas.i01_years_established,
    bas.i02_registered_capital,
    bas.i03_entities_at_address,
    bas.i04_entities_with_legal_rep,
    bas.i05_entities_with_phone,
    bas.i06_industry_division,
    bas.i06_industry_risk_tier,
    ops.i07_legal_rep_changes_12m,
    ops.i08_address_changes_12m,
    ops.i09_max_capital_change_ratio_12m,
    ops.i10_report_year,
    ops.i10_first_filed_on,
    ops.i10_report_status,
    ops.i11_years_without_report,
    ops.i12_has_false_report,
    monthly.i13_months_with_power_use,
    monthly.i14_months_declared,
    reg.i15_unrepaired_penalties_36m,
    reg.i16_worst_severity,
    reg.i17_fine_amount_36m,
    reg.i18_is_abnormal_now,
    reg.i19_abnormal_listings_36m,
    reg.i20_is_on_serious_dishonesty_now,
    reg.i21_serious_dishonesty_listings_36m,
    reg.i22_inspections_36m,
    reg.i22_problem_inspections_36m,
    reg.i23_has_not_found_at_address_36m,
    monthly.i24_max_days_overdue,
    monthly.i25_months_overdue,
    fin.i26_is_dishonest_debtor_now,
    fin.i27_debtor_listings_36m,
    monthly.i28_months_in_power_arrears,
    monthly.i29_latest_power_arrears_balance,
    soc.i30_rating_year,
    soc.i30_tax_rating,
    monthly.i31_latest_tax_arrears_balance,
    monthly.i32_is_abnormal_taxpayer,
    monthly.i33_months_in_insurance_arrears,
    monthly.i34_latest_headcount,
    monthly.i34_other_periods,
    monthly.i34_other_headcount_sum,
    monthly.i34_mean_other_headcount,
    monthly.i34_headcount_ratio,
    monthly.i35_amount_paid,
    monthly.i35_amount_due,
    soc.i36_wage_arrears_cases_36m,
    soc.i37_has_unresolved_wage_arrears,
    eva.i38_complaints_12m,
    eva.i39_complaints_3m,
    eva.i39_complaints_9m_before,
    eva.i39_is_surge,
    eva.i40_decided_complaints_12m,
    eva.i40_substantiated_complaints_12m,
    eva.i41_broken_commitments_36m,
    eva.i42_kept_commitments_36m,
    eva.i43_honors_in_force,
    eva.i44_has_approved_repair_36m,
    eva.i44_unrepaired_records_36m,
    monthly.utility_periods,
    monthly.tax_periods,
    monthly.loan_periods,
    monthly.social_insurance_periods,
    reg.unremoved_abnormal_listings_36m,
    reg.has_unrepaired_revocation_36m,
    reg.has_regulatory_record_ever,
    fin.has_debtor_listing_ever,
    eva.has_substantiated_complaint_ever
from {{ ref('int_entities_active') }} as entities
inner join {{ ref('int_indicators_bas') }} as bas on entities.uscc = bas.uscc
inner join {{ ref('int_indicators_ops') }} as ops on entities.uscc = ops.uscc
inner join {{ ref('int_indicators_monthly') }} as monthly on entities.uscc = monthly.uscc
inner join {{ ref('int_indicators_reg') }} as reg on entities.uscc = reg.uscc
inner join {{ ref('int_indicators_fin') }} as fin on entities.uscc = fin.uscc
inner join {{ ref('int_indicators_soc') }} as soc on entities.uscc = soc.uscc
inner join {{ ref('int_indicators_eva') }} as eva on entities.uscc = eva.uscc
