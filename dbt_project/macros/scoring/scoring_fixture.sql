{#-
    Unit-test fixture for ref('int_indicator_scores'): one SELECT per entity with every
    contract column typed, so a test names only what it is about.

    Each row is a dict of overrides over a clean, long-established enterprise scoring 100
    everywhere. Key `all` sets all 44 indicator scores at once (before the iNN keys).
    Use in a unit test as:
        given:
          - input: ref('int_indicator_scores')
            format: sql
            rows: "{{ scoring_fixture([{'uscc': 'X', 'all': 84.995}, {'uscc': 'Y', 'i20': 0, ...}]) }}"
-#}
{% macro scoring_fixture(rows) -%}
    {%- set columns = [
        ('as_of', 'date'), ('uscc', 'text'), ('entity_type', 'text'), ('region_code', 'text'),
        ('industry_code', 'text'), ('established_on', 'date'), ('farmer_member_ratio', 'numeric'),
        ('is_four_new', 'boolean')] -%}
    {%- for n in range(1, 45) -%}
        {%- do columns.append(('i%02d' % n, 'numeric')) -%}
    {%- endfor -%}
    {%- do columns.extend([
        ('is_on_serious_dishonesty_now', 'boolean'), ('has_unrepaired_revocation_36m', 'boolean'),
        ('is_dishonest_debtor_now', 'boolean'), ('is_abnormal_now', 'boolean'),
        ('latest_tax_rating', 'text'), ('has_any_record_ever', 'boolean'), ('days_established', 'integer')]) -%}
    {%- set defaults = {
        'as_of': '2025-06-30', 'entity_type': 'enterprise', 'region_code': '230102',
        'industry_code': '5211', 'established_on': '2015-03-01', 'farmer_member_ratio': none,
        'is_four_new': false, 'is_on_serious_dishonesty_now': false,
        'has_unrepaired_revocation_36m': false, 'is_dishonest_debtor_now': false,
        'is_abnormal_now': false, 'latest_tax_rating': 'A', 'has_any_record_ever': false,
        'days_established': 3774} -%}
    {%- for row in rows -%}
        {%- set values = {} -%}
        {%- do values.update(defaults) -%}
        {%- for n in range(1, 45) -%}
            {%- do values.update({'i%02d' % n: row.get('all', 100)}) -%}
        {%- endfor -%}
        {%- do values.update(row) -%}
        select
        {%- for name, type in columns %}
            {%- set v = values.get(name) %}
            {%- if v is none %}
            null::{{ type }} as {{ name }}
            {%- elif v is sameas true or v is sameas false %}
            {{ 'true' if v else 'false' }}::{{ type }} as {{ name }}
            {%- else %}
            '{{ v }}'::{{ type }} as {{ name }}
            {%- endif %}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
        {%- if not loop.last %}
        union all
        {% endif %}
    {%- endfor -%}
{%- endmacro %}

