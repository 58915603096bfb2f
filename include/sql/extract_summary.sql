-- The state summary (docs/outputs.md) for the district and each school, as of the night.
WITH r AS (
    SELECT r.rule_id, r.phase, r.status, r.student_id, s.school_id   -- only what is counted
    FROM facts.rule_results r JOIN core.students s USING (student_id)
),
levels AS (  -- every row counts for its school and for the district
    SELECT 'district' AS level, NULL AS school_id, * EXCLUDE (school_id) FROM r
    UNION ALL SELECT 'school', school_id, * EXCLUDE (school_id) FROM r
),
timelines AS (
    SELECT level, school_id,
{% for rule, prefix in timelines %}
           count(*) FILTER (WHERE rule_id = '{{ rule }}' AND phase = 'closed' AND status = 'ok') AS {{ prefix }}_timely,
           count(*) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'late') AS {{ prefix }}_held_late,
           count(*) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'overdue') AS {{ prefix }}_overdue,
           count(*) FILTER (WHERE rule_id = '{{ rule }}' AND phase = 'open' AND status IN ('ok', 'due_soon')) AS {{ prefix }}_pending,
           count(*) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'exempt') AS {{ prefix }}_exempt,
{% endfor %}
{% for rule in meeting_rules %}
           count(*) FILTER (WHERE rule_id = '{{ rule }}') AS "{{ rule }}_evaluated",
           count(*) FILTER (WHERE rule_id = '{{ rule }}' AND status = 'ok') AS "{{ rule }}_passed",
{% endfor %}
           count(DISTINCT student_id) FILTER (WHERE rule_id = 'TRANSITION_PLAN') AS transition_age_students,
           count(DISTINCT student_id) FILTER (WHERE rule_id = 'TRANSITION_PLAN' AND status = 'ok') AS transition_with_plan,
    FROM levels GROUP BY ALL
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
       coalesce(t.transition_age_students, 0) AS transition_age_students,
       round(100.0 * t.transition_with_plan / nullif(t.transition_age_students, 0), 1) AS transition_pct_with_plan,
       coalesce(i.transition_meeting_students, 0) AS transition_meeting_students,
       round(100.0 * i.transition_student_invited / nullif(i.transition_meeting_students, 0), 1) AS transition_pct_student_invited,
{% for rule in meeting_rules %}
       coalesce(t."{{ rule }}_evaluated", 0) AS "{{ rule | lower }}_evaluated",
       round(100.0 * t."{{ rule }}_passed" / nullif(t."{{ rule }}_evaluated", 0), 1) AS "{{ rule | lower }}_pass_pct"{{ "," if not loop.last }}
{% endfor %}
FROM scope
LEFT JOIN timelines t ON t.level = scope.level AND t.school_id IS NOT DISTINCT FROM scope.school_id
LEFT JOIN invited i ON i.level = scope.level AND i.school_id IS NOT DISTINCT FROM scope.school_id
