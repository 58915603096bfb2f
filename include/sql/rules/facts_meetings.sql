{% import 'rules/reporting_window.sql' as window with context %}
-- One row per held meeting in the reporting window, with what the meeting rules need (``meetings``,
-- the table the meeting rules read). The findings ledger (corrections/meeting_fails.sql) makes
-- the same table of the meetings held before the window (``held``: its span), a temp table.
CREATE OR REPLACE {{ "TEMP " if held is defined }}TABLE {{ meetings }} AS
WITH m AS (
    SELECT m.meeting_id, m.student_id, m.held_date, s.in_regular_education,
           (s.transition_birthday < CAST(m.held_date + INTERVAL 1 YEAR AS DATE) OR m.includes_transition = 'Y') AS transition
    FROM {{ src }}.meetings m JOIN {{ facts }}.students s USING (student_id)
    WHERE m.status = 'held' AND {{ held | default(window.in_window('m.held_date')) }}
),
p AS (
    SELECT p.meeting_id, p.team_role, p.attendance, m.held_date,
           p.attendance = 'excused' AS excused,
           CASE WHEN p.attendance = 'excused' THEN   -- (only an excusal has problems to list)
           [CASE WHEN p.excusal_parent_consent_date IS NULL THEN 'no written parent consent'
                 WHEN p.excusal_parent_consent_date > m.held_date THEN 'parent consent after the meeting' END,
            CASE WHEN p.excusal_district_agreement_date IS NULL THEN 'no district agreement'
                 WHEN p.excusal_district_agreement_date > m.held_date THEN 'district agreement after the meeting' END,
            CASE WHEN p.excusal_area_discussed = 'Y' AND p.written_input_date IS NULL THEN 'area discussed without written input'
                 WHEN p.excusal_area_discussed = 'Y' AND p.written_input_date > m.held_date THEN 'written input after the meeting' END
           ] END AS excusal_problems
    FROM {{ src }}.meeting_participants p JOIN m USING (meeting_id)
),
roles AS (  -- per meeting and role: attended, validly excused, and the problems of invalid excusals
    SELECT meeting_id, team_role,
           bool_or(attendance = 'attended') AS attended,
           bool_or(excused AND list_count(excusal_problems) = 0) AS validly_excused,
           list(CASE team_role {% for role, name in role_names.items() %}WHEN '{{ role }}' THEN '{{ name }}' {% endfor %}
                ELSE replace(team_role, '_', ' ') END || ' (' || array_to_string(excusal_problems, ', ') || ')')
                FILTER (WHERE excused AND list_count(excusal_problems) > 0) AS excusal_details
    FROM p
    GROUP BY 1, 2
),
judged AS (
    -- Excusal (300.321(e)) is for the required members (a)(2)-(5) only, and only matters when nobody
    -- attended in the role and nobody was validly excused in it; the general-education teacher is not
    -- required (so never excused) when the student is not in regular education. Anyone else marked
    -- excused (a parent, the student, ...) is simply not attending.
    SELECT r.*, (r.attended OR r.validly_excused) AS covered,
           NOT (r.attended OR r.validly_excused) AND len(coalesce(r.excusal_details, [])) > 0
             AND r.team_role IN ({% for _, role, _ in team_rules %}'{{ role }}'{{ ", " if not loop.last }}{% endfor %})
             AND NOT (r.team_role = 'general_education_teacher' AND m.in_regular_education = 'N') AS invalid
    FROM roles r JOIN m USING (meeting_id)
),
team AS (  -- one column per role (judged has one row per meeting and role)
    SELECT meeting_id,
           {% for role in roles %}bool_or(covered) FILTER (WHERE team_role = '{{ role }}') AS "{{ role }}_covered",
           bool_or(invalid) FILTER (WHERE team_role = '{{ role }}') AS "{{ role }}_invalid",
           {% endfor %}bool_or(attended) FILTER (WHERE team_role = 'parent') AS parent_attended,
           bool_or(attended) FILTER (WHERE team_role = 'student') AS student_attended,
           list_sort(flatten(list(excusal_details) FILTER (WHERE invalid))) AS invalid_excusals
    FROM judged GROUP BY 1
),
attempts AS (
    SELECT a.meeting_id, count(*) AS n FROM {{ src }}.parent_contact_attempts a JOIN m USING (meeting_id)
    WHERE a.attempt_date <= m.held_date GROUP BY 1
),
notices AS (
    SELECT n.meeting_id, count(*) AS n,
           min(n.sent_date) AS earliest_sent,
           bool_or(n.parent_waived_notice_period = 'Y') FILTER (WHERE n.sent_date = e.first_date) AS earliest_waived,
           arg_max(n, (n.sent_date, n.notice_id)) AS latest
    FROM {{ src }}.meeting_notices n JOIN m USING (meeting_id)
    JOIN (SELECT n2.meeting_id, min(n2.sent_date) AS first_date FROM {{ src }}.meeting_notices n2 JOIN m m2 USING (meeting_id)
          WHERE n2.sent_date <= m2.held_date GROUP BY 1) e USING (meeting_id)
    WHERE n.sent_date <= m.held_date
    GROUP BY 1
)
SELECT m.*,
       coalesce(t.parent_attended, false) AS parent_attended,
       coalesce(a.n, 0) AS contact_attempts,
       {% for role in roles %}coalesce(t."{{ role }}_covered", false) AS {{ role }}_covered,
       coalesce(t."{{ role }}_invalid", false) AS {{ role }}_invalid,
       {% endfor %}coalesce(t.student_attended, false) AS student_attended,
       coalesce(t.invalid_excusals, []) AS invalid_excusals,
       coalesce(nt.n, 0) AS notices, nt.earliest_sent, coalesce(nt.earliest_waived, false) AS earliest_waived,
       nt.latest.states_purpose AS states_purpose, nt.latest.states_time AS states_time,
       nt.latest.states_location AS states_location, nt.latest.states_attendees AS states_attendees,
       nt.latest.states_transition_purpose AS states_transition_purpose, nt.latest.invites_student AS invites_student
FROM m LEFT JOIN team t USING (meeting_id) LEFT JOIN attempts a USING (meeting_id) LEFT JOIN notices nt USING (meeting_id);
