{#- Schemas are named by layer exactly (staging, intermediate, audit, reference),
    not prefixed with the target schema: the published interface is stable. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
