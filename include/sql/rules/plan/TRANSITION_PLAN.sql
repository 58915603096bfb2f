-- TRANSITION_PLAN: the IEP in effect of a student in scope who is transition age by its end has a plan
SELECT i.student_id, NULL AS meeting_id, NULL::DATE AS event_date, i.iep_id AS item_id,
       i.has_transition_plan = 'Y' AS passes, i.iep_id, i.end_date, s.transition_birthday
FROM {{ src }}.ieps i JOIN {{ facts }}.students s USING (student_id)
WHERE i.status = 'active' AND DATE '{{ as_of }}' BETWEEN i.begin_date AND i.end_date
  AND s.in_scope AND s.transition_birthday <= i.end_date
