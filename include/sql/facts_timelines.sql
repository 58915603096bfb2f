-- Timeline cycles: one row per deadline of a student. A cycle is *closed* when its
-- event happened (event_date) and *open* otherwise. Status is decided in rule_results.sql.
CREATE OR REPLACE TABLE facts.timelines AS
WITH initial AS (  -- the latest initial evaluation with consent of each student
    SELECT * FROM {{ src }}.evaluations
    WHERE evaluation_type = 'initial' AND consent_received_date IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY student_id ORDER BY consent_received_date DESC, evaluation_id DESC) = 1
),
eligible_initial AS (  -- the latest eligible initial evaluation with a determination date
    SELECT * FROM {{ src }}.evaluations
    WHERE evaluation_type = 'initial' AND eligibility_outcome = 'eligible' AND eligibility_determination_date IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY student_id ORDER BY eligibility_determination_date DESC, evaluation_id DESC) = 1
),
held AS (SELECT meeting_id, student_id, meeting_type, held_date, iep_reviewed FROM {{ src }}.meetings WHERE status = 'held'),
reviews AS (  -- review meetings of eligible students, newest first
    SELECT h.student_id, h.meeting_id, h.held_date,
           row_number() OVER (PARTITION BY h.student_id ORDER BY h.held_date DESC, h.meeting_id DESC) AS n
    FROM held h JOIN facts.students s USING (student_id)
    WHERE h.iep_reviewed = 'Y' AND s.sped_status = 'eligible'
),
completed AS (  -- completed evaluations of eligible students, newest first
    SELECT e.student_id, e.evaluation_id, e.evaluation_completed_date AS completed,
           row_number() OVER (PARTITION BY e.student_id ORDER BY e.evaluation_completed_date DESC, e.evaluation_id DESC) AS n
    FROM {{ src }}.evaluations e JOIN facts.students s USING (student_id)
    WHERE e.evaluation_completed_date IS NOT NULL AND s.sped_status = 'eligible'
),
waivers AS (SELECT student_id, list(reevaluation_waived_date) AS dates FROM {{ src }}.evaluations
            WHERE reevaluation_waived_date IS NOT NULL GROUP BY 1)
-- EVAL_60_DAY: consent C, due C + N, event = evaluation completed
SELECT 'EVAL_60_DAY' AS rule_id, student_id, evaluation_id AS item_id, consent_received_date AS start_date,
       consent_received_date + {{ r.EVAL_60_DAY.initial_evaluation_days }} AS due_date,
       evaluation_completed_date AS event_date,
       CASE WHEN delay_reason_code IN ({{ exempt_reasons }}) THEN delay_reason_code END AS exempt_reason,
       false AS waived
FROM initial
UNION ALL
-- IEP_INITIAL_30_DAY: eligibility E, due E + N, event = first held initial meeting of this evaluation cycle
SELECT 'IEP_INITIAL_30_DAY', e.student_id, e.evaluation_id, e.eligibility_determination_date,
       e.eligibility_determination_date + {{ r.IEP_INITIAL_30_DAY.initial_iep_days }},
       (SELECT min(h.held_date) FROM held h WHERE h.student_id = e.student_id AND h.meeting_type = 'initial'
          AND h.held_date >= coalesce(e.consent_received_date, e.referral_date, e.eligibility_determination_date)),
       NULL, false
FROM eligible_initial e
UNION ALL
-- IEP_ANNUAL_REVIEW, closed: the latest review came after the one before it
SELECT 'IEP_ANNUAL_REVIEW', cur.student_id, cur.meeting_id, prev.held_date,
       {% if r.IEP_ANNUAL_REVIEW.annual_review_basis == 'anniversary' %}CAST(prev.held_date + INTERVAL 1 YEAR AS DATE){% else %}prev.held_date + 365{% endif %},
       cur.held_date, NULL, false
FROM reviews cur JOIN reviews prev ON prev.student_id = cur.student_id AND prev.n = 2 WHERE cur.n = 1
UNION ALL
-- IEP_ANNUAL_REVIEW, open: the next review is due one span after the latest
SELECT 'IEP_ANNUAL_REVIEW', student_id, meeting_id, held_date,
       {% if r.IEP_ANNUAL_REVIEW.annual_review_basis == 'anniversary' %}CAST(held_date + INTERVAL 1 YEAR AS DATE){% else %}held_date + 365{% endif %},
       NULL, NULL, false
FROM reviews WHERE n = 1
UNION ALL
-- REEVALUATION_3_YEAR, closed: the latest evaluation came after the one before it (waiver in between: ok)
SELECT 'REEVALUATION_3_YEAR', cur.student_id, cur.evaluation_id, prev.completed,
       CAST(prev.completed + INTERVAL {{ r.REEVALUATION_3_YEAR.reevaluation_years }} YEAR AS DATE), cur.completed, NULL,
       coalesce(list_bool_or(list_transform(w.dates, lambda x: x > prev.completed AND x <= cur.completed)), false)
FROM completed cur JOIN completed prev ON prev.student_id = cur.student_id AND prev.n = 2
LEFT JOIN waivers w ON w.student_id = cur.student_id
WHERE cur.n = 1
UNION ALL
-- REEVALUATION_3_YEAR, open: due 3 years (anniversary) after the latest completed evaluation
SELECT 'REEVALUATION_3_YEAR', c.student_id, c.evaluation_id, c.completed,
       CAST(c.completed + INTERVAL {{ r.REEVALUATION_3_YEAR.reevaluation_years }} YEAR AS DATE), NULL, NULL,
       coalesce(list_bool_or(list_transform(w.dates, lambda x: x > c.completed)), false)
FROM completed c LEFT JOIN waivers w ON w.student_id = c.student_id WHERE c.n = 1
{% if r.PARENT_REQUEST_RESPONSE.enabled %}
UNION ALL
-- PARENT_REQUEST_RESPONSE: written request Q, due Q + N, event = first held meeting on or after Q
SELECT 'PARENT_REQUEST_RESPONSE', q.student_id, q.request_id, q.received_date,
       q.received_date + {{ r.PARENT_REQUEST_RESPONSE.parent_request_days }},
       (SELECT min(h.held_date) FROM held h WHERE h.student_id = q.student_id AND h.held_date >= q.received_date),
       NULL, false
FROM {{ src }}.parent_requests q WHERE q.in_writing = 'Y'
{% endif %};
