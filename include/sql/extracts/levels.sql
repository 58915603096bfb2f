{#- The district and each school as rows of one table: the counting frame of every per-level
    extract. ``detail`` is the SQL of the student-level rows (with school_id and school_name);
    the district row exists even when there is not a single one. -#}
{%- macro levels(detail) -%}
WITH d AS (
{{ detail }}
),
levels AS (
    SELECT 'district' AS level, NULL AS school_id, NULL AS school_name, d.* EXCLUDE (school_id, school_name)
    FROM (SELECT 1) AS always LEFT JOIN d ON true
    UNION ALL SELECT 'school', school_id, school_name, * EXCLUDE (school_id, school_name) FROM d
)
{%- endmacro %}
