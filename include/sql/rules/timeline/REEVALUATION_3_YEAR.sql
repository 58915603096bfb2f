-- REEVALUATION_3_YEAR, closed: a completed reevaluation against the clock start (or waiver) before it
SELECT student_id, evaluation_id AS item_id, NULL AS meeting_id,
       coalesce(waived_before, prev_start) AS start_date,
       CASE WHEN waived_before IS NULL THEN 'evaluation' ELSE 'waiver' END AS start_kind,
       CAST(coalesce(waived_before, prev_start) + INTERVAL {{ s.reevaluation_years }} YEAR AS DATE) AS due_date,
       completed AS event_date, NULL AS exempt_reason
FROM reeval WHERE evaluation_type = 'reevaluation' AND prev_start IS NOT NULL
UNION ALL
-- open: N years (anniversary) after the latest clock start, or after a later waiver
SELECT student_id, evaluation_id, NULL,
       coalesce(waived_after, completed), CASE WHEN waived_after IS NULL THEN 'evaluation' ELSE 'waiver' END,
       CAST(coalesce(waived_after, completed) + INTERVAL {{ s.reevaluation_years }} YEAR AS DATE), NULL, NULL
FROM reeval WHERE latest
