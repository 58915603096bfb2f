{% import 'rules/reporting_window.sql' as window with context %}
-- Timeline cycles: one row per deadline of a student. A cycle is *closed* when its event happened
-- (event_date) and *open* otherwise. Each federal timeline rule's cycles are its own file
-- (rules/timeline/<ID>.sql), reading the shared CTEs below (initial, eligible_initial, held,
-- reviews, reeval); a rule whose section says enabled: false gives none. Status is decided in
-- rule_results.sql. start_kind says what started the clock; detail is set by the rules of a state
-- pack (facts_pack.sql), which explain their own due dates. Federal rules a state pack replaces
-- are left out.
-- The working tables of one evaluation (timelines, the calendar's) are TEMP tables of the task's
-- connection: only facts.students, facts.meetings and facts.rule_results are read later, and not
-- writing the rest to the warehouse file is a large share of the rules stage (docs/performance.md).
CREATE OR REPLACE TEMP TABLE initial_evaluations AS   -- the latest initial evaluation with consent
SELECT * FROM {{ src }}.evaluations
WHERE evaluation_type = 'initial' AND consent_received_date IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY student_id ORDER BY consent_received_date DESC, evaluation_id DESC) = 1;

CREATE OR REPLACE TEMP TABLE eligible_initial_evaluations AS   -- the latest that found the student eligible
SELECT * FROM {{ src }}.evaluations
WHERE evaluation_type = 'initial' AND eligibility_outcome = 'eligible' AND eligibility_determination_date IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY student_id ORDER BY eligibility_determination_date DESC, evaluation_id DESC) = 1;

CREATE OR REPLACE TEMP TABLE timelines AS
WITH initial AS (SELECT * FROM temp.initial_evaluations),
eligible_initial AS (SELECT * FROM temp.eligible_initial_evaluations),
held AS (SELECT meeting_id, student_id, meeting_type, held_date, iep_reviewed FROM {{ src }}.meetings WHERE status = 'held'),
reviews AS (  -- counted review meetings: of eligible students, of the current eligibility (held on or after E0)
    SELECT h.student_id, h.meeting_id, h.held_date,
           lag(h.held_date) OVER w AS prev_held,
           lead(h.meeting_id) OVER w IS NULL AS latest   -- one sort for both: the last in the order is the latest
    FROM held h JOIN {{ facts }}.students s USING (student_id) LEFT JOIN eligible_initial e USING (student_id)
    WHERE h.iep_reviewed = 'Y' AND s.sped_status = 'eligible'
      AND (e.eligibility_determination_date IS NULL OR h.held_date >= e.eligibility_determination_date)
    WINDOW w AS (PARTITION BY h.student_id ORDER BY h.held_date, h.meeting_id)
),
clock AS (  -- reevaluation clock starts: completed reevaluations (any outcome) and eligible initial evaluations
    SELECT e.student_id, e.evaluation_id, e.evaluation_type, e.evaluation_completed_date AS completed,
           lag(e.evaluation_completed_date) OVER w AS prev_start,
           lead(e.evaluation_id) OVER w IS NULL AS latest
    FROM {{ src }}.evaluations e JOIN {{ facts }}.students s USING (student_id)
    WHERE s.sped_status = 'eligible' AND e.evaluation_completed_date IS NOT NULL
      AND (e.evaluation_type = 'reevaluation' OR e.eligibility_outcome = 'eligible')
    WINDOW w AS (PARTITION BY e.student_id ORDER BY e.evaluation_completed_date, e.evaluation_id)
),
waivers AS (SELECT student_id, reevaluation_waived_date AS waived FROM {{ src }}.evaluations
            WHERE reevaluation_waived_date IS NOT NULL),
reeval AS (  -- each cycle's basis: the clock start, or the latest written waiver after it (and up to the event)
    SELECT c.student_id, c.evaluation_id, c.evaluation_type, c.completed, c.latest, c.prev_start,
           (SELECT max(w.waived) FROM waivers w
             WHERE w.student_id = c.student_id AND w.waived > c.completed) AS waived_after,
           (SELECT max(w.waived) FROM waivers w
             WHERE w.student_id = c.student_id AND w.waived > c.prev_start AND w.waived <= c.completed) AS waived_before
    FROM clock c
),
cycles AS (
SELECT NULL::VARCHAR AS rule_id, NULL::VARCHAR AS student_id, NULL::VARCHAR AS item_id, NULL::VARCHAR AS meeting_id,
       NULL::DATE AS start_date, NULL::VARCHAR AS start_kind, NULL::DATE AS due_date, NULL::DATE AS event_date,
       NULL::VARCHAR AS exempt_reason
WHERE false
{% for rule in federal_timelines %}{% set s = r[rule.rule_id] %}{% if s.enabled is not defined or s.enabled %}
UNION ALL
SELECT '{{ rule.rule_id }}', student_id, item_id, meeting_id, start_date, start_kind, due_date, event_date, exempt_reason
FROM ({% filter indent(4) %}
{% include rule.sql_file %}{% endfilter %}) AS {{ rule.rule_id | lower }}
{% endif %}{% endfor %}
)
-- Closed cycles older than the reporting window are never reported: dropped where they are made,
-- they are more than half of all cycles; but a rule with a finding of the state (ledger_rules)
-- keeps them all: the findings ledger matches a finding's instances to them.
SELECT * FROM cycles WHERE {{ window.cycle_reported('event_date') }}
{%- if ledger_rules | default([]) %} OR rule_id IN ({{ ledger_rules | map("literal") | join(", ") }}){% endif %};
ALTER TABLE temp.timelines ADD COLUMN detail VARCHAR;   -- a state pack explains its due dates
ALTER TABLE temp.timelines ADD COLUMN gap_calendar VARCHAR;   -- a state pack's calendar gap: the calendar
ALTER TABLE temp.timelines ADD COLUMN gap_date DATE;          -- and the date it would need
