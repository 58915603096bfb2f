{%- macro span(d) -%}
{% if s.annual_review_basis == 'anniversary' %}CAST({{ d }} + INTERVAL 1 YEAR AS DATE){% else %}{{ d }} + 365{% endif %}
{%- endmacro -%}
-- IEP_ANNUAL_REVIEW, closed: every counted review against the counted review before it
SELECT student_id, meeting_id AS item_id, meeting_id, prev_held AS start_date, 'review' AS start_kind,
       {{ span('prev_held') }} AS due_date, held_date AS event_date, NULL AS exempt_reason
FROM reviews WHERE prev_held IS NOT NULL
UNION ALL
-- open: the next review is due one span after the latest counted one
SELECT student_id, meeting_id, NULL, held_date, 'review', {{ span('held_date') }}, NULL, NULL
FROM reviews WHERE latest
