-- The data team's look-ahead (counts only): open deadlines that fall due in the next 30, 60 and
-- 90 days (cumulative), by school and case manager. Open: the required event has not happened
-- and the deadline is today or later (ok or due_soon; overdue rows are the exceptions' own).
SELECT s.school_id, s.case_manager_staff_id AS case_manager_id,
       nullif(trim(coalesce(any_value(cm.first_name), '') || ' ' || coalesce(any_value(cm.last_name), '')), '')
           AS case_manager,
{%- for days in windows %}
       count(*) FILTER (WHERE r.due_date <= DATE '{{ as_of }}' + {{ days }}) AS within_{{ days }}{{ "," if not loop.last }}
{%- endfor %}
FROM {{ facts }}.rule_results r
JOIN {{ facts }}.students s USING (student_id)
LEFT JOIN {{ src }}.staff cm ON cm.staff_id = s.case_manager_staff_id
WHERE r.phase = 'open' AND r.status IN ('ok', 'due_soon')
  AND r.due_date BETWEEN DATE '{{ as_of }}' AND DATE '{{ as_of }}' + {{ windows | max }}
GROUP BY s.school_id, s.case_manager_staff_id
ORDER BY s.school_id, s.case_manager_staff_id NULLS LAST
