-- IEP_INITIAL_30_DAY: eligibility E, due E + N, event = the first held initial meeting on or after the
-- consent; none when the parent refused consent for services (300.300(b)(3))
SELECT e.student_id, e.evaluation_id AS item_id, NULL AS meeting_id, e.eligibility_determination_date AS start_date,
       'eligibility' AS start_kind, e.eligibility_determination_date + {{ s.initial_iep_days }} AS due_date,
       (SELECT min(h.held_date) FROM held h WHERE h.student_id = e.student_id AND h.meeting_type = 'initial'
          AND h.held_date >= coalesce(e.consent_received_date, e.referral_date, e.eligibility_determination_date))
         AS event_date,
       NULL AS exempt_reason
FROM eligible_initial e
WHERE e.services_consent_refused_date IS NULL
