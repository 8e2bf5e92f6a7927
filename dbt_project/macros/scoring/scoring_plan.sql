{#-
    The scoring plan: the indicator systems read from the seeds in `seeds/systems/`
    at compile time, turned into integer coefficients so the marts can compute every
    weighted sum as wide, set-based SQL (one row per entity; no 44-row unpivot).

    Within a parent the children's weights n_i/d_i are brought to a common
    denominator: parent = (sum of c_i * child_numerator) / D. Chained upward:
      level 2 k:  n_k = sum_i c_i * score_i               score_k = n_k / D3_k
      level 1 j:  n_j = sum_k e_k * n_k                   score_j = n_j / D2_j
      total:      n   = sum_j f_j * n_j                   total   = n / D1
    and the effective weight of indicator i in the system is K_i / D1 with
    K_i = f_j * e_k * c_i (the product of its three weights, exactly).

    Seeds are built before models in `dbt build`, so they exist when this runs.
    Models calling this declare the seeds with `-- depends_on:` because refs inside
    `{% if execute %}` are invisible to the parser.
-#}
{% macro scoring_plan() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}

    {%- set weights_sql -%}
        select
            s.system_code,
            s.system_version,
            s.entity_type,
            s.output_kind,
            lib.indicator_code,
            lib.level2_code,
            lib.level1_code,
            w1.weight_numerator as n1,
            w1.weight_denominator as d1,
            w2.level1_code as w2_parent,
            w2.weight_numerator as n2,
            w2.weight_denominator as d2,
            w3.level2_code as w3_parent,
            w3.weight_numerator as n3,
            w3.weight_denominator as d3
        from {{ scoring_seed('systems') }} as s
        cross join {{ scoring_seed('indicator_library') }} as lib
        left join {{ scoring_seed('system_level1_weights') }} as w1
            on s.system_code = w1.system_code and s.system_version = w1.system_version
            and lib.level1_code = w1.level1_code
        left join {{ scoring_seed('system_level2_weights') }} as w2
            on s.system_code = w2.system_code and s.system_version = w2.system_version
            and lib.level2_code = w2.level2_code
        left join {{ scoring_seed('system_level3_weights') }} as w3
            on s.system_code = w3.system_code and s.system_version = w3.system_version
            and lib.indicator_code = w3.indicator_code
        order by s.system_code, lib.indicator_code
    {%- endset -%}
    {%- set outcomes_sql -%}
        select system_code, system_version, risk_class as outcome, severity_rank, min_total_score
        from {{ scoring_seed('risk_class_bands') }}
        union all
        select system_code, system_version, credit_grade, severity_rank, min_total_score
        from {{ scoring_seed('credit_grade_bands') }}
        order by system_code, min_total_score desc
    {%- endset -%}
    {%- set rules_sql -%}
        select system_code, system_version, rule_code, check_order, effect, result, parameter_value
        from {{ scoring_seed('direct_rules') }}
        order by system_code, rule_code
    {%- endset -%}
    {%- set weight_rows = run_query(weights_sql).rows -%}
    {%- set outcome_rows = run_query(outcomes_sql).rows -%}
    {%- set rule_rows = run_query(rules_sql).rows -%}

    {%- set plan = {'indicators': [], 'level2': [], 'level1_codes': [], 'systems': [], 'by_code': {}} -%}
    {%- set seen_l2 = [] -%}
    {%- for r in weight_rows -%}
        {%- set sc = r['system_code'] -%}
        {%- if r['n1'] is none or r['n2'] is none or r['n3'] is none -%}
            {{ exceptions.raise_compiler_error('system ' ~ sc ~ ' has no weight for ' ~ r['indicator_code'] ~ ' or its parents') }}
        {%- endif -%}
        {%- if r['w2_parent'] != r['level1_code'] or r['w3_parent'] != r['level2_code'] -%}
            {{ exceptions.raise_compiler_error('system ' ~ sc ~ ': weight parents disagree with indicator_library for ' ~ r['indicator_code']) }}
        {%- endif -%}
        {%- if sc not in plan.by_code -%}
            {%- set system = {
                'code': sc, 'version': r['system_version'], 'entity_type': r['entity_type'],
                'output_kind': r['output_kind'], 'rows': [], 'outcomes': [], 'rules': []
            } -%}
            {%- do plan.systems.append(system) -%}
            {%- do plan.by_code.update({sc: system}) -%}
        {%- endif -%}
        {%- do plan.by_code[sc].rows.append(r) -%}
        {%- if loop.first or sc == weight_rows[0]['system_code'] -%}
            {%- do plan.indicators.append({
                'code': r['indicator_code'], 'column': r['indicator_code'] | lower,
                'level2': r['level2_code'], 'level1': r['level1_code']}) -%}
            {%- if r['level2_code'] not in seen_l2 -%}
                {%- do seen_l2.append(r['level2_code']) -%}
                {%- do plan.level2.append({'code': r['level2_code'], 'level1': r['level1_code']}) -%}
            {%- endif -%}
            {%- if r['level1_code'] not in plan.level1_codes -%}
                {%- do plan.level1_codes.append(r['level1_code']) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}

    {%- for system in plan.systems -%}
        {#- level 2: common denominator D3 of the children's weights -#}
        {%- set l2 = {} -%}
        {%- for k in plan.level2 -%}
            {%- set kids = system.rows | selectattr('level2_code', 'equalto', k.code) | list -%}
            {%- set d3 = scoring_lcm(kids | map(attribute='d3') | list) -%}
            {%- do l2.update({k.code: {'D3': d3, 'c': {}}}) -%}
            {%- for r in kids -%}
                {%- do l2[k.code].c.update({r['indicator_code']: (r['n3'] | int) * (d3 // (r['d3'] | int))}) -%}
            {%- endfor -%}
        {%- endfor -%}
        {#- level 1: common denominator D2 of (level-2 weight x its D3) -#}
        {%- set l1 = {} -%}
        {%- for j in plan.level1_codes -%}
            {%- set kid_codes = plan.level2 | selectattr('level1', 'equalto', j) | map(attribute='code') | list -%}
            {%- set kid_rows = [] -%}
            {%- for k in kid_codes -%}
                {%- do kid_rows.append((system.rows | selectattr('level2_code', 'equalto', k) | first)) -%}
            {%- endfor -%}
            {%- set dens = [] -%}
            {%- for r in kid_rows -%}
                {%- do dens.append((r['d2'] | int) * l2[r['level2_code']].D3) -%}
            {%- endfor -%}
            {%- set d2 = scoring_lcm(dens) -%}
            {%- do l1.update({j: {'D2': d2, 'e': {}}}) -%}
            {%- for r in kid_rows -%}
                {%- do l1[j].e.update({r['level2_code']: (r['n2'] | int) * (d2 // ((r['d2'] | int) * l2[r['level2_code']].D3))}) -%}
            {%- endfor -%}
        {%- endfor -%}
        {#- total: common denominator D1 of (level-1 weight x its D2) -#}
        {%- set dens = [] -%}
        {%- set l1_rows = [] -%}
        {%- for j in plan.level1_codes -%}
            {%- set r = system.rows | selectattr('level1_code', 'equalto', j) | first -%}
            {%- do l1_rows.append(r) -%}
            {%- do dens.append((r['d1'] | int) * l1[j].D2) -%}
        {%- endfor -%}
        {%- set d1 = scoring_lcm(dens) -%}
        {%- for r in l1_rows -%}
            {%- do l1[r['level1_code']].update({'f': (r['n1'] | int) * (d1 // ((r['d1'] | int) * l1[r['level1_code']].D2))}) -%}
        {%- endfor -%}
        {%- set k_weights = {} -%}
        {%- for i in plan.indicators -%}
            {%- do k_weights.update({i.code: l1[i.level1].f * l1[i.level1].e[i.level2] * l2[i.level2].c[i.code]}) -%}
        {%- endfor -%}
        {%- do system.update({'D1': d1, 'level1': l1, 'level2': l2, 'K': k_weights}) -%}
    {%- endfor -%}

    {%- for r in outcome_rows -%}
        {%- if r['system_code'] in plan.by_code and r['system_version'] == plan.by_code[r['system_code']].version -%}
            {%- do plan.by_code[r['system_code']].outcomes.append({
                'outcome': r['outcome'], 'rank': r['severity_rank'] | int, 'min': r['min_total_score']}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for r in rule_rows -%}
        {%- if r['system_code'] in plan.by_code and r['system_version'] == plan.by_code[r['system_code']].version -%}
            {%- set system = plan.by_code[r['system_code']] -%}
            {%- set target = system.outcomes | selectattr('outcome', 'equalto', r['result']) | list -%}
            {%- if target | length != 1 -%}
                {{ exceptions.raise_compiler_error('rule ' ~ r['rule_code'] ~ ' of ' ~ system.code ~ ' results in unknown outcome ' ~ r['result']) }}
            {%- endif -%}
            {%- do system.rules.append({
                'code': r['rule_code'], 'check_order': r['check_order'] | int, 'effect': r['effect'],
                'result': r['result'], 'result_rank': target[0].rank, 'parameter': r['parameter_value']}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for system in plan.systems -%}
        {%- if system.outcomes | length == 0 -%}
            {{ exceptions.raise_compiler_error('system ' ~ system.code ~ ' has no bands') }}
        {%- endif -%}
    {%- endfor -%}
    {%- if plan.indicators | length < 3 -%}
        {{ exceptions.raise_compiler_error('top_losses needs at least three indicators') }}
    {%- endif -%}
    {{ return(plan) }}
{%- endmacro %}

{#- The relation of a seed of this project. Looked up in the graph rather than through
    ref(): inside a unit test ref() names the test's fixture CTE (or fails for a seed not
    given), while the plan must come from the real seed tables. A unit test's graph has no
    nodes; then the seed is where the warehouse contract puts every seed: `reference`. -#}
{% macro scoring_seed(name) -%}
    {%- set node = (graph.get('nodes') or {}).get('seed.' ~ project_name ~ '.' ~ name) -%}
    {%- if node -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endif -%}
    {{ return(api.Relation.create(database=target.database, schema='reference', identifier=name)) }}
{%- endmacro %}

{#- The indicator score columns (i01 … i44) in library order, from the indicator_library seed. -#}
{% macro scoring_indicator_columns() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set rows = run_query('select indicator_code from ' ~ scoring_seed('indicator_library') ~ ' order by indicator_code').rows -%}
    {%- set columns = [] -%}
    {%- for r in rows -%}{%- do columns.append(r['indicator_code'] | lower) -%}{%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- Declare the seeds the plan reads as dependencies of the calling model, so `dbt build`
    builds them first (the plan's own queries run under `execute`, unseen by the parser).
    Skipped while rendering a unit test: there the plan still reads the real seed tables,
    and declaring them would make every unit test list all eight seeds as inputs. -#}
{% macro scoring_seed_dependencies() -%}
    {%- if model.resource_type != 'unit_test' -%}
        {%- for name in ['systems', 'indicator_library', 'system_level1_weights', 'system_level2_weights',
                         'system_level3_weights', 'risk_class_bands', 'credit_grade_bands', 'direct_rules'] %}
-- depends_on: {{ ref(name) }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
