{#- Score lookups from the configuration seeds (reference.indicator_bands, indicator_value_scores,
    indicator_neutral_scores) and the arithmetic helpers of the indicators.

    Every lookup is an uncorrelated scalar subquery over a seed: PostgreSQL runs it once per
    query (an InitPlan), so a band costs a binary search per row (width_bucket), not a join. -#}

{#- The score of `value` from the numeric bands (seed indicator_bands: a band runs from its inclusive
    lower bound up to the next band's lower bound) or of `key` from the keyed scores (seed
    indicator_value_scores: the row whose raw_value equals the key). With both, a matching key wins
    and a key of null falls through to the numeric bands. A value below the first lower bound or an
    unknown key gives null, which the scores_between_0_and_100 test reports. -#}
{% macro band_score(indicator_code, value=none, key=none) -%}
    {%- set lookups = [] -%}
    {%- if key is not none -%}
        {%- set keyed = "from " ~ ref('indicator_value_scores') ~ " as k where k.indicator_code = '"
            ~ indicator_code ~ "')" -%}
        {%- do lookups.append(
            "(select array_agg(k.score order by k.raw_value) " ~ keyed
            ~ "[array_position((select array_agg(k.raw_value order by k.raw_value) " ~ keyed
            ~ ", (" ~ key ~ ")::text)]"
        ) -%}
    {%- endif -%}
    {%- if value is not none -%}
        {%- set banded = "from " ~ ref('indicator_bands') ~ " as b where b.indicator_code = '"
            ~ indicator_code ~ "')" -%}
        {%- do lookups.append(
            "(select array_agg(b.score order by b.lower_bound) " ~ banded
            ~ "[width_bucket((" ~ value ~ ")::numeric, (select array_agg(b.lower_bound order by b.lower_bound) "
            ~ banded ~ ")]"
        ) -%}
    {%- endif -%}
    {%- if lookups | length == 1 -%}{{ lookups[0] }}{%- else -%}coalesce({{ lookups | join(', ') }}){%- endif -%}
{%- endmacro %}

{#- The neutral score (N) an entity gets when it has no data for the indicator. -#}
{% macro neutral_score(indicator_code) -%}
    (select n.neutral_score from {{ ref('indicator_neutral_scores') }} as n
        where n.indicator_code = '{{ indicator_code }}')
{%- endmacro %}

{#- numerator / denominator in numeric with 40 decimals, trailing zeros trimmed. PostgreSQL's default
    division keeps only ~16 significant digits; 40 decimals keep every formula score far below the
    10-decimal rounding of the total (indicators.md: no intermediate score is rounded). Terminating
    quotients (100 x 6 / 12 = 50, 0.8, ...) are exact. -#}
{% macro decimal_ratio(numerator, denominator) -%}
    trim_scale(round(({{ numerator }})::numeric, 40) / ({{ denominator }}))
{%- endmacro %}

{#- An amount, balance, head-count or day count as the indicators count it: null counts as 0,
    a negative value counts as 0 (indicators.md, Exact readings). -#}
{% macro non_negative(expr) -%}
    greatest(coalesce({{ expr }}, 0), 0)
{%- endmacro %}

{#- A boolean as the band key 'yes' / 'no' (null = no). -#}
{% macro yes_no(boolean_expr) -%}
    (case when {{ boolean_expr }} then 'yes' else 'no' end)
{%- endmacro %}

{#- I03's normalized address: Unicode NFKC, then every Unicode White_Space character removed.
    PostgreSQL's \s covers only ASCII whitespace; NFKC maps U+00A0, U+2000–U+200A, U+202F, U+205F
    and U+3000 to U+0020, but U+0085, U+1680, U+2028 and U+2029 survive it, so the class lists the
    whole White_Space property. normalize() needs a UTF8 database. -#}
{% macro normalized_address(address_expr) -%}
    regexp_replace(
        normalize({{ address_expr }}, nfkc),
        '[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]', '', 'g'
    )
{%- endmacro %}
