-- PART_C_TRANSITION_BY_3: a child referred by Part C (part_c_transitions.csv, optional: empty
-- without the file), due on the third birthday; the event and the exemption: rules/part_c_cases.sql.
SELECT student_id, student_id AS item_id, NULL AS meeting_id, referral AS start_date, 'Part C referral' AS start_kind,
       t AS due_date, event_date, exempt_reason
FROM ({% filter indent(6) %}
{% include "rules/part_c_cases.sql" %}{% endfilter %}) AS cases
