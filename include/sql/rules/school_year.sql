{#- The school year (sy) a date falls in, starting on rules.school_year_start, and a school year's
    first and last date: stated once for the SQL (night.school_year_start is the same rule for the
    reporting window). Imported `with context` by the templates that need it. -#}
{%- macro of(d) -%}
CASE WHEN strftime({{ d }}, '%m-%d') >= '{{ r.school_year_start }}' THEN year({{ d }}) ELSE year({{ d }}) - 1 END
{%- endmacro %}
{%- macro first_date(sy) -%}
make_date({{ sy }}, {{ r.school_year_start[:2] | int }}, {{ r.school_year_start[3:] | int }})
{%- endmacro %}
{%- macro last_date(sy) -%}
make_date({{ sy }} + 1, {{ r.school_year_start[:2] | int }}, {{ r.school_year_start[3:] | int }}) - 1
{%- endmacro %}
