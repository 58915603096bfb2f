-- What each recipient's digest lists for the night: the open statuses every night while open;
-- the once statuses (late, violation, warning) until they were emailed to this recipient
-- (ops.email_items, the lines of sent digests); never exited students; never exempt rows.
-- is_new: this recipient was never emailed about the item (in any status). One row per
-- recipient and exception, numbered in digest order (rn), with its section and its line of the
-- digest already written, as HTML (escaped as Jinja's autoescape does) and as text: rendering
-- 600,000 lines row by row in Python took half a minute.
{%- set esc = "replace(replace(replace(replace(replace(%s, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '\"', '&#34;'), '''', '&#39;')" %}
{%- macro plain(x, most) -%}   {#- digest.plain: control characters and direction overrides become '?' (one
                                  for one, so the length is the raw value's); cut to ``most`` characters #}
CASE WHEN length(coalesce({{ x }}, '')) <= {{ most }} THEN regexp_replace(coalesce({{ x }}, ''), {{ unsafe }}, '?', 'g')
     ELSE left(regexp_replace({{ x }}, {{ unsafe }}, '?', 'g'), {{ most - 1 }}) || '…' END
{%- endmacro %}
{% include "email_recipients.sql" %},
picked AS (
    SELECT r.recipient, e.school_id, sc.school_name, e.rule_id, e.status, e.student_id, e.meeting_id,
           e.due_date, e.days_overdue,
           {{ plain("e.detail", 500) }} AS detail,
{%- if names == "full" %}
           concat_ws(' ', nullif({{ plain("st.first_name", 80) }}, ''), nullif({{ plain("st.last_name", 80) }}, '')) AS student,
{%- else %}
           coalesce(upper(left(nullif(trim({{ plain("st.first_name", 80) }}), ''), 1)) || '.', '')
           || coalesce(upper(left(nullif(trim({{ plain("st.last_name", 80) }}), ''), 1)) || '.', '') AS student,
{%- endif %}
           CASE e.rule_id {% for id, title in titles.items() %}WHEN {{ literal(id) }} THEN {{ literal(title) }} {% endfor %}END AS rule,
           NOT EXISTS (SELECT 1 FROM ops.email_items i
                       WHERE i.recipient = r.recipient AND i.rule_id = e.rule_id AND i.student_id = e.student_id
                         AND i.meeting_key = coalesce(e.meeting_id, '') AND i.as_of <> DATE '{{ as_of }}') AS is_new,
           CASE {% for key, _, statuses in sections %}WHEN e.status IN ({{ statuses | map("literal") | join(", ") }}) THEN '{{ key }}' {% endfor %}END AS section
    FROM compliance.exceptions e
    JOIN recipients r USING (school_id)
    JOIN core.schools sc USING (school_id)
    JOIN core.students st USING (student_id)
    WHERE e.as_of = DATE '{{ as_of }}' AND st.enrollment_status = 'active'
      AND (e.status IN ({{ statuses.sql_list(statuses.OPEN) }})
           OR (e.status IN ({{ statuses.sql_list(statuses.ONCE) }})
               AND NOT EXISTS (SELECT 1 FROM ops.email_items i
                               WHERE i.recipient = r.recipient AND i.rule_id = e.rule_id AND i.student_id = e.student_id
                                 AND i.meeting_key = coalesce(e.meeting_id, '') AND i.status = e.status
                                 AND i.as_of <> DATE '{{ as_of }}')))
)
SELECT recipient, school_id, school_name, section, rule_id, status, student_id, meeting_id,
       '<tr><td>' || {{ esc % "student_id" }} || ' ' || {{ esc % "student" }}
       || CASE WHEN is_new THEN ' <span class="new">NEW</span>' ELSE '' END || E'</td>\n<td>' || {{ esc % "rule" }}
       || '</td><td class="date">' || coalesce(CAST(due_date AS VARCHAR), '')
       || '</td><td class="num">' || coalesce(CAST(nullif(days_overdue, 0) AS VARCHAR), '')
       || '</td><td>' || {{ esc % "detail" }} || E'</td></tr>\n' AS html,
       '- ' || student_id || ' ' || student || CASE WHEN is_new THEN ' [NEW]' ELSE '' END || ': ' || rule
       || E'\n    ' || CASE WHEN due_date IS NOT NULL
                           THEN 'due ' || due_date || coalesce(', ' || nullif(days_overdue, 0) || ' days overdue', '') || '; '
                           ELSE '' END
       || detail || E'\n' AS text,
       row_number() OVER (ORDER BY recipient, school_name, school_id, {{ statuses.rank_sql('status') }},
                          days_overdue DESC NULLS LAST, due_date NULLS LAST, student_id, rule_id,
                          meeting_id NULLS FIRST) AS rn
FROM picked
ORDER BY rn
