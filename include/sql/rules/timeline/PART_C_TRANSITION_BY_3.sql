-- PART_C_TRANSITION_BY_3: a child referred by Part C (part_c_transitions.csv, optional: empty
-- without the file), due on the third birthday T; event = for the latest initial evaluation with
-- consent on or after the referral, the first IEP's begin date (eligible) or the eligibility
-- determination (not eligible); exempt reason: the parent's delay or refusal, a Part C
-- eligibility fewer than late_referral_days before T, Part C continued.
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
)
SELECT pc.student_id, pc.student_id AS item_id, NULL AS meeting_id, pc.referral AS start_date,
       'Part C referral' AS start_kind, pc.t AS due_date,
       CASE ev.eligibility_outcome WHEN 'eligible' THEN iep.begin_date
                                   WHEN 'not_eligible' THEN ev.eligibility_determination_date END AS event_date,
       CASE WHEN ev.delay_reason_code IN ({{ s.exempt_delay_reasons | map('literal') | join(', ') or 'NULL' }})
            THEN ev.delay_reason_code
            WHEN ev.services_consent_refused_date IS NOT NULL THEN 'services_refused'
            WHEN pc.t - coalesce(pc.part_c_eligible_date, pc.referral) < {{ s.late_referral_days }} THEN 'late_referral'
            WHEN pc.continued_part_c = 'Y' THEN 'continued_part_c' END AS exempt_reason
FROM pc LEFT JOIN ev USING (student_id) LEFT JOIN iep USING (student_id)
