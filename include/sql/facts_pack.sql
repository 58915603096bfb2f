{% import 'reporting_window.sql' as window with context %}
{#- The timelines of the state pack in force, one INSERT per pack rule into temp.timelines.
    Each rule is data (iepwatch/packs.py); the SQL never names a state. Due dates not counted in
    plain calendar days come from temp.calendar (facts_calendar.sql) by joins on running counts.
    A due date that needs a date the student's calendar does not have gives no due date but a
    `gap` (the rule then reports a warning naming the calendar and the date it would need). -#}
{%- set counted = {"school_days": "school_day", "calendar_days_excluding_summer": "NOT summer",
                   "calendar_days_excluding_long_breaks": "NOT long_break"} %}
{%- set words = {"calendar_days": "calendar days", "school_days": "school days",
                 "calendar_days_excluding_summer": "calendar days (summer left out)",
                 "calendar_days_excluding_long_breaks": "calendar days (breaks of more than 5 weekdays left out)"} %}
{%- set excluded = {"school_days": "run_weekdays > 0", "calendar_days_excluding_summer": "summer",
                    "calendar_days_excluding_long_breaks": "long_break"} %}
{%- for p in pack.rules %}
{%- set e = p.end_of_year %}
{%- set k = "k_" ~ p.unit %}
INSERT INTO temp.timelines (rule_id, student_id, item_id, meeting_id, start_date, start_kind, due_date, event_date,
                             exempt_reason, detail)
WITH held AS (SELECT student_id, held_date FROM {{ src }}.meetings WHERE status = 'held' AND meeting_type = 'initial'),
base AS (
{%- if p.measures == "ard_meeting" %}
    SELECT e.student_id, e.evaluation_id AS item_id, e.evaluation_completed_date AS x, 'the evaluation report' AS start_kind,
           e.referral_date, e.consent_received_date AS consent,
           (SELECT min(h.held_date) FROM held h WHERE h.student_id = e.student_id
              AND h.held_date >= e.evaluation_completed_date) AS event_date,
           NULL::VARCHAR AS exempt_reason
    FROM temp.eligible_initial_evaluations e
    WHERE e.evaluation_completed_date IS NOT NULL AND e.services_consent_refused_date IS NULL
{%- else %}
    SELECT e.student_id, e.evaluation_id AS item_id, e.consent_received_date AS x, 'consent' AS start_kind,
           e.referral_date, e.consent_received_date AS consent,
{%- if p.measures == "evaluation" %}
           e.evaluation_completed_date AS event_date,
{%- else %}
           CASE e.eligibility_outcome
             WHEN 'eligible' THEN (SELECT min(h.held_date) FROM held h WHERE h.student_id = e.student_id
                                     AND h.held_date >= e.consent_received_date)
             WHEN 'not_eligible' THEN e.eligibility_determination_date END AS event_date,
{%- endif %}
           {% if loop.first %}CASE WHEN e.delay_reason_code IN ({{ exempt_reasons }}) THEN e.delay_reason_code END
           {%- else %}NULL::VARCHAR{% endif %} AS exempt_reason
    FROM temp.initial_evaluations e
{%- if p.measures == "eligibility_meeting" %}
    WHERE NOT (e.eligibility_outcome = 'eligible' AND e.services_consent_refused_date IS NOT NULL)
{%- endif %}
{%- endif %}
),
on_cal AS (   -- the start on the student's calendar, its school year and the next one
    SELECT b.*, sc.cal, sc.cal_name, cx.sy, cx.k_school_days AS kx_school,
           {% if p.unit != "calendar_days" %}cx.{{ k }}{% else %}NULL::BIGINT{% endif %} AS kx,
           y.last_day, y.k_last_day, ny.first_day AS next_first, ny.k_last_day IS NOT NULL AS has_next,
           z.cal_end, ab.ks AS absence_ks,
           coalesce(len(list_filter(ab.ks, lambda k: k > cx.k_school_days AND k <= y.k_last_day)), 0) AS absences_to_year_end
    FROM base b
    LEFT JOIN temp.student_calendar sc USING (student_id)
    LEFT JOIN (SELECT cal, max(year_end) AS cal_end FROM temp.calendar_years GROUP BY ALL) z ON z.cal = sc.cal
    LEFT JOIN (SELECT student_id, list(k) AS ks FROM temp.absences GROUP BY ALL) ab USING (student_id)
    LEFT JOIN temp.calendar cx ON cx.cal = sc.cal AND cx.d = b.x
    LEFT JOIN temp.calendar_years y ON y.cal = sc.cal AND y.sy = cx.sy
    LEFT JOIN temp.calendar_years ny ON ny.cal = sc.cal AND ny.sy = cx.sy + 1
),
counted AS (   -- the plain count: the N-th counted day after the start
    SELECT o.*,
{%- if p.unit == "calendar_days" %}
           o.x + {{ p.days }} AS plain_due
{%- else %}
           (SELECT c.d FROM temp.calendar c WHERE c.cal = o.cal AND c.{{ k }} = o.kx + {{ p.days }}
              AND {{ counted[p.unit] }}) AS plain_due
{%- endif %}
    FROM on_cal o
),
extended AS (  -- the absence extension: A absences on school days up to the N-th school day
    SELECT c.*,
{%- if p.absence_extension_min is not none %}
           coalesce(len(list_filter(c.absence_ks, lambda k: k > c.kx_school AND k <= c.kx_school + {{ p.days }})), 0)
             AS absences
{%- else %}
           0 AS absences
{%- endif %}
    FROM counted c
),
provision AS (
    SELECT x.*,
{%- if e.kind == "june_30" %}
           (x.k_last_day - x.kx_school >= {{ e.min_school_days_left }} AND x.k_last_day - x.kx_school < {{ p.days }}
            AND x.absences_to_year_end < {{ e.absences_below }}) AS applies,
{%- elif e.kind == "few_school_days_left" %}
           (x.k_last_day - x.kx_school < {{ p.days }}) AS applies,
{%- elif e.kind == "referral_near_year_end" %}
           (SELECT ry.last_day - {{ e.window_days }} <= x.referral_date AND x.referral_date <= ry.last_day
              FROM temp.calendar rc JOIN temp.calendar_years ry ON ry.cal = rc.cal AND ry.sy = rc.sy
             WHERE rc.cal = x.cal AND rc.d = x.referral_date) AS applies,
           (SELECT ny.first_day FROM temp.calendar rc JOIN temp.calendar_years ny ON ny.cal = rc.cal AND ny.sy = rc.sy + 1
             WHERE rc.cal = x.cal AND rc.d = x.referral_date) AS referral_next_first,
           (SELECT ry.last_day FROM temp.calendar rc JOIN temp.calendar_years ry ON ry.cal = rc.cal AND ry.sy = rc.sy
             WHERE rc.cal = x.cal AND rc.d = x.referral_date) AS referral_last_day,
{%- elif e.kind == "summer_to_first_day" %}
{%- set j = pack.june_30_rule %}
{%- if j %}
           (x.k_last_day - x.kx_school >= {{ j.end_of_year.min_school_days_left }}
            AND x.k_last_day - x.kx_school < {{ j.days }}
            AND x.absences_to_year_end < {{ j.end_of_year.absences_below }}) AS applies,
{%- else %}
           false AS applies,
{%- endif %}
           (SELECT c.summer FROM temp.calendar c WHERE c.cal = x.cal AND c.d = x.plain_due) AS due_in_summer,
           (SELECT min(c.d) FROM temp.calendar c WHERE c.cal = x.cal AND c.school_day AND c.d > x.plain_due)
             AS first_day_after,
           (SELECT c.d FROM temp.calendar c WHERE c.cal = x.cal AND c.school_day
              AND c.k_school_days = x.k_last_day + {{ e.june_30_school_day }}) AS school_day_next_year,
{%- else %}
           false AS applies,
{%- endif %}
{%- if p.absence_extension_min is not none %}
           CASE WHEN x.absences >= {{ p.absence_extension_min }}
                THEN (SELECT c.d FROM temp.calendar c WHERE c.cal = x.cal AND c.school_day
                        AND c.k_school_days = x.kx_school + {{ p.days }} + x.absences) END AS extended_due
{%- else %}
           NULL::DATE AS extended_due
{%- endif %}
    FROM extended x
),
due AS (
    SELECT v.*,
{%- if e.kind == "june_30" %}
           CASE WHEN v.applies THEN make_date(year(make_date(v.sy + 1, {{ r.school_year_start[:2] | int }},
                                                            {{ r.school_year_start[3:] | int }}) - 1), 6, 30)
                WHEN v.absences >= {{ p.absence_extension_min or 999999 }} THEN v.extended_due
                ELSE v.plain_due END AS due,
           CASE WHEN v.applies THEN '; fewer than {{ p.days }} school days (' || (v.k_last_day - v.kx_school)
                || ') and fewer than {{ e.absences_below }} absences remained in the school year: due June 30' END AS why,
{%- elif e.kind == "few_school_days_left" %}
           CASE WHEN v.applies THEN v.next_first - 1 ELSE v.plain_due END AS due,
           CASE WHEN v.applies THEN '; only ' || (v.k_last_day - v.kx_school) || ' school days of the school year remained'
                || ' after ' || v.x || ': due the day before the first instructional day of the next school year ('
                || coalesce(v.next_first::VARCHAR, '?') || ')' END AS why,
{%- elif e.kind == "referral_near_year_end" %}
           CASE WHEN v.applies THEN v.referral_next_first + {{ e.days_after_first_day }} ELSE v.plain_due END AS due,
           CASE WHEN v.applies THEN '; referred ' || v.referral_date || ', within {{ e.window_days }} days before the last '
                || 'instructional day (' || v.referral_last_day || '): due {{ e.days_after_first_day }} days after the first '
                || 'instructional day of the next school year (' || coalesce(v.referral_next_first::VARCHAR, '?') || ')'
                END AS why,
{%- elif e.kind == "summer_to_first_day" %}
           CASE WHEN v.applies THEN v.school_day_next_year
                WHEN v.due_in_summer THEN v.first_day_after ELSE v.plain_due END AS due,
           CASE WHEN v.applies THEN '; the evaluation was due June 30: due the {{ e.june_30_school_day }}th school day '
                || 'of the next school year'
                WHEN v.due_in_summer THEN '; ' || v.plain_due || ' falls in summer: due the first instructional day after it'
                END AS why,
{%- else %}
           CASE WHEN v.absences >= {{ p.absence_extension_min or 999999 }} THEN v.extended_due ELSE v.plain_due END AS due,
           NULL::VARCHAR AS why,
{%- endif %}
           {% if p.absence_extension_min is not none -%}
           '; ' || v.absences || ' absence' || CASE WHEN v.absences = 1 THEN '' ELSE 's' END || ' on school days up to the '
           || '{{ p.days }}th school day' || CASE WHEN v.absences >= {{ p.absence_extension_min }}
              THEN ': extended by ' || v.absences || ' school days' ELSE ' (no extension)' END
           {%- else %}''{% endif %} AS absence_note
    FROM provision v
),
gaps AS (
    SELECT d.*,
           CASE WHEN d.due IS NOT NULL THEN NULL
{%- if p.needs_calendar %}
                WHEN d.cal_end IS NULL THEN 'calendar gap: no school calendar for this student (' || d.cal_name || ')'
                WHEN d.sy IS NULL THEN 'calendar gap: the ' || d.cal_name || ' does not cover ' || d.x
                WHEN d.applies AND NOT d.has_next THEN 'calendar gap: the ' || d.cal_name || ' has no school year '
                     || (d.sy + 1) || '-' || (d.sy + 2) || ' (needs its first instructional day)'
                ELSE 'calendar gap: the ' || d.cal_name || ' ends ' || d.cal_end || ', before the date this due date needs'
{%- endif %}
           END AS gap
    FROM due d
)
SELECT '{{ p.rule_id }}', student_id, item_id, NULL, x, start_kind, due, event_date, exempt_reason,
       CASE WHEN gap IS NOT NULL THEN gap || ' ({{ p.days }} {{ words[p.unit] }} after ' || start_kind || ' ' || x || ')'
            ELSE 'due ' || due || ': {{ p.days }} {{ words[p.unit] }} after ' || start_kind || ' ' || x
{%- if p.unit != "calendar_days" %}
                 || ' (' || cal_name || ')'
                 || coalesce(', not counting ' || (
                        SELECT string_agg(greatest(run_start, g.x + 1) || '..' || least(run_end, g.plain_due) || ' ('
                               || run_note || ', ' || (least(run_end, g.plain_due) - greatest(run_start, g.x + 1) + 1)
                               || CASE WHEN least(run_end, g.plain_due) = greatest(run_start, g.x + 1) THEN ' day)'
                                       ELSE ' days)' END, ', ' ORDER BY run_start)
                        FROM (SELECT DISTINCT run_start, run_end, run_note FROM temp.calendar c
                              WHERE c.cal = g.cal AND c.run IS NOT NULL AND c.{{ excluded[p.unit] }}
                                AND c.d > g.x AND c.d <= g.plain_due)), '')
{%- endif %}
                 || coalesce(why, '') || absence_note
       END
FROM gaps g
WHERE {{ window.cycle_reported('g.event_date') }};   -- as the federal cycles (facts_timelines.sql)
{% endfor %}
