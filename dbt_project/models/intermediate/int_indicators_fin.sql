-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- FIN 金融与履约 indicators from the courts: I26 and I27 (dishonest judgment debtors), per active
-- entity, with the R3 and R0 inputs. I24 I25 I28 I29 come from the monthly feeds (int_indicators_monthly).
with entities as (
    select uscc
    from {{ ref('int_entities_active') }}
),

debtor_listings as (
    select
        debtors.uscc,
        bool_or(debtors.removed_on is null or debtors.removed_on > {{ as_of() }}) as is_listed_now,
        count(distinct debtors.record_id) filter (
            where {{ within_months('debtors.listed_on', 36) }}
        ) as listings_36m
    from {{ ref('stg_court__dishonest_debtors') }} as debtors
    where debtors.listed_on <= {{ as_of() }}
    group by debtors.uscc
),

raw_values as (
    select
        entities.uscc,
        coalesce(debtor_listings.is_listed_now, false) as i26_is_dishonest_debtor_now,
        coalesce(debtor_listings.listings_36m, 0) as i27_debtor_listings_36m,
        -- R0 "at all": any dishonest-debtor listing dated on or before as_of, removed ones included
        debtor_listings.uscc is not null as has_debtor_listing_ever
    from entities
    left join debtor_listings on entities.uscc = debtor_listings.uscc
)

select
    uscc,
    i26_is_dishonest_debtor_now,
    i27_debtor_listings_36m,
    has_debtor_listing_ever,
    {{ band_score('I26', key=yes_no('i26_is_dishonest_debtor_now')) }} as i26,
    {{ band_score('I27', value='i27_debtor_listings_36m') }} as i27
from raw_values
