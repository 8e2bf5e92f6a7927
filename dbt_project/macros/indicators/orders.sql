{#- Orders of enumerated values that "worst" refers to (feeds.md v1). They are facts of the
    contract's scales, not scores: the scores of each value are in seed indicator_value_scores. -#}

{#- Penalty severities, mildest first (I16 "max severity" = the highest position). -#}
{% macro penalty_severity_order() -%}
    array['warning', 'fine_small', 'fine_large', 'confiscation', 'license_suspension', 'license_revocation']
{%- endmacro %}

{#- Tax credit ratings, best first (I30 "the worst counts" = the highest position; D is the worst). -#}
{% macro tax_rating_order() -%}
    array['A', 'B', 'M', 'C', 'D']
{%- endmacro %}
