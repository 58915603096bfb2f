-- Indicator B13 for the district and each school: the youth of extract_indicator_b13 (the
-- denominator), those whose IEP meets the indicator (the numerator), the percent, and how many
-- miss each component.
{% from "extracts/levels.sql" import levels %}
{% set detail %}{% include "extracts/indicator_b13_detail.sql" %}{% endset %}
{{ levels(detail) }}
SELECT DATE '{{ as_of }}' AS as_of, level, school_id, any_value(school_name) AS school_name,
       count(student_id) AS youth_transition_age,
       count(*) FILTER (WHERE meets_b13 = 'Y') AS youth_meeting_b13,
       round(100.0 * count(*) FILTER (WHERE meets_b13 = 'Y') / nullif(count(student_id), 0), 1) AS percent,
       count(*) FILTER (WHERE transition_plan = 'N') AS missing_transition_plan,
       count(*) FILTER (WHERE student_invited = 'N') AS student_not_invited,
       count(*) FILTER (WHERE transition_purpose_on_notice = 'N') AS purpose_not_on_notice
FROM levels
GROUP BY level, school_id
