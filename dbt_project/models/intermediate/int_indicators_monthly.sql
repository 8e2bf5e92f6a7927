-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- Indicators of the four monthly feeds over the 12 periods ending with the month of as_of, per
-- active entity: I13 I14 (OPS3), I24 I25 (FIN1), I28 I29 (FIN3), I31 I32 (SOC1), I33 I34 I35 (SOC2).
-- Each feed is read once: first per entity and period (several records of one period: amounts and
-- head-counts add up, a flag is Y if any record's is, max_days_overdue is the maximum; nulls and
-- negatives count as 0), then per entity.
with entities as (
    select uscc
    from {{ ref('int_entities_active') }}
),

tax_periods as (
    select
        returns.uscc,
        returns.period,
        bool_or(returns.declared) as is_declared,
        sum({{ non_negative('returns.arrears_balance') }}) as arrears_balance,
        bool_or(returns.is_abnormal_taxpayer) as is_abnormal_taxpayer
    from {{ ref('stg_tax__monthly_returns') }} as returns
    where {{ within_12_periods('returns.period') }}
    group by returns.uscc, returns.period
),

tax as (
    select
        uscc,
        count(*) as periods,
        count(*) filter (where is_declared) as months_declared,
        (array_agg(arrears_balance order by period desc))[1] as latest_arrears_balance,
        bool_or(is_abnormal_taxpayer) as is_abnormal_taxpayer
    from tax_periods
    group by uscc
),

social_insurance_periods as (
    select
        contributions.uscc,
        contributions.period,
        sum({{ non_negative('contributions.insured_headcount') }}) as headcount,
        sum({{ non_negative('contributions.amount_due') }}) as amount_due,
        sum({{ non_negative('contributions.amount_paid') }}) as amount_paid,
        sum({{ non_negative('contributions.arrears_balance') }}) as arrears_balance
    from {{ ref('stg_hrss__social_insurance') }} as contributions
    where {{ within_12_periods('contributions.period') }}
    group by contributions.uscc, contributions.period
),

social_insurance as (
    select
        uscc,
        count(*) as periods,
        count(*) filter (where arrears_balance > 0) as months_in_arrears,
        (array_agg(headcount order by period desc))[1] as latest_headcount,
        sum(headcount) as total_headcount,
        sum(amount_due) as amount_due,
        sum(amount_paid) as amount_paid
    from social_insurance_periods
    group by uscc
),

loan_periods as (
    select
        loans.uscc,
        loans.period,
        max({{ non_negative('loans.max_days_overdue') }}) as max_days_overdue
    from {{ ref('stg_fin__loan_performance') }} as loans
    where {{ within_12_periods('loans.period') }}
    group by loans.uscc, loans.period
),

loans as (
    select
        uscc,
        count(*) as periods,
        max(max_days_overdue) as max_days_overdue,
        count(*) filter (where max_days_overdue > 0) as months_overdue
    from loan_periods
    group by uscc
),

utility_periods as (
    select
        bills.uscc,
        bills.period,
        sum({{ non_negative('bills.kwh') }}) as kwh,
        sum({{ non_negative('bills.arrears_balance') }}) as arrears_balance
    from {{ ref('stg_power__utility_bills') }} as bills
    where {{ within_12_periods('bills.period') }}
    group by bills.uscc, bills.period
),

utilities as (
    select
        uscc,
        count(*) as periods,
        count(*) filter (where kwh > 0) as months_with_power_use,
        count(*) filter (where arrears_balance > 0) as months_in_arrears,
        (array_agg(arrears_balance order by period desc))[1] as latest_arrears_balance
    from utility_periods
    group by uscc
),

raw_values as (
    select
        entities.uscc,
        coalesce(utilities.periods, 0) as utility_periods,
        coalesce(tax.periods, 0) as tax_periods,
        coalesce(loans.periods, 0) as loan_periods,
        coalesce(social_insurance.periods, 0) as social_insurance_periods,
        utilities.months_with_power_use as i13_months_with_power_use,
        tax.months_declared as i14_months_declared,
        loans.max_days_overdue as i24_max_days_overdue,
        loans.months_overdue as i25_months_overdue,
        utilities.months_in_arrears as i28_months_in_power_arrears,
        utilities.latest_arrears_balance as i29_latest_power_arrears_balance,
        tax.latest_arrears_balance as i31_latest_tax_arrears_balance,
        coalesce(tax.is_abnormal_taxpayer, false) as i32_is_abnormal_taxpayer,
        social_insurance.months_in_arrears as i33_months_in_insurance_arrears,
        social_insurance.latest_headcount as i34_latest_headcount,
        social_insurance.periods - 1 as i34_other_periods,
        social_insurance.total_headcount - social_insurance.latest_headcount as i34_other_headcount_sum,
        case
            when social_insurance.periods > 1
                then {{ decimal_ratio(
                    'social_insurance.total_headcount - social_insurance.latest_headcount',
                    'social_insurance.periods - 1') }}
        end as i34_mean_other_headcount,
        -- r = latest / mean of the other periods = latest x (periods - 1) / sum of the others
        case
            when
                social_insurance.periods > 1
                and social_insurance.total_headcount - social_insurance.latest_headcount > 0
                then {{ decimal_ratio(
                    'social_insurance.latest_headcount * (social_insurance.periods - 1)',
                    'social_insurance.total_headcount - social_insurance.latest_headcount') }}
        end as i34_headcount_ratio,
        social_insurance.amount_paid as i35_amount_paid,
        social_insurance.amount_due as i35_amount_due
    from entities
    left join tax on entities.uscc = tax.uscc
    left join social_insurance on entities.uscc = social_insurance.uscc
    left join loans on entities.uscc = loans.uscc
    left join utilities on entities.uscc = utilities.uscc
)

select
    uscc,
    utility_periods,
    tax_periods,
    loan_periods,
    social_insurance_periods,
    i13_months_with_power_use,
    i14_months_declared,
    i24_max_days_overdue,
    i25_months_overdue,
    i28_months_in_power_arrears,
    i29_latest_power_arrears_balance,
    i31_latest_tax_arrears_balance,
    i32_is_abnormal_taxpayer,
    i33_months_in_insurance_arrears,
    i34_latest_headcount,
    i34_other_periods,
    i34_other_headcount_sum,
    i34_mean_other_headcount,
    i34_headcount_ratio,
    i35_amount_paid,
    i35_amount_due,
    -- "has no data": no record in the 12 periods -> the neutral score
    case
        when utility_periods = 0 then {{ neutral_score('I13') }}
        else {{ decimal_ratio('100 * i13_months_with_power_use', '12') }}
    end as i13,
    case
        when tax_periods = 0 then {{ neutral_score('I14') }}
        else {{ decimal_ratio('100 * i14_months_declared', '12') }}
    end as i14,
    case
        when loan_periods = 0 then {{ neutral_score('I24') }}
        else {{ band_score('I24', value='i24_max_days_overdue') }}
    end as i24,
    case
        when loan_periods = 0 then {{ neutral_score('I25') }}
        else 100 - {{ decimal_ratio('100 * i25_months_overdue', '12') }}
    end as i25,
    case
        when utility_periods = 0 then {{ neutral_score('I28') }}
        else 100 - {{ decimal_ratio('100 * i28_months_in_power_arrears', '12') }}
    end as i28,
    case
        when utility_periods = 0 then {{ neutral_score('I29') }}
        else {{ band_score('I29', value='i29_latest_power_arrears_balance') }}
    end as i29,
    case
        when tax_periods = 0 then {{ neutral_score('I31') }}
        else {{ band_score('I31', value='i31_latest_tax_arrears_balance') }}
    end as i31,
    {{ band_score('I32', key=yes_no('i32_is_abnormal_taxpayer')) }} as i32,
    case
        when social_insurance_periods = 0 then {{ neutral_score('I33') }}
        else 100 - {{ decimal_ratio('100 * i33_months_in_insurance_arrears', '12') }}
    end as i33,
    -- no other period with a record: the neutral score; both 0, mean 0 and latest > 0: keyed bands
    case
        when social_insurance_periods <= 1 then {{ neutral_score('I34') }}
        else {{ band_score('I34', value='i34_headcount_ratio', key="case
            when i34_other_headcount_sum = 0 and i34_latest_headcount = 0 then 'both_zero'
            when i34_other_headcount_sum = 0 then 'mean_zero'
        end") }}
    end as i34,
    case
        when social_insurance_periods = 0 then {{ neutral_score('I35') }}
        when i35_amount_due = 0 then {{ band_score('I35', key="'due_zero'") }}
        when i35_amount_paid >= i35_amount_due then 100
        else {{ decimal_ratio('100 * i35_amount_paid', 'i35_amount_due') }}
    end as i35
from raw_values
