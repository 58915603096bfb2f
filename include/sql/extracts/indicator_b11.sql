-- Indicator B11 for the district and each school, from indicator_b11_detail's children:
-- (a) consent received and the timeline decidable, (b) completed within it, percent = b / a x 100;
-- the children of (a) not in (b) by days beyond the timeline (the APR's ranges) and by delay
-- reason; the 300.301(d) exceptions, the pending evaluations and the calendar gaps, counted apart.
{%- set reasons = ["parent_consent_delay", "school_break", "other", "parent_did_not_produce_child",
                   "transfer_agreed_timeline", "none recorded"] %}
{% from "extracts/levels.sql" import levels %}
{% set detail %}{% include "extracts/indicator_b11_detail.sql" %}{% endset %}
{{ levels(detail) }}
SELECT DATE '{{ as_of }}' AS as_of, level, school_id, any_value(school_name) AS school_name,
       count(*) FILTER (WHERE in_a = 'Y') AS consent_received,
       count(*) FILTER (WHERE in_b = 'Y') AS completed_within_timeline,
       round(100.0 * count(*) FILTER (WHERE in_b = 'Y') / nullif(count(*) FILTER (WHERE in_a = 'Y'), 0), 1) AS percent,
       count(*) FILTER (WHERE category = 'late') AS completed_late,
       count(*) FILTER (WHERE category = 'overdue') AS not_completed_overdue,
{%- for range in ["1-10", "11-20", "21-30", "over 30"] %}
       count(*) FILTER (WHERE days_range = '{{ range }}') AS "beyond_{{ range | replace('-', '_') | replace(' ', '_') }}",
{%- endfor %}
{%- for reason in reasons %}
       count(*) FILTER (WHERE category IN ('late', 'overdue') AND delay_reason = '{{ reason }}')
           AS "delay_{{ reason | replace(' ', '_') }}",
{%- endfor %}
       count(*) FILTER (WHERE exception = '300.301(d)(1)') AS exception_d1_parent,
       count(*) FILTER (WHERE exception = '300.301(d)(2)') AS exception_d2_transfer,
       count(*) FILTER (WHERE exception = 'exempt by configuration') AS exception_other,
       count(*) FILTER (WHERE category = 'pending') AS pending,
       count(*) FILTER (WHERE category = 'calendar_gap') AS calendar_gap
FROM levels
GROUP BY level, school_id
