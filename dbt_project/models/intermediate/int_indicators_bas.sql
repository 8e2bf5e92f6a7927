-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- BAS 基础属性 indicators I01-I06 from the registry, per active entity.
with entities as (
    select
        uscc,
        industry_code,
        registered_capital,
        normalized_address,
        legal_rep_id_no,
        contact_phone,
        days_established
    from {{ ref('int_entities_active') }}
),

-- I03-I05 count every active entity of any type sharing the value, the entity itself included
address_counts as (
    select
        normalized_address,
        count(*) as entities
    from entities
    group by normalized_address
),

legal_rep_counts as (
    select
        legal_rep_id_no,
        count(*) as entities
    from entities
    group by legal_rep_id_no
),

phone_counts as (
    select
        contact_phone,
        count(*) as entities
    from entities
    where contact_phone is not null
    group by contact_phone
),

tiers as (
    select
        division_code,
        risk_tier
    from {{ ref('industry_risk_tiers') }}
),

raw_values as (
    select
        entities.uscc,
        entities.days_established,
        {{ decimal_ratio('entities.days_established', '365.25') }} as i01_years_established,
        -- a negative amount counts as 0; null stays null (no data -> neutral), greatest() would make it 0
        case
            when entities.registered_capital < 0 then 0 else entities.registered_capital
        end as i02_registered_capital,
        address_counts.entities as i03_entities_at_address,
        legal_rep_counts.entities as i04_entities_with_legal_rep,
        phone_counts.entities as i05_entities_with_phone,
        left(entities.industry_code, 2) as i06_industry_division,
        coalesce(
            division_tier.risk_tier,
            -- every division not listed: the '*' row (an uncorrelated subquery, evaluated once)
            (
                select other_divisions.risk_tier
                from tiers as other_divisions
                where other_divisions.division_code = '*'
            )
        ) as i06_industry_risk_tier
    from entities
    left join address_counts on entities.normalized_address = address_counts.normalized_address
    left join legal_rep_counts on entities.legal_rep_id_no = legal_rep_counts.legal_rep_id_no
    left join phone_counts on entities.contact_phone = phone_counts.contact_phone
    left join tiers as division_tier on left(entities.industry_code, 2) = division_tier.division_code
)

select
    uscc,
    i01_years_established,
    i02_registered_capital,
    i03_entities_at_address,
    i04_entities_with_legal_rep,
    i05_entities_with_phone,
    i06_industry_division,
    i06_industry_risk_tier,
    -- min(100, 40 + 6 x years), years = days / 365.25
    least(100, 40 + {{ decimal_ratio('6 * days_established', '365.25') }}) as i01,
    case
        when i02_registered_capital is null then {{ neutral_score('I02') }}
        else {{ band_score('I02', value='i02_registered_capital') }}
    end as i02,
    {{ band_score('I03', value='i03_entities_at_address') }} as i03,
    {{ band_score('I04', value='i04_entities_with_legal_rep') }} as i04,
    case
        when i05_entities_with_phone is null then {{ neutral_score('I05') }}
        else {{ band_score('I05', value='i05_entities_with_phone') }}
    end as i05,
    {{ band_score('I06', key='i06_industry_risk_tier') }} as i06
from raw_values
