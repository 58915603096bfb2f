-- Indicator B12 for the district and each school, from indicator_b12_detail's children:
-- (a) referred by Part C with the third birthday in the window; b-f each child in the first that
-- applies; percent = c / (a - b - d - e - f) x 100; the children in none of b-f by days beyond
-- the birthday (the APR's ranges); the pending children (birthday after the as-of date) apart.
{% from "extracts/levels.sql" import levels %}
{% set detail %}{% include "extracts/indicator_b12_detail.sql" %}{% endset %}
{{ levels(detail) }}
SELECT DATE '{{ as_of }}' AS as_of, level, school_id, any_value(school_name) AS school_name,
       count(*) FILTER (WHERE in_a = 'Y') AS referred_a,
{%- for k, name in (("b", "not_eligible_by_3_b"), ("c", "iep_by_3_c"), ("d", "parent_delay_d"),
                    ("e", "late_referral_e"), ("f", "continued_part_c_f")) %}
       count(*) FILTER (WHERE category = '{{ k }}') AS {{ name }},
{%- endfor %}
       count(*) FILTER (WHERE in_a = 'Y') - count(*) FILTER (WHERE category IN ('b', 'd', 'e', 'f')) AS percent_denominator,
       round(100.0 * count(*) FILTER (WHERE category = 'c')
             / nullif(count(*) FILTER (WHERE in_a = 'Y') - count(*) FILTER (WHERE category IN ('b', 'd', 'e', 'f')), 0),
             1) AS percent,
       count(*) FILTER (WHERE category = 'none') AS beyond_third_birthday,
{%- for range in ["1-10", "11-20", "21-30", "over 30"] %}
       count(*) FILTER (WHERE days_range = '{{ range }}') AS "beyond_{{ range | replace('-', '_') | replace(' ', '_') }}",
{%- endfor %}
       count(*) FILTER (WHERE category = 'pending') AS pending
FROM levels
GROUP BY level, school_id
