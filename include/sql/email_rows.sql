-- What each recipient's digest lists for the night: the open statuses every night while open;
-- the once statuses (late, violation, warning) until they were emailed to this recipient
-- (ops.email_items); never exited students; never exempt rows. is_new: this recipient was never
-- emailed about the item (in any status). One row per recipient and exception.
{% include "email_recipients.sql" %}
SELECT r.recipient, e.school_id, sc.school_name, e.rule_id, e.status, e.student_id, e.meeting_id,
       st.first_name, st.last_name, e.due_date, e.event_date, e.days_overdue, e.detail, e.first_detected_on,
       NOT EXISTS (SELECT 1 FROM ops.email_items i
                   WHERE i.recipient = r.recipient AND i.rule_id = e.rule_id AND i.student_id = e.student_id
                     AND i.meeting_key = coalesce(e.meeting_id, '') AND i.as_of <> DATE '{{ as_of }}') AS is_new
FROM compliance.exceptions e
JOIN recipients r USING (school_id)
JOIN core.schools sc USING (school_id)
JOIN core.students st USING (student_id)
WHERE e.as_of = DATE '{{ as_of }}' AND st.enrollment_status = 'active'
  AND (e.status IN ({{ statuses.sql_list(statuses.OPEN) }})
       OR (e.status IN ({{ statuses.sql_list(statuses.ONCE) }})
           AND NOT EXISTS (SELECT 1 FROM ops.email_items i
                           WHERE i.recipient = r.recipient AND i.rule_id = e.rule_id AND i.student_id = e.student_id
                             AND i.meeting_key = coalesce(e.meeting_id, '') AND i.status = e.status
                             AND i.as_of <> DATE '{{ as_of }}')))
ORDER BY r.recipient, sc.school_name, e.school_id,
         {{ statuses.rank_sql('e.status') }},
         e.days_overdue DESC NULLS LAST, e.due_date NULLS LAST, e.student_id, e.rule_id, e.meeting_id NULLS FIRST
