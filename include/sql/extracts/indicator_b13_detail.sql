-- Indicator B13 (secondary transition), the student-level detail: one row per youth in scope
-- (active enrolment) whose IEP was developed or revised at a meeting held in the reporting
-- window on or after the day the youth reached rules.transition_age (the IEP's date is that
-- meeting's date); the latest such IEP of each youth. Drafts are not IEPs yet. The IEP meets
-- the indicator when it holds every transition component the export records: a transition
-- plan (ieps.has_transition_plan: measurable postsecondary goals and transition services,
-- 300.320(b)), the student invited to the meeting (the meeting's latest notice before it,
-- invites_student, 300.321(b)(1)) and the transition purpose stated on that notice
-- (states_transition_purpose, 300.322(b)(2)).
SELECT DATE '{{ as_of }}' AS as_of, s.school_id, sc.school_name, s.student_id, st.state_student_id,
       i.iep_id, m.meeting_id, m.held_date AS iep_date,
       date_diff('year', s.birth_date, m.held_date)
           - CASE WHEN strftime(m.held_date, '%m%d') < strftime(s.birth_date, '%m%d') THEN 1 ELSE 0 END AS age_on_iep_date,
       CASE WHEN i.has_transition_plan = 'Y' THEN 'Y' ELSE 'N' END AS transition_plan,
       CASE WHEN m.invites_student = 'Y' THEN 'Y' ELSE 'N' END AS student_invited,
       CASE WHEN m.states_transition_purpose = 'Y' THEN 'Y' ELSE 'N' END AS transition_purpose_on_notice,
       CASE WHEN i.has_transition_plan = 'Y' AND m.invites_student = 'Y' AND m.states_transition_purpose = 'Y'
            THEN 'Y' ELSE 'N' END AS meets_b13
FROM core.ieps i
JOIN facts.meetings m USING (meeting_id)
JOIN facts.students s ON s.student_id = i.student_id
JOIN core.students st ON st.student_id = s.student_id
JOIN core.schools sc ON sc.school_id = s.school_id
WHERE i.status <> 'draft' AND s.in_scope AND s.transition_birthday <= m.held_date
QUALIFY row_number() OVER (PARTITION BY s.student_id ORDER BY m.held_date DESC, m.meeting_id DESC, i.iep_id DESC) = 1
