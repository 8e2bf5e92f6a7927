-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- SOC 社会责任 indicators I30 (tax credit rating), I36 and I37 (wage arrears) per active entity,
-- with the R5 input. I31-I35 come from the monthly feeds (int_indicators_monthly).
with entities as (
    select uscc
    from {{ ref('int_entities_active') }}
),

-- the latest rating year up to year(as_of) - 1; several ratings in that year: the worst counts
ratings as (
    select
        credit_ratings.uscc,
        max(credit_ratings.rating_year) as rating_year,
        (array_agg(
            credit_ratings.rating
            order by
                credit_ratings.rating_year desc,
                array_position({{ tax_rating_order() }}, credit_ratings.rating) desc
        ))[1] as rating
    from {{ ref('stg_tax__credit_ratings') }} as credit_ratings
    where credit_ratings.rating_year <= extract(year from {{ as_of() }}) - 1
    group by credit_ratings.uscc
),

wage_cases as (
    select
        arrears.uscc,
        count(distinct arrears.record_id) filter (
            where {{ within_months('arrears.opened_on', 36) }}
        ) as cases_36m,
        bool_or(arrears.resolved_on is null or arrears.resolved_on > {{ as_of() }}) as has_unresolved
    from {{ ref('stg_hrss__wage_arrears') }} as arrears
    where arrears.opened_on <= {{ as_of() }}
    group by arrears.uscc
),

raw_values as (
    select
        entities.uscc,
        ratings.rating_year as i30_rating_year,
        ratings.rating as i30_tax_rating,
        coalesce(wage_cases.cases_36m, 0) as i36_wage_arrears_cases_36m,
        coalesce(wage_cases.has_unresolved, false) as i37_has_unresolved_wage_arrears
    from entities
    left join ratings on entities.uscc = ratings.uscc
    left join wage_cases on entities.uscc = wage_cases.uscc
)

select
    uscc,
    i30_rating_year,
    i30_tax_rating,
    i36_wage_arrears_cases_36m,
    i37_has_unresolved_wage_arrears,
    case
        when i30_tax_rating is null then {{ neutral_score('I30') }}
        else {{ band_score('I30', key='i30_tax_rating') }}
    end as i30,
    {{ band_score('I36', value='i36_wage_arrears_cases_36m') }} as i36,
    {{ band_score('I37', key=yes_no('i37_has_unresolved_wage_arrears')) }} as i37
from raw_values
