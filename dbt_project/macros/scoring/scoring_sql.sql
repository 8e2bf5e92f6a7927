{#-
    SQL generators for the scoring marts, driven by scoring_plan().

    One SELECT per indicator system over `int_indicator_scores`, one row per entity,
    all sums written out wide at compile time. Layers are nested subqueries fenced
    with `offset 0`: without the fence PostgreSQL flattens them and substitutes each
    expression wherever it is referenced, recomputing the level-2 sums for every
    level-1 sum that uses them.
-#}

{#- Numerator of level-2 score `level2_code` over its D3: sum of c_i * score_i. -#}
{% macro scoring_level2_numerator(system, plan, level2_code) -%}
    {%- set terms = [] -%}
    {%- for i in plan.indicators if i.level2 == level2_code -%}
        {%- set c = system.level2[level2_code].c[i.code] -%}
        {%- do terms.append(i.column if c == 1 else (c ~ ' * ' ~ i.column)) -%}
    {%- endfor -%}
    ({{ terms | join(' + ') }})
{%- endmacro %}

{#- Numerator of level-1 score `level1_code` over its D2, from the level-2 numerator columns n_<l2>. -#}
{% macro scoring_level1_numerator(system, plan, level1_code) -%}
    {%- set terms = [] -%}
    {%- for k in plan.level2 if k.level1 == level1_code -%}
        {%- set e = system.level1[level1_code].e[k.code] -%}
        {%- set col = 'n_' ~ (k.code | lower) -%}
        {%- do terms.append(col if e == 1 else (e ~ ' * ' ~ col)) -%}
    {%- endfor -%}
    ({{ terms | join(' + ') }})
{%- endmacro %}

{#- The comparable key of an indicator's weighted loss: the loss K_i/D1 * (100 - score)
    rounded half up to 6 decimals, in millionths, times M, plus a tie-breaker that
    is larger for the smaller code. The greatest key is the largest loss, ties going
    to the smaller code; keys of one row are all distinct. -#}
{% macro scoring_loss_key(system, plan, indicator, position) -%}
    {%- set n = plan.indicators | length -%}
    {%- set m = 10 ** ((n - 1) | string | length) -%}
    {%- set k = system.K[indicator.code] -%}
    {%- set d = system.D1 -%}
    {#- div(2e6 K (100 - s) + D1, 2 D1) with the constants folded: one multiplication fewer -#}
    (div({{ 200000000 * k + d }} - {{ 2000000 * k }} * {{ indicator.column }}, {{ 2 * d }})::bigint * {{ m }} + {{ n - 1 - position }})
{%- endmacro %}

{#- Decode a loss key back to its indicator code; `codes_sql` is a text[] of the codes in order. -#}
{% macro scoring_loss_code(plan, key_sql, codes_sql) -%}
    {%- set n = plan.indicators | length -%}
    {%- set m = 10 ** ((n - 1) | string | length) -%}
    {{ codes_sql }}[{{ n }} - ({{ key_sql }} % {{ m }})::integer]
{%- endmacro %}

{#- Boolean SQL for a direct rule; false (never null) when its inputs are missing. -#}
{% macro scoring_rule_condition(rule, system) -%}
    {%- set p = rule.parameter -%}
    {%- if rule.code == 'R0' -%}
        {#- too new to judge: young, nothing on record ever, and no other rule of the system fires -#}
        coalesce(days_established < {{ p | int }} and has_any_record_ever is false
        {%- for other in system.rules if other.code != 'R0' %}
            and not {{ scoring_rule_condition(other, system) }}
        {%- endfor %}, false)
    {%- elif rule.code == 'R1' -%}
        coalesce(is_on_serious_dishonesty_now, false)
    {%- elif rule.code == 'R2' -%}
        coalesce(has_unrepaired_revocation_36m, false)
    {%- elif rule.code == 'R3' -%}
        coalesce(is_dishonest_debtor_now, false)
    {%- elif rule.code == 'R4' -%}
        coalesce(is_abnormal_now, false)
    {%- elif rule.code == 'R5' -%}
        coalesce(latest_tax_rating = {{ scoring_text(p) }}, false)
    {%- elif rule.code == 'R6' -%}
        {%- if not modules.re.fullmatch('[0-9]+(\\.[0-9]+)?', p | string) -%}
            {{ exceptions.raise_compiler_error('R6 needs a decimal ratio, got ' ~ p) }}
        {%- endif -%}
        coalesce(farmer_member_ratio < {{ p }}, false)
    {%- else -%}
        {{ exceptions.raise_compiler_error('no SQL condition is defined for direct rule ' ~ rule.code) }}
    {%- endif -%}
{%- endmacro %}

{#- Severity rank of the outcome: exact rules first (in check order), else the worst
    of the score band and every "at least" rule that fires. Reads the rule_<code> columns. -#}
{% macro scoring_outcome_rank(system, total_sql) -%}
    {%- set bands = system.outcomes | sort(attribute='min', reverse=true) -%}
    {%- set band_rank -%}
        case
            {%- for b in bands[:-1] %}
            when {{ total_sql }} >= {{ b.min }} then {{ b.rank }}
            {%- endfor %}
            else {{ bands[-1].rank }}
        end
    {%- endset -%}
    {%- set ordered = system.rules | sort(attribute='check_order') -%}
    {%- set exact = ordered | selectattr('effect', 'equalto', 'exactly') | list -%}
    {%- set at_least = ordered | selectattr('effect', 'equalto', 'at_least') | list -%}
    {%- for r in ordered if r.effect not in ('exactly', 'at_least') -%}
        {{ exceptions.raise_compiler_error('rule ' ~ r.code ~ ': effect must be exactly or at_least') }}
    {%- endfor -%}
    {%- set worst -%}
        greatest({{ band_rank }}
        {%- for r in at_least %},
            case when rule_{{ r.code | lower }} then {{ r.result_rank }} end
        {%- endfor %})
    {%- endset -%}
    {%- if exact | length == 0 -%}
        {{ worst }}
    {%- else -%}
        case
            {%- for r in exact %}
            when rule_{{ r.code | lower }} then {{ r.result_rank }}
            {%- endfor %}
            else {{ worst }}
        end
    {%- endif -%}
{%- endmacro %}

{#- Every rule of the system whose condition holds, in code order. Reads the rule_<code> columns. -#}
{% macro scoring_fired_rules(system) -%}
    {%- if system.rules | length == 0 -%}
        '{}'::text[]
    {%- else -%}
        array_remove(array[
            {%- for r in system.rules | sort(attribute='code') %}
            case when rule_{{ r.code | lower }} then {{ scoring_text(r.code) }} end
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        ]::text[], null)
    {%- endif -%}
{%- endmacro %}

{#- The classification or evaluation of every entity of one system (one row each):
    as_of, uscc, entity_type, region_code, system_code, system_version, total_score,
    score_<level1>…, outcome, fired_rules, top_losses.
    Top three losses: loss_key_1 is the greatest key; keys of a row are distinct, so the
    next is the greatest once the previous ones are nulled out (nullif). -#}
{% macro scoring_system_select(system, plan, source_relation) -%}
    {%- set base = ['as_of', 'uscc', 'entity_type', 'region_code'] -%}
    {%- set rules = [] -%}
    {%- for r in system.rules | sort(attribute='code') -%}{%- do rules.append('rule_' ~ (r.code | lower)) -%}{%- endfor -%}
    {%- set keys = [] -%}
    {%- for i in plan.indicators -%}{%- do keys.append('k_' ~ i.column) -%}{%- endfor -%}
    {%- set l1_cols = [] -%}
    {%- for j in plan.level1_codes -%}{%- do l1_cols.append('n_' ~ (j | lower)) -%}{%- endfor -%}
    {%- set codes = [] -%}
    {%- for i in plan.indicators -%}{%- do codes.append(scoring_text(i.code)) -%}{%- endfor -%}
    {%- set outcomes = system.outcomes | sort(attribute='rank') -%}
    select
        scored.as_of,
        scored.uscc,
        scored.entity_type,
        scored.region_code,
        {{ scoring_text(system.code) }}::text as system_code,
        {{ scoring_text(system.version) }}::text as system_version,
        round(scored.total_10dp, 2)::numeric(5, 2) as total_score,
        {%- for j in plan.level1_codes %}
        {{ round_half_up_ratio('scored.n_' ~ (j | lower), system.level1[j].D2, 10) }} as score_{{ j | lower }},
        {%- endfor %}
        case {{ scoring_outcome_rank(system, 'round(scored.total_10dp, 2)') }}
            {%- for o in outcomes %}
            when {{ o.rank }} then {{ scoring_text(o.outcome) }}
            {%- endfor %}
        end as outcome,
        {{ scoring_fired_rules(system) }} as fired_rules,
        array[
            {{ scoring_loss_code(plan, 'scored.loss_key_1', 'library.indicator_codes') }},
            {{ scoring_loss_code(plan, 'scored.loss_key_2', 'library.indicator_codes') }},
            {{ scoring_loss_code(plan, 'scored.loss_key_3', 'library.indicator_codes') }}
        ]::text[] as top_losses
    from (
        -- total rounded half up to 10 decimals (exactly); third-largest loss
        select
            {{ (base + rules + l1_cols + ['loss_key_1', 'loss_key_2']) | join(', ') }},
            {{ round_half_up_ratio('n_total', system.D1, 10) }} as total_10dp,
            greatest({% for k in keys %}nullif(nullif({{ k }}, loss_key_1), loss_key_2){% if not loop.last %}, {% endif %}{% endfor %}) as loss_key_3
        from (
            -- total numerator over D1 = {{ system.D1 }}; second-largest loss
            select
                {{ (base + rules + l1_cols + keys + ['loss_key_1']) | join(', ') }},
                ({% for j in plan.level1_codes -%}
                    {%- set f = system.level1[j].f -%}
                    {{ 'n_' ~ (j | lower) if f == 1 else (f ~ ' * n_' ~ (j | lower)) }}{% if not loop.last %} + {% endif %}
                {%- endfor %}) as n_total,
                greatest({% for k in keys %}nullif({{ k }}, loss_key_1){% if not loop.last %}, {% endif %}{% endfor %}) as loss_key_2
            from (
                -- level-1 numerators; largest loss
                select
                    {{ (base + rules + keys) | join(', ') }},
                    {%- for j in plan.level1_codes %}
                    {{ scoring_level1_numerator(system, plan, j) }} as n_{{ j | lower }},
                    {%- endfor %}
                    greatest({{ keys | join(', ') }}) as loss_key_1
                from (
                    -- level-2 numerators, loss keys and direct rules, from the indicator scores
                    select
                        {{ base | join(', ') }},
                        {%- for r in system.rules | sort(attribute='code') %}
                        {{ scoring_rule_condition(r, system) }} as rule_{{ r.code | lower }},
                        {%- endfor %}
                        {%- for k in plan.level2 %}
                        {{ scoring_level2_numerator(system, plan, k.code) }} as n_{{ k.code | lower }},
                        {%- endfor %}
                        {%- for i in plan.indicators %}
                        {{ scoring_loss_key(system, plan, i, loop.index0) }} as k_{{ i.column }}{% if not loop.last %},{% endif %}
                        {%- endfor %}
                    from {{ source_relation }}
                    where entity_type = {{ scoring_text(system.entity_type) }}
                        and as_of = {{ as_of() }}
                    offset 0
                ) as level2
                offset 0
            ) as level1
            offset 0
        ) as totals
        offset 0
    ) as scored
    cross join (select array[{{ codes | join(', ') }}]::text[] as indicator_codes) as library
{%- endmacro %}

{#- The twenty level-2 scores of every entity of one system, wide: one row per entity,
    one column per level-2 code (lower case), each rounded half up to 10 decimals. -#}
{% macro scoring_level2_select(system, plan, source_relation) -%}
    select
        as_of,
        uscc,
        {{ scoring_text(system.code) }}::text as system_code,
        {%- for k in plan.level2 %}
        {{ round_half_up_ratio(scoring_level2_numerator(system, plan, k.code), system.level2[k.code].D3, 10) }} as {{ k.code | lower }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ source_relation }}
    where entity_type = {{ scoring_text(system.entity_type) }}
        and as_of = {{ as_of() }}
{%- endmacro %}
