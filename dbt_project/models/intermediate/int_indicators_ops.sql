-- Statistics right away: the next models read this table in the same run, before autovacuum would.
{{ config(post_hook="analyze {{ this }}") }}

-- OPS 经营行为 indicators I07-I12 (registration changes, annual reports), per active entity.
-- I13 and I14 come from the monthly feeds (int_indicators_monthly).
with entities as (
    select
        uscc,
        established_on
    from {{ ref('int_entities_active') }}
),

changes_12m as (
    select
        changes.uscc,
        changes.record_id,
        changes.change_type,
        -- registered-capital values that are not plain decimals make the change unusable for I09;
        -- a negative amount counts as 0
        case
            when
                changes.change_type = 'registered_capital'
                and changes.before_value ~ '^-?[0-9]+(\.[0-9]+)?$'
                and changes.after_value ~ '^-?[0-9]+(\.[0-9]+)?$'
                then greatest(changes.before_value::numeric, 0)
        end as capital_before,
        case
            when
                changes.change_type = 'registered_capital'
                and changes.before_value ~ '^-?[0-9]+(\.[0-9]+)?$'
                and changes.after_value ~ '^-?[0-9]+(\.[0-9]+)?$'
                then greatest(changes.after_value::numeric, 0)
        end as capital_after
    from {{ ref('stg_samr__registration_changes') }} as changes
    where {{ within_months('changes.changed_on', 12) }}
),

change_counts as (
    select
        uscc,
        count(distinct record_id) filter (where change_type = 'legal_rep') as legal_rep_changes,
        count(distinct record_id) filter (where change_type = 'address') as address_changes,
        max(
            {{ decimal_ratio('abs(capital_after - capital_before)', 'capital_before') }}
        ) filter (where capital_before > 0) as max_capital_change_ratio
    from changes_12m
    group by uscc
),

-- I10-I12 look at reports for Y-2 .. Y filed on or before as_of
reports as (
    select
        annual_reports.uscc,
        min(annual_reports.filed_on) filter (
            where annual_reports.report_year = {{ report_year_y() }}
        ) as first_filed_on_y,
        bool_or(annual_reports.report_year = {{ report_year_y() }} - 1) as has_report_y1,
        bool_or(annual_reports.report_year = {{ report_year_y() }} - 2) as has_report_y2,
        bool_or(coalesce(annual_reports.is_false_report, false)) as has_false_report
    from {{ ref('stg_samr__annual_reports') }} as annual_reports
    where
        annual_reports.filed_on <= {{ as_of() }}
        and annual_reports.report_year between {{ report_year_y() }} - 2 and {{ report_year_y() }}
    group by annual_reports.uscc
),

raw_values as (
    select
        entities.uscc,
        coalesce(change_counts.legal_rep_changes, 0) as i07_legal_rep_changes_12m,
        coalesce(change_counts.address_changes, 0) as i08_address_changes_12m,
        change_counts.max_capital_change_ratio as i09_max_capital_change_ratio_12m,
        {{ report_year_y() }} as i10_report_year,
        reports.first_filed_on_y as i10_first_filed_on,
        case
            when entities.established_on > make_date({{ report_year_y() }}, 12, 31) then 'not_due'
            when reports.first_filed_on_y is null then 'not_filed'
            when reports.first_filed_on_y <= make_date({{ report_year_y() }} + 1, 6, 30) then 'on_time'
            else 'late'
        end as i10_report_status,
        -- of Y, Y-1, Y-2, the years not before the year established with no report filed
        (
            case
                when
                    {{ report_year_y() }} >= extract(year from entities.established_on)
                    and reports.first_filed_on_y is null
                    then 1
                else 0
            end
            + case
                when
                    {{ report_year_y() }} - 1 >= extract(year from entities.established_on)
                    and not coalesce(reports.has_report_y1, false)
                    then 1
                else 0
            end
            + case
                when
                    {{ report_year_y() }} - 2 >= extract(year from entities.established_on)
                    and not coalesce(reports.has_report_y2, false)
                    then 1
                else 0
            end
        ) as i11_years_without_report,
        coalesce(reports.has_false_report, false) as i12_has_false_report
    from entities
    left join change_counts on entities.uscc = change_counts.uscc
    left join reports on entities.uscc = reports.uscc
)

select
    uscc,
    i07_legal_rep_changes_12m,
    i08_address_changes_12m,
    i09_max_capital_change_ratio_12m,
    i10_report_year,
    i10_first_filed_on,
    i10_report_status,
    i11_years_without_report,
    i12_has_false_report,
    {{ band_score('I07', value='i07_legal_rep_changes_12m') }} as i07,
    {{ band_score('I08', value='i08_address_changes_12m') }} as i08,
    {{ band_score('I09', value='i09_max_capital_change_ratio_12m',
        key="case when i09_max_capital_change_ratio_12m is null then 'none' end") }} as i09,
    {{ band_score('I10', key='i10_report_status') }} as i10,
    {{ band_score('I11', value='i11_years_without_report') }} as i11,
    {{ band_score('I12', key=yes_no('i12_has_false_report')) }} as i12
from raw_values
