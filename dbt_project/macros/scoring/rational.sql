{#-
    Exact rational helpers for the scoring marts.

    Weights are fractions (1/3 is one third), so a parent score is a rational number.
    PostgreSQL `numeric` multiplies and adds exactly, but `a / b` rounds to a scale
    of its own choosing (1::numeric / 3 = 0.3333333333333333), and rounding that
    result again could round twice. So every score is carried as an exact numeric
    numerator over an integer denominator known at compile time, and is divided only
    once, here, with `div()` (exact truncated quotient) arranged to round half up:

        round_half_up(n / d, s) = div(2 * n * 10^s + d, 2 * d) * 10^-s     (n >= 0, d > 0)
-#}

{#- Greatest common divisor of two non-negative integers (Euclid, recursively). -#}
{% macro scoring_gcd(a, b) -%}
    {%- if b == 0 -%}
        {{ return(a) }}
    {%- endif -%}
    {{ return(scoring_gcd(b, a % b)) }}
{%- endmacro %}

{#- Least common multiple of a list of positive integers. -#}
{% macro scoring_lcm(values) -%}
    {%- set ns = namespace(m=1) -%}
    {%- for v in values -%}
        {%- set v = v | int -%}
        {%- set ns.m = (ns.m * v) // scoring_gcd(ns.m, v) -%}
    {%- endfor -%}
    {{ return(ns.m) }}
{%- endmacro %}

{#- SQL for numerator_sql / denominator rounded half up to `scale` decimals, exactly.
    `denominator` is a positive integer constant; the numerator must be >= 0
    (scores lie in [0, 100]), where half up and PostgreSQL's half-away-from-zero agree. -#}
{% macro round_half_up_ratio(numerator_sql, denominator, scale) -%}
    {%- set d = denominator | int -%}
    {%- set p = 10 ** (scale | int) -%}
    {#- times 0.00…01 (not / 10^s): multiplication keeps the result exact at scale s -#}
    {%- set unit = ('0.' ~ ('0' * ((scale | int) - 1)) ~ '1') if (scale | int) > 0 else '1' -%}
    (div({{ 2 * p }} * ({{ numerator_sql }}) + {{ d }}, {{ 2 * d }}) * {{ unit }})
{%- endmacro %}

{#- Quote a configuration value as a SQL text literal. -#}
{% macro scoring_text(value) -%}
    '{{ (value | string) | replace("'", "''") }}'
{%- endmacro %}
