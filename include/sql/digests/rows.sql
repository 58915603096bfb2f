-- What each recipient's digest lists for the night: the open statuses every night while open;
-- the once statuses (late, violation, warning) until they were emailed to this recipient
-- (ops.email_items, the lines of sent digests); never exited students; never exempt rows.
-- One row per recipient and exception with its section and the values its line shows (made safe
-- for a mail here: plain(), initials); whether the body shows it (`shown`: the templates write
-- those lines, escaped by Jinja's autoescape); and its line of the CSV attachment of a long
-- digest, for every row (data, not markup: RFC 4180 quoting).
-- A school's sections, in the order a coordinator acts on them (digest.SECTIONS):
--   act_now  open items due by the school's {{ school_days }}th school day after the as-of date
--            (its own calendar, else the district's; 7 days when no calendar reaches that far),
--            each with what to do and by when; every one shown;
--   new      every other item first detected after the recipient's last email (on a nightly
--            cadence, first detected tonight); never on a recipient's first report, where
--            everything would be "new"; every one shown, never behind the cap;
--   backlog  the rest, grouped per student with each item's age; the `most` most urgent shown.
-- rn numbers the lines in digest order: school, section, case manager, then the section's order
-- (every reader orders by it; the table itself is not sorted).
{%- set csv = "'\"' || replace(%s, '\"', '\"\"') || '\"'" %}
{%- from "digests/safe.sql" import plain, student_name, rule_title with context %}
{#- the fields of the CSV attachment by name; their order and the header: digest.CSV_COLUMNS #}
{%- set csv_fields = {
    "school_id": csv % "school_id", "school_name": "school_csv",
    "section": csv % "section", "status": csv % "status", "severity": "severity",
    "student_id": csv % formula_guard("student_id"), "student": csv % formula_guard("student"),
    "case_manager": csv % formula_guard("case_manager"), "rule_id": csv % "rule_id", "rule": csv % "rule",
    "due_date": "coalesce(CAST(due_date AS VARCHAR), '')",
    "days_overdue": "coalesce(CAST(days_overdue AS VARCHAR), '')",
    "new": "CASE WHEN is_new THEN 'Y' ELSE 'N' END", "what_is_missing": csv % formula_guard("detail")} %}
{% include "digests/recipients.sql" %},
-- the day each school's "act now" reaches: its {{ school_days }}th school day after the as-of date
school_days AS (
    SELECT coalesce(school_id, '') AS cal, calendar_date AS d,
           row_number() OVER (PARTITION BY coalesce(school_id, '') ORDER BY calendar_date) AS k
    FROM core.school_calendar WHERE in_session = 'Y' AND calendar_date > DATE '{{ as_of }}'
),
horizon AS (
    SELECT s.school_id, coalesce(f.d, DATE '{{ as_of }}' + 7) AS act_by
    FROM core.schools s
    LEFT JOIN school_days f
           ON f.k = {{ school_days }}
          AND f.cal = CASE WHEN s.school_id IN (SELECT cal FROM school_days) THEN s.school_id ELSE '' END
),
-- what is made safe once per school and per case manager, not once per line
school_names AS (
    SELECT school_id, school_name, {{ csv % formula_guard(plain("school_name", 80)) }} AS school_csv FROM core.schools
),
managers AS (   -- every case manager of tonight's exceptions, in the staff table or not
    SELECT ids.staff_id,
           coalesce(nullif(concat_ws(' ', nullif({{ plain("cm.first_name", 80) }}, ''),
                                     nullif({{ plain("cm.last_name", 80) }}, '')), ''), 'Case manager')
           || ' (' || {{ plain("ids.staff_id", 40) }} || ')' AS case_manager
    FROM (SELECT DISTINCT case_manager_staff_id AS staff_id FROM compliance.exceptions
          WHERE as_of = DATE '{{ as_of }}' AND case_manager_staff_id IS NOT NULL) ids
    LEFT JOIN core.staff cm USING (staff_id)
),
picked AS (
    SELECT r.recipient, e.school_id, sc.school_name, sc.school_csv, e.rule_id, e.status, e.severity, e.student_id, e.meeting_id,
           e.due_date, e.days_overdue,
           {{ plain("e.detail", 500) }} AS detail,
           {{ student_name("st.first_name", "st.last_name") }} AS student,
           e.case_manager_staff_id AS cm_id,
           coalesce(cm.case_manager, 'No case manager') AS case_manager,
           {{ rule_title("e.rule_id") }} AS rule,
           coalesce(e.first_detected_on > l.last_as_of
               -- the last digest's night was published again from a replaced export: what it did not list
               OR (l.last_as_of IN (SELECT as_of FROM ops.republished)
                   AND NOT EXISTS (SELECT 1 FROM ops.email_items i
                                   WHERE i.recipient = r.recipient AND i.as_of = l.last_as_of
                                     AND i.rule_id = e.rule_id AND i.student_id = e.student_id
                                     AND i.meeting_key = coalesce(e.meeting_id, ''))), false) AS is_new,
           e.status IN ({{ statuses.sql_list(statuses.OPEN) }})
               AND e.due_date BETWEEN DATE '{{ as_of }}' AND h.act_by AS act_now,
           DATE '{{ as_of }}' - e.first_detected_on AS age_days,
           {{ statuses.rank_sql('e.status') }} AS status_rank
    FROM compliance.exceptions e
    JOIN recipients r USING (school_id)
    JOIN horizon h USING (school_id)
    LEFT JOIN last_sent l USING (recipient)
    JOIN school_names sc USING (school_id)
    JOIN core.students st USING (student_id)
    LEFT JOIN managers cm ON cm.staff_id = e.case_manager_staff_id
    WHERE e.as_of = DATE '{{ as_of }}' AND st.enrollment_status = 'active'
      AND (e.status IN ({{ statuses.sql_list(statuses.OPEN) }})
           OR (e.status IN ({{ statuses.sql_list(statuses.ONCE) }})
               AND NOT EXISTS (SELECT 1 FROM ops.email_items i
                               WHERE i.recipient = r.recipient AND i.rule_id = e.rule_id AND i.student_id = e.student_id
                                 AND i.meeting_key = coalesce(e.meeting_id, '') AND i.status = e.status
                                 AND i.as_of <> DATE '{{ as_of }}')))
),
sectioned AS (
    SELECT *,
           CASE WHEN act_now THEN 'act_now' WHEN is_new THEN 'new' ELSE 'backlog' END AS section,
           CASE WHEN act_now THEN 1 WHEN is_new THEN 2 ELSE 3 END AS section_rank
    FROM picked
),
students AS (   -- the backlog's students, most urgent first: by their most urgent item
    SELECT recipient, school_id, cm_id, student_id, min(status_rank) AS worst, max(days_overdue) AS most_overdue
    FROM sectioned WHERE section = 'backlog' GROUP BY ALL
),
ranked AS (
    SELECT x.*,
           x.section <> 'backlog'   -- what can still be done and what is new: always in the body
               OR row_number() OVER (PARTITION BY x.recipient, x.school_id, x.section
                                     ORDER BY x.status_rank, x.days_overdue DESC NULLS LAST, x.due_date NULLS LAST,
                                              x.student_id, x.rule_id, x.meeting_id NULLS FIRST) <= {{ most }} AS shown,
           CASE WHEN x.act_now   -- what to do, by when (a meeting: its notice too)
                THEN coalesce(CASE x.rule_id {% for id, action in actions.items() if action %}WHEN {{ literal(id) }} THEN {{ literal(action) }} {% endfor %}WHEN NULL THEN NULL END, x.rule)
                     || ' by ' || x.due_date
                     || CASE WHEN x.rule_id NOT IN ({{ meeting_rules | map("literal") | join(", ") or "NULL" }}) THEN ''
                             WHEN x.due_date - {{ notice_days }} >= DATE '{{ as_of }}'
                             THEN '; send the meeting notice by ' || (x.due_date - {{ notice_days }})
                             ELSE '; send the meeting notice today (due {{ notice_days }} days before the meeting unless the parents waive it)' END
                ELSE '' END AS todo,
           row_number() OVER (ORDER BY x.recipient, x.school_name, x.school_id, x.section_rank, x.cm_id IS NULL,
                                       x.case_manager, x.cm_id,
                                       CASE WHEN x.act_now THEN x.due_date END,
                                       s.worst, s.most_overdue DESC NULLS LAST, s.student_id,
                                       x.status_rank, x.days_overdue DESC NULLS LAST,
                                       x.due_date NULLS LAST, x.student_id, x.rule_id, x.meeting_id NULLS FIRST) AS rn
    FROM sectioned x
    LEFT JOIN students s ON x.section = 'backlog' AND s.recipient = x.recipient AND s.school_id = x.school_id
                        AND s.cm_id IS NOT DISTINCT FROM x.cm_id AND s.student_id = x.student_id
),
firsts AS (   -- the first shown (or attached-only) line of each case manager's group in a section
    SELECT min(rn) AS rn FROM ranked GROUP BY recipient, school_id, section, shown, cm_id
),
student_firsts AS (   -- in the backlog, the first shown line of each student of a case manager
    SELECT min(rn) AS rn FROM ranked WHERE section = 'backlog' GROUP BY recipient, school_id, shown, cm_id, student_id
),
lines AS (   -- (a group and a join: a window partitioned so finely sorted every line again)
    SELECT *, rn IN (SELECT rn FROM firsts) AS cm_first,
           section <> 'backlog' OR rn IN (SELECT rn FROM student_firsts) AS student_first
    FROM ranked
)
SELECT recipient, school_id, school_name, section, rule_id, rule, status, severity, student_id, student, meeting_id,
       due_date, days_overdue, detail, case_manager, cm_first, student_first, shown, is_new, act_now, age_days, todo, rn,
       concat_ws(',', {% for c in csv_columns %}{{ csv_fields[c] }}{{ ", " if not loop.last }}{% endfor %}) || E'\r\n' AS csv
FROM lines
