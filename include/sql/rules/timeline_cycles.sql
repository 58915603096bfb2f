-- Every timeline cycle of the night, of any school year (facts.rule_results keeps the reporting
-- window's), for the findings ledger: a finding's instance is a cycle (rule, student, due date)
-- and its prong 2 the cycles due after the finding. exempt: a delay reason the rule accepts.
CREATE OR REPLACE TABLE {{ facts }}.timeline_cycles AS
SELECT rule_id, student_id, due_date, event_date, exempt_reason IS NOT NULL AS exempt
FROM temp.timelines WHERE due_date IS NOT NULL;
