-- What each recipient's digest lists for the night: the open statuses every night while open;
-- the once statuses (late, violation, warning) until they were emailed to this recipient
-- (ops.email_items, the lines of sent digests); never exited students; never exempt rows.
-- One row per recipient and exception with its section and the values its line shows (made safe
-- for a mail here: plain(), initials); whether it is among the `most` most urgent of its school's
-- section (`shown`: the templates write those lines, escaped by Jinja's autoescape); and its line
-- of the CSV attachment of a long digest, for every row (data, not markup: RFC 4180 quoting).
-- is_new: first detected after the recipient's last email (on a nightly cadence, first detected
-- tonight); never on a recipient's first report, where everything would be "new".
-- rn numbers the lines in digest order: school, section, case manager, then urgency (every reader
-- orders by it; the table itself is not sorted).
{%- set csv = "'\"' || replace(%s, '\"', '\"\"') || '\"'" %}
{%- macro plain(x, most) -%}   {#- digest.plain: control characters and direction overrides become '?' (one
                                  for one, so the length is the raw value's); cut to ``most`` characters #}
CASE WHEN length(coalesce({{ x }}, '')) <= {{ most }} THEN regexp_replace(coalesce({{ x }}, ''), {{ unsafe }}, '?', 'g')
     ELSE left(regexp_replace({{ x }}, {{ unsafe }}, '?', 'g'), {{ most - 1 }}) || '…' END
{%- endmacro %}
{%- macro initials(first, last) -%}
coalesce(upper(left(nullif(trim({{ plain(first, 80) }}), ''), 1)) || '.', '')
           || coalesce(upper(left(nullif(trim({{ plain(last, 80) }}), ''), 1)) || '.', '')
{%- endmacro %}
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
{%- if names == "full" %}
           concat_ws(' ', nullif({{ plain("st.first_name", 80) }}, ''), nullif({{ plain("st.last_name", 80) }}, '')) AS student,
{%- else %}
           {{ initials("st.first_name", "st.last_name") }} AS student,
{%- endif %}
           e.case_manager_staff_id AS cm_id,
           coalesce(cm.case_manager, 'No case manager') AS case_manager,
           CASE e.rule_id {% for id, title in titles.items() %}WHEN {{ literal(id) }} THEN {{ literal(title) }} {% endfor %}END AS rule,
           coalesce(e.first_detected_on > l.last_as_of, false) AS is_new,
           e.status IN ({{ statuses.sql_list(statuses.OPEN) }})
               AND e.due_date BETWEEN DATE '{{ as_of }}' AND DATE '{{ as_of }}' + {{ week_days - 1 }} AS due_this_week,
           CASE {% for key, _, sts in sections %}WHEN e.status IN ({{ sts | map("literal") | join(", ") }}) THEN {{ loop.index }} {% endfor %}END AS section_rank,
           CASE {% for key, _, sts in sections %}WHEN e.status IN ({{ sts | map("literal") | join(", ") }}) THEN '{{ key }}' {% endfor %}END AS section
    FROM compliance.exceptions e
    JOIN recipients r USING (school_id)
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
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY recipient, school_id, section
                              ORDER BY {{ statuses.rank_sql('status') }}, days_overdue DESC NULLS LAST,
                                       due_date NULLS LAST, student_id, rule_id, meeting_id NULLS FIRST) <= {{ most }}
               OR is_new AS shown,   -- a new item is always in the body, never only in the CSV
           row_number() OVER (ORDER BY recipient, school_name, school_id, section_rank, cm_id IS NULL, case_manager, cm_id,
                                       {{ statuses.rank_sql('status') }}, days_overdue DESC NULLS LAST,
                                       due_date NULLS LAST, student_id, rule_id, meeting_id NULLS FIRST) AS rn
    FROM picked
),
firsts AS (   -- the first shown (or attached-only) line of each case manager's group in a section
    SELECT min(rn) AS rn FROM ranked GROUP BY recipient, school_id, section, shown, cm_id
),
lines AS (   -- (a group and a join: a window partitioned so finely sorted every line again)
    SELECT *, rn IN (SELECT rn FROM firsts) AS cm_first
    FROM ranked
)
SELECT recipient, school_id, school_name, section, rule_id, rule, status, severity, student_id, student, meeting_id,
       due_date, days_overdue, detail, case_manager, cm_first, shown, is_new, due_this_week, rn,
       concat_ws(',', {% for c in csv_columns %}{{ csv_fields[c] }}{{ ", " if not loop.last }}{% endfor %}) || E'\r\n' AS csv
FROM lines
