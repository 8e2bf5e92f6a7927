{#-
    The weights under every parent (one group per `group_by` values) add up to exactly 1.
    Fractions are added exactly, as integer numerator / denominator pairs folded one child
    at a time (a/b + c/d = (ad + cb) / bd), never as decimals: 1/3 + 1/3 + 1/3 is 1, and
    0.33 + 0.33 + 0.33 would fail. Returns the groups whose sum is not 1.
-#}
{% test weights_sum_to_one(model, group_by, numerator='weight_numerator', denominator='weight_denominator') %}
    {%- set keys = group_by | join(', ') %}
with recursive weights as (
    select
        {{ keys }},
        {{ numerator }}::numeric as n,
        {{ denominator }}::numeric as d,
        row_number() over (partition by {{ keys }} order by {{ numerator }}, {{ denominator }}) as child_no
    from {{ model }}
),

running_sum as (
    select {{ keys }}, child_no, n as sum_n, d as sum_d
    from weights
    where child_no = 1
    union all
    select
        {%- for k in group_by %}
        w.{{ k }},
        {%- endfor %}
        w.child_no,
        s.sum_n * w.d + w.n * s.sum_d,
        s.sum_d * w.d
    from running_sum as s
    inner join weights as w
        on {% for k in group_by %}w.{{ k }} = s.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
        and w.child_no = s.child_no + 1
),

totals as (
    select distinct on ({{ keys }}) {{ keys }}, sum_n, sum_d
    from running_sum
    order by {{ keys }}, child_no desc
)

select *
from totals
where sum_n <> sum_d or sum_d <= 0
{% endtest %}
