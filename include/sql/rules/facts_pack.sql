{% import 'rules/reporting_window.sql' as window with context %}
{% import 'rules/school_year.sql' as school_year with context %}
{#- The timelines of the state pack in force, one INSERT per pack rule into temp.timelines.
    Each rule is data (iepwatch/packs.py); the SQL never names a state. Due dates not counted in
    plain calendar days come from temp.calendar (facts_calendar.sql) by joins on running counts.
    Every initial evaluation is measured (two of one student give two rows; the exceptions keep
    the earliest due date of a key). A provision that depends on the school year's end is
    three-valued: true, false, or NULL when the calendar cannot tell. A due date that needs a date
    the student's calendar does not have gives no due date but a gap (gap_kind, gap_date): the rule
    then reports a warning naming the calendar and the date it would need. -#}
{%- set counted = {"school_days": "c.school_day", "calendar_days_excluding_summer": "NOT coalesce(c.summer, false)",
                   "calendar_days_excluding_long_breaks": "NOT coalesce(c.long_break, false)"} %}
{%- set words = {"calendar_days": "calendar days", "school_days": "school days",
                 "calendar_days_excluding_summer": "calendar days (summer left out)",
                 "calendar_days_excluding_long_breaks": "calendar days (breaks of more than 5 weekdays left out)"} %}
{%- set excluded = {"school_days": "run_weekdays > 0", "calendar_days_excluding_summer": "summer",
                    "calendar_days_excluding_long_breaks": "long_break"} %}
{%- macro year_name(sy) %}({{ sy }}) || '-' || ({{ sy }} + 1){% endmacro %}
{%- for p in pack.rules %}
{%- set e = p.end_of_year %}
{%- set k = "k_" ~ p.unit %}
{%- set u = "u_" ~ p.unit %}
{%- set j = pack.june_30_rule if e.kind == "summer_to_first_day" else (p if e.kind == "june_30" else none) %}
INSERT INTO temp.timelines (rule_id, student_id, item_id, meeting_id, start_date, start_kind, due_date, event_date,
                             exempt_reason, detail, gap_calendar, gap_date)
WITH held AS (SELECT student_id, held_date FROM {{ src }}.meetings WHERE status = 'held' AND meeting_type = 'initial'),
base AS (   -- x: the start; anchor: the date whose school year the end-of-year provision looks at
    SELECT e.student_id, e.evaluation_id AS item_id, e.referral_date, e.consent_received_date AS consent,
{%- if p.measures == "ard_meeting" %}
           e.evaluation_completed_date AS x, 'the evaluation report' AS start_kind,
{%- else %}
           e.consent_received_date AS x, 'consent' AS start_kind,
{%- endif %}
           {% if e.kind == "referral_near_year_end" %}e.referral_date{% else %}e.consent_received_date{% endif %} AS anchor,
{%- if p.measures == "evaluation" %}
           e.evaluation_completed_date AS event_date,
{%- else %}
           CASE e.eligibility_outcome
             WHEN 'eligible' THEN (SELECT min(h.held_date) FROM held h WHERE h.student_id = e.student_id
                                     AND h.held_date >= {% if p.measures == "ard_meeting" %}e.evaluation_completed_date
                                                        {%- else %}e.consent_received_date{% endif %})
             WHEN 'not_eligible' THEN e.eligibility_determination_date END AS event_date,
{%- endif %}
           {% if loop.first %}CASE WHEN e.delay_reason_code IN ({{ exempt_reasons }}) THEN e.delay_reason_code END
           {%- else %}NULL::VARCHAR{% endif %} AS exempt_reason
    FROM {{ src }}.evaluations e
    WHERE e.evaluation_type = 'initial'
{%- if p.measures == "ard_meeting" %}
      AND e.evaluation_completed_date IS NOT NULL
{%- else %}
      AND e.consent_received_date IS NOT NULL
{%- endif %}
{%- if p.measures != "evaluation" %}
      -- the parent refused consent for services: no meeting is measured (300.300(b)(3))
      AND NOT (e.eligibility_outcome = 'eligible' AND e.services_consent_refused_date IS NOT NULL)
{%- endif %}
),
on_cal AS (   -- the start and the anchor on the student's calendar, the anchor's school year and the next
    -- (a count needs the days after the start: a start the day before the calendar's first counts from 0)
    SELECT b.*, sc.cal, sc.cal_name, z.cal_start, z.cal_end, z.first_school_day,
           cx.d IS NOT NULL OR b.x = z.cal_start - 1 AS x_listed,
           {% if p.unit != "calendar_days" %}coalesce(cx.{{ k }}, CASE WHEN b.x = z.cal_start - 1 THEN 0 END)
           {%- else %}NULL::BIGINT{% endif %} AS kx,
           {% if p.unit != "calendar_days" %}coalesce(cx.{{ u }}, 0){% else %}0{% endif %} AS ux,
           coalesce(cx.k_school_days, CASE WHEN b.x = z.cal_start - 1 THEN 0 END) AS kx_school,
           ca.d IS NOT NULL AS anchor_listed, ca.sy, ca.k_school_days AS ka,
           y.last_day, y.k_last_day, y.last_known, y.full_year_end, y.k_year_end,
           ny.first_day AS next_first, ny.sy IS NOT NULL AS has_next,
           ab.ks AS absence_ks,
           coalesce(len(list_filter(ab.ks, lambda k: k > ca.k_school_days AND k <= y.k_year_end)), 0) AS absences_to_year_end
    FROM base b
    LEFT JOIN temp.student_calendar sc USING (student_id)
    LEFT JOIN (SELECT cal, min(d) AS cal_start, max(d) AS cal_end, min(d) FILTER (WHERE school_day) AS first_school_day
               FROM temp.calendar GROUP BY ALL) z ON z.cal = sc.cal
    LEFT JOIN (SELECT student_id, list(k) AS ks FROM temp.absences GROUP BY ALL) ab USING (student_id)
    LEFT JOIN temp.calendar cx ON cx.cal = sc.cal AND cx.d = b.x
    LEFT JOIN temp.calendar ca ON ca.cal = sc.cal AND ca.d = b.anchor
    LEFT JOIN temp.calendar_years y ON y.cal = sc.cal AND y.sy = ca.sy
    LEFT JOIN temp.calendar_years ny ON ny.cal = sc.cal AND ny.sy = ca.sy + 1
),
counted AS (   -- the plain count: the N-th counted day after the start, known when no day it crosses is unplaced
    SELECT o.*,
{%- if p.unit == "calendar_days" %}
           o.x + {{ p.days }} AS plain_due, true AS plain_known
{%- else %}
           n.d AS plain_due, n.{{ u }} = o.ux AS plain_known
{%- endif %}
    FROM on_cal o
{%- if p.unit != "calendar_days" %}
    LEFT JOIN temp.calendar n ON n.cal = o.cal AND n.{{ k }} = o.kx + {{ p.days }}
         AND {{ counted[p.unit] | replace("c.", "n.") }}
{%- endif %}
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
provision AS (   -- does the end-of-year provision apply: true, false, or NULL (the calendar cannot tell)
    SELECT x.*,
{%- if j %}
           -- the June 30 test, on the anchor (the consent): fewer than {{ j.days }} but at least
           -- {{ j.end_of_year.min_school_days_left }} school days left, fewer than {{ j.end_of_year.absences_below }} absences
           CASE WHEN x.anchor IS NULL THEN false
                WHEN NOT x.anchor_listed THEN NULL
                WHEN x.k_year_end - x.ka >= {{ j.days }}
                  OR x.absences_to_year_end >= {{ j.end_of_year.absences_below }} THEN false
                WHEN x.last_known THEN x.k_year_end - x.ka >= {{ j.end_of_year.min_school_days_left }}
           END AS applies,
{%- elif e.kind == "few_school_days_left" %}
           CASE WHEN NOT x.anchor_listed THEN NULL
                WHEN x.k_year_end - x.ka >= {{ p.days }} THEN false
                WHEN x.last_known THEN true END AS applies,
{%- elif e.kind == "referral_near_year_end" %}
           CASE WHEN x.anchor IS NULL THEN false
                WHEN NOT x.anchor_listed THEN NULL
                WHEN x.last_known THEN x.last_day - {{ e.window_days }} <= x.anchor AND x.anchor <= x.last_day
                WHEN x.last_day > x.anchor + {{ e.window_days }} THEN false   -- a later school day: not near the end
           END AS near_end,
{%- else %}
           false AS applies,
{%- endif %}
{%- if e.kind == "summer_to_first_day" %}
           (SELECT c.summer FROM temp.calendar c WHERE c.cal = x.cal AND c.d = x.plain_due) AS due_in_summer,
           coalesce((SELECT true FROM temp.calendar c WHERE c.cal = x.cal AND c.d = x.plain_due), false) AS plain_listed,
           (SELECT min(c.d) FROM temp.calendar c WHERE c.cal = x.cal AND c.school_day AND c.d > x.plain_due)
             AS first_day_after,
           (SELECT c.d FROM temp.calendar c WHERE c.cal = x.cal AND c.school_day
              AND c.k_school_days = x.k_last_day + {{ e.june_30_school_day }}) AS school_day_next_year,
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
{%- if e.kind == "referral_near_year_end" %}
referral AS (   -- the referral provision applies only when its due date falls after the consent
    SELECT v.*, v.next_first + {{ e.days_after_first_day }} AS referral_due,
           CASE WHEN v.near_end IS NULL THEN NULL WHEN NOT v.near_end THEN false
                WHEN v.next_first IS NULL THEN NULL
                ELSE v.next_first + {{ e.days_after_first_day }} > v.consent END AS applies
    FROM provision v
),
{%- endif %}
ordinary AS (   -- the count with its absence extension, when no provision applies
    SELECT v.*,
           CASE WHEN v.absences >= {{ p.absence_extension_min or 999999 }} THEN v.extended_due
                WHEN v.plain_known THEN v.plain_due END AS ordinary_due
    FROM {% if e.kind == "referral_near_year_end" %}referral{% else %}provision{% endif %} v
),
due AS (
    SELECT v.*,
           CASE WHEN v.applies IS NULL THEN NULL
{%- if e.kind == "june_30" %}
                WHEN v.applies THEN make_date(year({{ school_year.last_date('v.sy') }}), 6, 30)
{%- elif e.kind == "few_school_days_left" %}
                WHEN v.applies THEN v.next_first - 1
{%- elif e.kind == "referral_near_year_end" %}
                WHEN v.applies THEN v.referral_due
{%- elif e.kind == "summer_to_first_day" %}
                WHEN v.applies THEN v.school_day_next_year
                WHEN NOT v.plain_listed OR v.due_in_summer IS NULL THEN NULL
                WHEN v.due_in_summer THEN v.first_day_after
{%- endif %}
                ELSE v.ordinary_due END AS due,
           CASE WHEN v.applies THEN
{%- if e.kind == "june_30" %}
                '; fewer than {{ p.days }} school days (' || (v.k_year_end - v.ka)
                || ') and fewer than {{ e.absences_below }} absences remained in the school year: due June 30'
{%- elif e.kind == "few_school_days_left" %}
                '; only ' || (v.k_year_end - v.ka) || ' school days of the school year remained'
                || ' after ' || v.x || ': due the day before the first instructional day of the next school year ('
                || v.next_first || ')'
{%- elif e.kind == "referral_near_year_end" %}
                '; referred ' || v.referral_date || ', within {{ e.window_days }} days before the last '
                || 'instructional day (' || v.last_day || '): due {{ e.days_after_first_day }} days after the first '
                || 'instructional day of the next school year (' || v.next_first || ')'
{%- elif e.kind == "summer_to_first_day" %}
                '; the evaluation was due June 30 (consent ' || v.consent || ', ' || (v.k_year_end - v.ka)
                || ' school days left in its school year): due the {{ e.june_30_school_day }}th school day '
                || 'of the next school year'
{%- else %}
                NULL
{%- endif %}
{%- if e.kind == "summer_to_first_day" %}
                WHEN v.due_in_summer THEN '; ' || v.plain_due || ' falls in summer: due the first instructional day after it'
{%- endif %}
{%- if e.kind == "referral_near_year_end" %}
                WHEN v.near_end THEN '; referred ' || v.referral_date || ', within {{ e.window_days }} days before the '
                || 'last instructional day (' || v.last_day || '), but ' || v.referral_due || ' is not after the consent: '
                || 'the ordinary count applies'
{%- endif %}
           END AS why,
           {% if p.absence_extension_min is not none -%}
           CASE WHEN v.applies THEN '' ELSE
           '; ' || v.absences || ' absence' || CASE WHEN v.absences = 1 THEN '' ELSE 's' END || ' on school days up to the '
           || '{{ p.days }}th school day' || CASE WHEN v.absences >= {{ p.absence_extension_min }}
              THEN ': extended by ' || v.absences || ' school days' ELSE ' (no extension)' END END
           {%- else %}''{% endif %} AS absence_note
    FROM ordinary v
),
gaps AS (   -- why a due date could not be given, and the date the calendar would need
    SELECT d.*,
           CASE WHEN d.due IS NOT NULL THEN NULL
                WHEN d.cal_end IS NULL THEN 'none'
{%- if p.unit != "calendar_days" %}
                WHEN NOT d.x_listed THEN 'start'
{%- endif %}
{%- if j or e.kind in ("few_school_days_left", "referral_near_year_end") %}
                WHEN d.anchor_listed IS NOT TRUE AND d.applies IS NULL THEN 'anchor'
                WHEN d.applies IS NULL AND NOT d.last_known
                     {%- if e.kind == "referral_near_year_end" %} AND d.near_end IS NULL{% endif %} THEN 'year_end'
                WHEN d.applies IS NOT false AND NOT d.has_next THEN 'next_year'
{%- endif %}
{%- if e.kind == "summer_to_first_day" %}
                WHEN NOT d.plain_listed THEN 'plain'
                WHEN d.due_in_summer IS NULL THEN 'plain_year_end'
                WHEN d.due_in_summer AND d.first_day_after IS NULL THEN 'next_year_after_plain'
{%- endif %}
{%- if p.unit != "calendar_days" %}
                WHEN d.plain_due IS NOT NULL AND NOT d.plain_known AND d.x < d.first_school_day THEN 'unplaced_start'
{%- endif %}
                ELSE 'end' END AS gap_kind
    FROM due d
),
gap_dates AS (
    SELECT g.*,
           CASE g.gap_kind WHEN 'none' THEN g.x WHEN 'start' THEN g.x WHEN 'anchor' THEN g.anchor
                WHEN 'year_end' THEN g.full_year_end WHEN 'next_year' THEN {{ school_year.first_date('g.sy + 1') }}
                WHEN 'plain' THEN g.plain_due
                WHEN 'plain_year_end' THEN {{ school_year.last_date(school_year.of('g.plain_due')) }}
                WHEN 'next_year_after_plain' THEN g.cal_end + 1
                WHEN 'unplaced_start' THEN g.cal_start - 1
                WHEN 'end' THEN g.cal_end + 1 END AS gap_date
    FROM gaps g
)
SELECT '{{ p.rule_id }}', student_id, item_id, NULL, x, start_kind, due, event_date, exempt_reason,
       CASE WHEN gap_kind IS NOT NULL THEN 'calendar gap: ' || CASE gap_kind
                WHEN 'none' THEN 'no school calendar for this student (' || cal_name || ')'
                WHEN 'year_end' THEN 'the ' || cal_name || ' ends ' || cal_end || ', before the end of school year '
                     || {{ year_name("sy") }} || ' (' || gap_date || '): its last instructional day is not known'
                WHEN 'plain_year_end' THEN 'the ' || cal_name || ' ends ' || cal_end || ', before ' || gap_date
                     || ': whether ' || plain_due || ' falls in summer is not known'
                WHEN 'next_year' THEN 'the ' || cal_name || ' has no school year ' || {{ year_name("sy + 1") }}
                     || ' (needs its first instructional day)'
                WHEN 'unplaced_start' THEN 'the ' || cal_name || ' starts ' || cal_start || ', after the start of its '
                     || 'first school year: its first instructional day is not known'
                WHEN 'end' THEN 'the ' || cal_name || ' ends ' || cal_end || ', before the date this due date needs'
                WHEN 'next_year_after_plain' THEN 'the ' || cal_name || ' ends ' || cal_end
                     || ', before the first instructional day after ' || plain_due
                ELSE 'the ' || cal_name || ' does not cover ' || gap_date END
            || ' ({{ p.days }} {{ words[p.unit] }} after ' || start_kind || ' ' || x || ')'
            ELSE 'due ' || due || ': {{ p.days }} {{ words[p.unit] }} after ' || start_kind || ' ' || x
{%- if p.unit != "calendar_days" %}
                 || ' (' || cal_name || ')'
                 || CASE WHEN due = plain_due OR due = extended_due THEN coalesce(', not counting ' || (
                        SELECT string_agg(greatest(run_start, g.x + 1) || '..' || least(run_end, g.due) || ' ('
                               || run_note || ', ' || (least(run_end, g.due) - greatest(run_start, g.x + 1) + 1)
                               || CASE WHEN least(run_end, g.due) = greatest(run_start, g.x + 1) THEN ' day)'
                                       ELSE ' days)' END, ', ' ORDER BY run_start)
                        FROM (SELECT DISTINCT run_start, run_end, run_note FROM temp.calendar c
                              WHERE c.cal = g.cal AND c.run IS NOT NULL AND c.{{ excluded[p.unit] }}
                                AND c.d > g.x AND c.d <= g.due)), '') ELSE '' END
{%- endif %}
                 || coalesce(why, '') || absence_note
       END,
       CASE WHEN gap_kind IS NOT NULL THEN cal_name END, gap_date
FROM gap_dates g
WHERE {{ "true" if p.rule_id in ledger_rules | default([]) else window.cycle_reported('g.event_date') }};   -- as the federal cycles (facts_timelines.sql)
{% endfor %}
