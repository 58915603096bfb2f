-- The state summary (docs/outputs.md) for the district and each school, as of the night.
-- The rule results are counted once per school, rule, phase and status (not row by row under
-- 40 filters: they are the largest table of a state-scale night); every count below sums those,
-- for each school and for the district in one pass (GROUPING SETS).
WITH r AS (
    SELECT r.rule_id, r.phase, r.status, r.student_id, s.school_id   -- only what is counted
    FROM facts.rule_results r JOIN core.students s USING (student_id)
),
counts AS (
    SELECT school_id, rule_id, phase, status, count(*) AS n FROM r GROUP BY ALL
),
timelines AS (
    SELECT CASE WHEN grouping(school_id) = 1 THEN 'district' ELSE 'school' END AS level, school_id,
{% for rule, prefix in timelines %}
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}' AND phase = 'closed' AND status = 'ok'), 0) AS {{ prefix }}_timely,
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'late'), 0) AS {{ prefix }}_held_late,
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'overdue'), 0) AS {{ prefix }}_overdue,
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}' AND phase = 'open' AND status IN ('ok', 'due_soon')), 0) AS {{ prefix }}_pending,
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'exempt'), 0) AS {{ prefix }}_exempt,
{% endfor %}
{% for rule in pass_rates %}
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}'), 0) AS "{{ rule }}_evaluated",
           coalesce(sum(n) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'ok'), 0) AS "{{ rule }}_passed",
{% endfor %}
    FROM counts GROUP BY GROUPING SETS ((school_id), ())
),
plans AS (  -- students of transition age (a student is counted once, whatever the number of their IEPs)
    SELECT CASE WHEN grouping(school_id) = 1 THEN 'district' ELSE 'school' END AS level, school_id,
           count(DISTINCT student_id) AS transition_age_students,
           count(DISTINCT student_id) FILTER (WHERE status = 'ok') AS transition_with_plan
    FROM r WHERE rule_id = 'TRANSITION_PLAN' GROUP BY GROUPING SETS ((school_id), ())
),
invited AS (  -- students with a transition meeting in the window, and whether its notice invited them
    SELECT l.level, l.school_id, count(DISTINCT m.student_id) AS transition_meeting_students,
           count(DISTINCT m.student_id) FILTER (WHERE m.invites_student = 'Y') AS transition_student_invited
    FROM facts.meetings m JOIN core.students s USING (student_id),
         (SELECT 'district' AS level UNION ALL SELECT 'school') lv(level),
         LATERAL (SELECT lv.level, CASE WHEN lv.level = 'school' THEN s.school_id END AS school_id) l
    WHERE m.transition GROUP BY ALL
),
scope AS (
    SELECT 'district' AS level, NULL AS school_id, NULL AS school_name
    UNION ALL SELECT 'school', school_id, school_name FROM core.schools
)
SELECT DATE '{{ as_of }}' AS as_of, scope.level, scope.school_id, scope.school_name,
{% for rule, prefix in timelines %}
       coalesce(t.{{ prefix }}_timely, 0) AS {{ prefix }}_timely, coalesce(t.{{ prefix }}_held_late, 0) AS {{ prefix }}_held_late,
       coalesce(t.{{ prefix }}_overdue, 0) AS {{ prefix }}_overdue, coalesce(t.{{ prefix }}_pending, 0) AS {{ prefix }}_pending,
       coalesce(t.{{ prefix }}_exempt, 0) AS {{ prefix }}_exempt,
{% endfor %}
       -- Indicator 11 style: timely / (timely + held late + overdue); exempt delays are out of the denominator
       round(100.0 * t.initial_evaluations_timely / nullif(t.initial_evaluations_timely + t.initial_evaluations_held_late
             + t.initial_evaluations_overdue, 0), 1) AS indicator11_pct_timely,
       coalesce(p.transition_age_students, 0) AS transition_age_students,
       round(100.0 * p.transition_with_plan / nullif(p.transition_age_students, 0), 1) AS transition_pct_with_plan,
       coalesce(i.transition_meeting_students, 0) AS transition_meeting_students,
       round(100.0 * i.transition_student_invited / nullif(i.transition_meeting_students, 0), 1) AS transition_pct_student_invited,
{% for rule in pass_rates %}
       coalesce(t."{{ rule }}_evaluated", 0) AS "{{ rule | lower }}_evaluated",
       round(100.0 * t."{{ rule }}_passed" / nullif(t."{{ rule }}_evaluated", 0), 1) AS "{{ rule | lower }}_pass_pct"{{ "," if not loop.last }}
{% endfor %}
FROM scope
LEFT JOIN timelines t ON t.level = scope.level AND t.school_id IS NOT DISTINCT FROM scope.school_id
LEFT JOIN plans p ON p.level = scope.level AND p.school_id IS NOT DISTINCT FROM scope.school_id
LEFT JOIN invited i ON i.level = scope.level AND i.school_id IS NOT DISTINCT FROM scope.school_id
