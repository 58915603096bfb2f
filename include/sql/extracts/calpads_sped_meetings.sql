{% import 'rules/reporting_window.sql' as window with context %}
-- Held IEP meetings in the reporting window with the student and school fields of a
-- CALPADS-style SPED meeting record. Meeting types outside the definition's code map
-- (amendments, parent requests, ...) are not state-reported meetings and are left out.
SELECT m.meeting_id, m.meeting_type, m.held_date, st.student_id, st.state_student_id, st.first_name, st.last_name,
       st.birth_date, st.gender, sc.district_code, sc.state_school_code,
       ev.referral_date, ev.consent_received_date,
       CASE WHEN m.meeting_type = 'initial' THEN ev.delay_reason_code END AS delay_reason_code,
       '{{ window_start.year }}-{{ window_start.year + 1 }}' AS academic_year
FROM core.meetings m
JOIN core.students st USING (student_id)
JOIN core.schools sc USING (school_id)
LEFT JOIN (SELECT * FROM core.evaluations WHERE evaluation_type = 'initial'
           QUALIFY row_number() OVER (PARTITION BY student_id ORDER BY consent_received_date DESC NULLS LAST,
                                      evaluation_id DESC) = 1) ev USING (student_id)
WHERE m.status = 'held' AND {{ window.in_window('m.held_date') }}
  AND m.meeting_type IN ({{ selected_codes }})
