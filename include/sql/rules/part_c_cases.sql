-- The children referred by Part C (part_c_transitions.csv), one row each, with what both
-- PART_C_TRANSITION_BY_3 (rules/timeline/) and Indicator B12 (extracts/indicator_b12_detail)
-- read: the third birthday t (birth_date + 3 years; February 29 gives February 28); the latest
-- initial evaluation with consent on or after the referral (its outcome, the eligibility
-- determination, its delay reason, services refused); the first IEP (active or superseded)
-- begun on or after the referral; the event (eligible: that IEP's begin date; not eligible: the
-- determination) and the reason the rule is exempt, if any. ``s``: the rule's settings.
WITH pc AS (
    SELECT p.student_id, p.referral_received_date AS referral, p.part_c_eligible_date, p.continued_part_c,
           CAST(s.birth_date + INTERVAL 3 YEAR AS DATE) AS t
    FROM {{ src }}.part_c_transitions p JOIN {{ src }}.students s USING (student_id)
    WHERE p.referral_received_date IS NOT NULL AND s.birth_date IS NOT NULL
),
ev AS (
    SELECT pc.student_id, e.evaluation_id, e.eligibility_outcome, e.eligibility_determination_date,
           e.delay_reason_code, e.services_consent_refused_date
    FROM pc JOIN {{ src }}.evaluations e
              ON e.student_id = pc.student_id AND e.evaluation_type = 'initial' AND e.consent_received_date >= pc.referral
    QUALIFY row_number() OVER (PARTITION BY pc.student_id ORDER BY e.consent_received_date DESC, e.evaluation_id DESC) = 1
),
iep AS (
    SELECT pc.student_id, min(i.begin_date) AS begin_date
    FROM pc JOIN {{ src }}.ieps i
              ON i.student_id = pc.student_id AND i.status IN ('active', 'superseded') AND i.begin_date >= pc.referral
    GROUP BY 1
),
cases AS (
    SELECT pc.*, ev.evaluation_id, ev.eligibility_outcome AS outcome, ev.eligibility_determination_date AS decided,
           ev.delay_reason_code, ev.services_consent_refused_date IS NOT NULL AS services_refused,
           iep.begin_date AS iep_begin,
           CASE ev.eligibility_outcome WHEN 'eligible' THEN iep.begin_date
                                       WHEN 'not_eligible' THEN ev.eligibility_determination_date END AS event_date,
           coalesce(ev.delay_reason_code IN ({{ s.exempt_delay_reasons | map('literal') | join(', ') or 'NULL' }}),
                    false) AS delay_exempt,
           pc.t - coalesce(pc.part_c_eligible_date, pc.referral) < {{ s.late_referral_days }} AS late_referral
    FROM pc LEFT JOIN ev USING (student_id) LEFT JOIN iep USING (student_id)
)
SELECT *, delay_exempt OR services_refused AS parent_caused,
       CASE WHEN delay_exempt THEN delay_reason_code WHEN services_refused THEN 'services_refused'
            WHEN late_referral THEN 'late_referral' WHEN continued_part_c = 'Y' THEN 'continued_part_c' END AS exempt_reason
FROM cases
