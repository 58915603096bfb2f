{% import 'rules/reporting_window.sql' as window with context %}
-- Indicator B11 (child find, 300.301(c)(1)), the student-level detail: one row per child whose
-- parent consented to an initial evaluation in the reporting window (the consent of the
-- child's latest initial evaluation with consent, one row per child), judged against the timeline in
-- force (pack.initial_rule: 60 days, or the state pack's) as of the night:
--   timely    completed within the timeline             in (a) and (b)
--   late      completed after it                        in (a), not (b)
--   overdue   not completed, the timeline has passed    in (a), not (b)
--   exception overdue or late with a 300.301(d) reason  in neither (listed apart): the parent
--             repeatedly failed or refused to produce the child ((d)(1)), or the child
--             transferred in and the parent and the new district agreed on a date ((d)(2))
--             (rules.EVAL_60_DAY.exempt_delay_reasons)
--   pending   not completed, the timeline not yet over  in neither: not yet decidable
--   calendar_gap  the school calendar cannot give the due date (a state pack's calendar gap):
--             in neither, counted apart
-- days_beyond: days past the timeline (to completion, or to the as-of date while overdue), in the
-- APR's ranges 1-10, 11-20, 21-30, over 30; delay_reason: the evaluation's delay_reason_code.
WITH r AS (
    SELECT student_id, item_id AS evaluation_id, status, base_status, phase, due_date, event_date, days_overdue
    FROM facts.rule_results WHERE rule_id = '{{ pack.initial_rule }}'
),
latest AS (   -- a state pack measures every initial evaluation: the child's latest consent is counted
    SELECT r.*, e.consent_received_date, e.delay_reason_code
    FROM r JOIN core.evaluations e USING (evaluation_id)
    QUALIFY row_number() OVER (PARTITION BY r.student_id
                               ORDER BY e.consent_received_date DESC, r.evaluation_id DESC) = 1
),
c AS (
    SELECT r.*,
           CASE WHEN r.due_date IS NULL THEN 'calendar_gap'
                WHEN r.status = 'exempt' THEN 'exception'
                WHEN r.phase = 'closed' AND r.base_status = 'ok' THEN 'timely'
                WHEN r.phase = 'closed' THEN 'late'
                WHEN r.base_status = 'overdue' THEN 'overdue'
                ELSE 'pending' END AS category
    FROM latest r
    WHERE {{ window.in_window('r.consent_received_date') }}
)
SELECT DATE '{{ as_of }}' AS as_of, s.school_id, sc.school_name, c.student_id, s.state_student_id, c.evaluation_id,
       c.consent_received_date AS consent_date, c.due_date, c.event_date AS completed_date, c.category,
       CASE WHEN c.category IN ('timely', 'late', 'overdue') THEN 'Y' ELSE 'N' END AS in_a,
       CASE WHEN c.category = 'timely' THEN 'Y' ELSE 'N' END AS in_b,
       CASE WHEN c.category IN ('late', 'overdue') THEN c.days_overdue END AS days_beyond,
       CASE WHEN c.category NOT IN ('late', 'overdue') THEN NULL
            WHEN c.days_overdue <= 10 THEN '1-10' WHEN c.days_overdue <= 20 THEN '11-20'
            WHEN c.days_overdue <= 30 THEN '21-30' ELSE 'over 30' END AS days_range,
       CASE WHEN c.category = 'exception' THEN CASE c.delay_reason_code
                WHEN 'parent_did_not_produce_child' THEN '300.301(d)(1)'
                WHEN 'transfer_agreed_timeline' THEN '300.301(d)(2)' ELSE 'exempt by configuration' END END AS exception,
       CASE WHEN c.category IN ('late', 'overdue', 'exception') THEN coalesce(c.delay_reason_code, 'none recorded')
            END AS delay_reason
FROM c JOIN core.students s USING (student_id) JOIN core.schools sc ON sc.school_id = s.school_id
