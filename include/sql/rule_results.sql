{% import 'reporting_window.sql' as window with context %}
-- Every compliance rule (docs/rules.md) as of DATE '{{ as_of }}': one row per evaluated student
-- cycle, meeting or IEP, with status ok | overdue | due_soon | late | violation | warning | exempt.
-- Thresholds come from the configuration (rendered here); nothing else restates them.
CREATE OR REPLACE TABLE facts.rule_results AS
WITH t AS (  -- timeline cycles with their base status
    SELECT t.*, s.in_scope,
           CASE WHEN t.due_date IS NULL THEN 'warning'   -- a state pack's due date the calendar cannot give
                WHEN t.event_date IS NOT NULL THEN CASE WHEN t.event_date > t.due_date THEN 'late' ELSE 'ok' END
                WHEN DATE '{{ as_of }}' > t.due_date THEN 'overdue'
                WHEN t.due_date - DATE '{{ as_of }}' <= CASE t.rule_id
                    {% for rule in timeline_rules %}WHEN '{{ rule }}' THEN {{ warn_days[rule] }} {% endfor %} END THEN 'due_soon'
                ELSE 'ok' END AS base_status
    FROM temp.timelines t JOIN facts.students s USING (student_id)
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
                || coalesce('; delay reason: ' || exempt_reason, '') ELSE
           CASE rule_id
             WHEN 'EVAL_60_DAY' THEN
               CASE WHEN event_date IS NULL THEN 'initial evaluation not completed; consent received ' || start_date
                    ELSE 'initial evaluation completed ' || event_date || ', ' || (event_date - start_date)
                         || ' days after consent' END
               || '; due within {{ r.EVAL_60_DAY.initial_evaluation_days }} days, by ' || due_date
               || coalesce('; delay reason: ' || exempt_reason, '')
             WHEN 'IEP_INITIAL_30_DAY' THEN
               CASE WHEN event_date IS NULL THEN 'no initial IEP meeting held; eligible since ' || start_date
                    ELSE 'initial IEP meeting held ' || event_date || ', ' || (event_date - start_date)
                         || ' days after eligibility' END
               || '; due within {{ r.IEP_INITIAL_30_DAY.initial_iep_days }} days, by ' || due_date
             WHEN 'IEP_ANNUAL_REVIEW' THEN
               CASE WHEN event_date IS NULL THEN 'last IEP review ' || start_date || '; annual review due ' || due_date
                    ELSE 'IEP reviewed ' || event_date || ', ' || (event_date - start_date)
                         || ' days after the previous review (' || start_date || '); due by ' || due_date END
             WHEN 'REEVALUATION_3_YEAR' THEN
               CASE WHEN event_date IS NULL THEN 'reevaluation due ' || due_date
                    ELSE 'reevaluation completed ' || event_date || '; due by ' || due_date END
               || ', {{ r.REEVALUATION_3_YEAR.reevaluation_years }} years after '
               || CASE start_kind WHEN 'waiver' THEN 'the written waiver of ' ELSE 'the evaluation completed ' END
               || start_date
             WHEN 'PARENT_REQUEST_RESPONSE' THEN
               'written parent request received ' || start_date || '; ' ||
               CASE WHEN event_date IS NULL THEN 'no meeting held yet' ELSE 'meeting held ' || event_date END
               || '; due within {{ r.PARENT_REQUEST_RESPONSE.parent_request_days }} days, by ' || due_date
           END END AS detail
    FROM t
    -- closed cycles count in the reporting window; open ones for students in scope only
    WHERE {{ window.cycle_reported('event_date') }} AND (event_date IS NOT NULL OR in_scope)
),
team AS (
{% for rule, role, name in team_rules %}
    SELECT '{{ rule }}' AS rule_id, student_id, meeting_id, held_date,
           CASE WHEN {{ role }}_covered OR {{ role }}_invalid THEN 'ok' ELSE 'violation' END AS status,
           'no {{ name }} attended; no excusal' AS detail
    FROM facts.meetings {% if role == 'general_education_teacher' %}WHERE in_regular_education <> 'N'{% endif %}
    UNION ALL
{% endfor %}
    SELECT 'TEAM_PARENT', student_id, meeting_id, held_date,
           CASE WHEN parent_attended
                  OR contact_attempts >= {{ r.TEAM_PARENT.parent_contact_attempts_min }} THEN 'ok' ELSE 'violation' END,
           'no parent attended; ' || contact_attempts || ' documented contact attempt'
           || CASE WHEN contact_attempts = 1 THEN '' ELSE 's' END
           || ' ({{ r.TEAM_PARENT.parent_contact_attempts_min }} required)'
    FROM facts.meetings
    UNION ALL
    SELECT 'EXCUSAL_INVALID', student_id, meeting_id, held_date,
           CASE WHEN len(invalid_excusals) > 0 THEN 'violation' ELSE 'ok' END,
           'invalid excusal: ' || array_to_string(invalid_excusals, '; ')
    FROM facts.meetings
    UNION ALL
    SELECT 'NOTICE_MISSING', student_id, meeting_id, held_date,
           CASE WHEN notices > 0 THEN 'ok' ELSE 'violation' END, 'no meeting notice sent before the meeting'
    FROM facts.meetings
    UNION ALL
    SELECT 'NOTICE_LEAD_TIME', student_id, meeting_id, held_date,
           CASE WHEN held_date - earliest_sent >= {{ r.NOTICE_LEAD_TIME.notice_lead_days }} OR earliest_waived
                THEN 'ok' ELSE 'violation' END,
           'notice sent ' || (held_date - earliest_sent) || ' day' || CASE WHEN held_date - earliest_sent = 1 THEN '' ELSE 's' END
           || ' before; {{ r.NOTICE_LEAD_TIME.notice_lead_days }} required'
    FROM facts.meetings WHERE notices > 0
    UNION ALL
    SELECT 'NOTICE_CONTENT', student_id, meeting_id, held_date,
           CASE WHEN states_purpose = 'Y' AND states_time = 'Y' AND states_location = 'Y' AND states_attendees = 'Y'
                THEN 'ok' ELSE 'violation' END,
           'notice does not state: ' || array_to_string(list_filter(
               [CASE WHEN states_purpose IS DISTINCT FROM 'Y' THEN 'purpose' END,
                CASE WHEN states_time IS DISTINCT FROM 'Y' THEN 'time' END,
                CASE WHEN states_location IS DISTINCT FROM 'Y' THEN 'location' END,
                CASE WHEN states_attendees IS DISTINCT FROM 'Y' THEN 'attendees' END], lambda x: x IS NOT NULL), ', ')
    FROM facts.meetings WHERE notices > 0
    UNION ALL
    SELECT 'TRANSITION_NOTICE', student_id, meeting_id, held_date,
           CASE WHEN states_transition_purpose = 'Y' AND invites_student = 'Y' THEN 'ok' ELSE 'violation' END,
           'transition meeting notice ' || array_to_string(list_filter(
               [CASE WHEN states_transition_purpose IS DISTINCT FROM 'Y' THEN 'does not state the transition purpose' END,
                CASE WHEN invites_student IS DISTINCT FROM 'Y' THEN 'does not invite the student' END],
               lambda x: x IS NOT NULL), '; ')
    FROM facts.meetings WHERE transition AND notices > 0
    UNION ALL
    SELECT 'TRANSITION_STUDENT_ABSENT', student_id, meeting_id, held_date,
           CASE WHEN student_attended THEN 'ok' ELSE 'warning' END, 'the student did not attend the transition meeting'
    FROM facts.meetings WHERE transition
),
plans AS (
    SELECT 'IEP_DATED_BEFORE_MEETING' AS rule_id, m.student_id, m.meeting_id, m.held_date AS event_date,
           CASE WHEN i.begin_date < m.held_date THEN 'warning' ELSE 'ok' END AS status,
           'IEP ' || i.iep_id || ' begins ' || i.begin_date || ', ' || (m.held_date - i.begin_date)
           || ' days before the meeting of ' || m.held_date AS detail, i.iep_id AS item_id
    FROM {{ src }}.ieps i JOIN facts.meetings m USING (meeting_id)
    WHERE i.status IN ('active', 'superseded')
    UNION ALL
    SELECT 'TRANSITION_PLAN', i.student_id, NULL, NULL,
           CASE WHEN i.has_transition_plan = 'Y' THEN 'ok' ELSE 'violation' END,
           'active IEP ' || i.iep_id || ' (through ' || i.end_date || ') has no transition plan; the student '
           || CASE WHEN s.transition_birthday <= DATE '{{ as_of }}' THEN 'is {{ transition_age }} or older'
                   ELSE 'turns {{ transition_age }} on ' || s.transition_birthday END,
           i.iep_id
    FROM {{ src }}.ieps i JOIN facts.students s USING (student_id)
    WHERE i.status = 'active' AND DATE '{{ as_of }}' BETWEEN i.begin_date AND i.end_date
      AND s.in_scope AND s.transition_birthday <= i.end_date
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
