-- EVAL_60_DAY: consent C, due C + N, event = the evaluation completed (the latest initial
-- evaluation with a consent: initial)
SELECT student_id, evaluation_id AS item_id, NULL AS meeting_id, consent_received_date AS start_date,
       'consent' AS start_kind, consent_received_date + {{ s.initial_evaluation_days }} AS due_date,
       evaluation_completed_date AS event_date,
       CASE WHEN delay_reason_code IN ({{ s.exempt_delay_reasons | map('literal') | join(', ') or 'NULL' }})
            THEN delay_reason_code END AS exempt_reason
FROM initial
