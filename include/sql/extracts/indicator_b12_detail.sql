{% import 'rules/reporting_window.sql' as window with context %}
-- Indicator B12 (early childhood transition, 300.124(b)), the student-level detail: one row per
-- child referred by Part C (rules/part_c_cases.sql) whose third birthday T falls in the
-- reporting window ((a); a T after the as-of date is pending, in no count), in the first
-- category that applies, in OSEP's order:
--   b  found not eligible, eligibility determined on or before T
--   c  found eligible, an IEP implemented (begin_date) on or before T
--   d  the parent's refusal or delay caused the delay (the rule's exempt delay reasons, or services refused)
--   e  found eligible for Part C fewer than late_referral_days (90) before T
--   f  continued in Part C (continued_part_c = Y)
--   none  in (a) and none of b-f: days from T to the eligibility determination or the IEP (to
--         the as-of date while still open), in the APR's ranges, and the delay reason
{%- set s = r.PART_C_TRANSITION_BY_3 %}
WITH c AS (
{% filter indent(4) %}{% include "rules/part_c_cases.sql" %}{% endfilter %}
),
judged AS (
    SELECT c.*,
           CASE WHEN c.t > DATE '{{ as_of }}' THEN 'pending'
                WHEN c.outcome = 'not_eligible' AND c.decided <= c.t THEN 'b'
                WHEN c.outcome = 'eligible' AND c.iep_begin <= c.t THEN 'c'
                WHEN c.parent_caused THEN 'd'
                WHEN c.late_referral THEN 'e'
                WHEN c.continued_part_c = 'Y' THEN 'f'
                ELSE 'none' END AS category,
           coalesce(c.event_date, DATE '{{ as_of }}') - c.t AS days_beyond
    FROM c
    WHERE c.t >= DATE '{{ window_start }}'
)
SELECT DATE '{{ as_of }}' AS as_of, s.school_id, sc.school_name, j.student_id, s.state_student_id,
       j.referral AS referral_date, j.part_c_eligible_date, j.t AS third_birthday,
       coalesce(j.outcome, 'none') AS outcome, j.decided AS eligibility_date, j.iep_begin AS iep_begin_date,
       CASE WHEN j.continued_part_c = 'Y' THEN 'Y' ELSE 'N' END AS continued_part_c,
       j.category, CASE WHEN j.category NOT IN ('pending') THEN 'Y' ELSE 'N' END AS in_a,
       CASE WHEN j.category = 'none' THEN j.days_beyond END AS days_beyond,
       CASE WHEN j.category <> 'none' THEN NULL
            WHEN j.days_beyond <= 10 THEN '1-10' WHEN j.days_beyond <= 20 THEN '11-20'
            WHEN j.days_beyond <= 30 THEN '21-30' ELSE 'over 30' END AS days_range,
       CASE WHEN j.category = 'none' THEN coalesce(j.delay_reason_code, 'none recorded') END AS delay_reason
FROM judged j
JOIN core.students s ON s.student_id = j.student_id
JOIN core.schools sc ON sc.school_id = s.school_id
