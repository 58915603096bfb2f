{% import 'rules/reporting_window.sql' as window with context %}
-- Every compliance rule (docs/rules.md) as of DATE '{{ as_of }}': one row per evaluated student
-- cycle, meeting or IEP, with status ok | overdue | due_soon | late | violation | warning | exempt.
-- A rule's rows come from its own file (rules/<kind>/<ID>.sql), its detail from the rule catalog;
-- thresholds come from the configuration (rendered in); nothing else restates them.
CREATE OR REPLACE TABLE {{ facts }}.rule_results AS
WITH t AS (  -- timeline cycles with their base status
    SELECT t.*, s.in_scope,
           CASE WHEN t.due_date IS NULL THEN 'warning'   -- a state pack's due date the calendar cannot give
                WHEN t.event_date IS NOT NULL THEN CASE WHEN t.event_date > t.due_date THEN 'late' ELSE 'ok' END
                WHEN DATE '{{ as_of }}' > t.due_date THEN 'overdue'
                WHEN t.due_date - DATE '{{ as_of }}' <= CASE t.rule_id
                    {% for rule in timeline_rules %}WHEN '{{ rule }}' THEN {{ warn_days[rule] }} {% endfor %} END THEN 'due_soon'
                ELSE 'ok' END AS base_status
    FROM temp.timelines t JOIN {{ facts }}.students s USING (student_id)
),
timeline AS (
    SELECT rule_id, student_id, meeting_id, item_id,
           CASE WHEN exempt_reason IS NOT NULL AND base_status IN ('overdue', 'late') THEN 'exempt'
                ELSE base_status END AS status,
           base_status, due_date, event_date,
           CASE base_status WHEN 'overdue' THEN DATE '{{ as_of }}' - due_date
                            WHEN 'late' THEN event_date - due_date END AS days_overdue,
           CASE WHEN event_date IS NULL THEN 'open' ELSE 'closed' END AS phase,
           CASE WHEN detail IS NOT NULL THEN detail   -- a state pack's rule explains its own due date
                || CASE WHEN event_date IS NOT NULL THEN '; met ' || event_date ELSE '' END
                || coalesce('; delay reason: ' || exempt_reason, '')
                ELSE CASE rule_id {% for rule in federal_timelines %}
             WHEN '{{ rule.rule_id }}' THEN {{ details[rule.rule_id] | indent(15) }}{% endfor %}
           END END AS detail
    FROM t
    -- closed cycles count in the reporting window; open ones for students in scope only
    WHERE {{ window.cycle_reported('event_date') }} AND (event_date IS NOT NULL OR in_scope)
),
team AS (   -- each meeting rule's rows (rules/meeting/<ID>.sql) with its status and detail
{% for rule in meeting_catalog %}{% set s, params = r[rule.rule_id], rule.params %}
    SELECT '{{ rule.rule_id }}' AS rule_id, student_id, meeting_id, held_date,
           CASE WHEN passes THEN 'ok' ELSE '{{ rule.fails_as }}' END AS status,
           {{ details[rule.rule_id] | indent(11) }} AS detail
    FROM ({% filter indent(8) %}
{% include rule.sql_file %}{% endfilter %}) AS {{ rule.rule_id | lower }}
    {{ "UNION ALL" if not loop.last }}
{% endfor %}
),
plans AS (   -- each plan rule's rows (rules/plan/<ID>.sql)
{% for rule in plan_catalog %}{% set s, params = r[rule.rule_id], rule.params %}
    SELECT '{{ rule.rule_id }}' AS rule_id, student_id, meeting_id, event_date,
           CASE WHEN passes THEN 'ok' ELSE '{{ rule.fails_as }}' END AS status,
           {{ details[rule.rule_id] | indent(11) }} AS detail, item_id
    FROM ({% filter indent(8) %}
{% include rule.sql_file %}{% endfilter %}) AS {{ rule.rule_id | lower }}
    {{ "UNION ALL" if not loop.last }}
{% endfor %}
)
SELECT DATE '{{ as_of }}' AS as_of, rule_id, status, student_id, meeting_id, item_id, phase, base_status,
       due_date, event_date, days_overdue, detail
FROM timeline
UNION ALL
SELECT DATE '{{ as_of }}', rule_id, status, student_id, meeting_id, meeting_id, 'closed', status,
       NULL, held_date, NULL, detail
FROM team
UNION ALL
SELECT DATE '{{ as_of }}', rule_id, status, student_id, meeting_id, item_id, 'closed', status,
       NULL, event_date, NULL, detail
FROM plans;
