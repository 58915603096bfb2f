-- One row per student and timeline (initial evaluation, annual review, reevaluation) with its
-- category as in CALPADS reports 16.21 / 16.25: the worst of the student's cycles evaluated tonight.
-- A cycle whose due date the calendar cannot give (a state pack's calendar gap) is `calendar gap`,
-- with an empty due date: a finding for the data team, never a reason to withhold the file.
WITH c AS (
    SELECT r.student_id, r.due_date, r.event_date, r.days_overdue,   -- not r.*: the details are long
           CASE r.rule_id WHEN '{{ pack.initial_rule }}' THEN 'initial evaluation' WHEN 'IEP_ANNUAL_REVIEW' THEN 'annual review'
                          ELSE 'reevaluation' END AS timeline,
           CASE WHEN r.due_date IS NULL THEN 'calendar gap'
                WHEN r.phase = 'closed' AND r.base_status = 'late' THEN 'held late'
                WHEN r.phase = 'closed' THEN 'timely'
                WHEN r.base_status = 'overdue' THEN 'overdue' ELSE 'pending' END AS category,
           r.status = 'exempt' AS exempt
    FROM facts.rule_results r
    WHERE r.rule_id IN ('{{ pack.initial_rule }}', 'IEP_ANNUAL_REVIEW', 'REEVALUATION_3_YEAR')
)
SELECT DATE '{{ as_of }}' AS as_of, s.school_id, sc.school_name, s.student_id, s.state_student_id, s.last_name,
       s.first_name, c.timeline, c.category, c.due_date, c.event_date, c.days_overdue,
       CASE WHEN c.exempt THEN 'Y' ELSE 'N' END AS exempt_delay
FROM c JOIN core.students s USING (student_id) JOIN core.schools sc USING (school_id)
QUALIFY row_number() OVER (PARTITION BY c.student_id, c.timeline
                           ORDER BY CASE c.category WHEN 'overdue' THEN 1 WHEN 'held late' THEN 2
                                    WHEN 'calendar gap' THEN 3 WHEN 'pending' THEN 4 ELSE 5 END,
                                    c.due_date DESC, c.event_date DESC) = 1
