-- The school calendars, made countable. One row per calendar (cal: a school's id, '' for the
-- district) and date, with its school year (sy, starting {{ r.school_year_start }}), whether it is a
-- school day, in summer (strictly between the last instructional day of a school year and the first
-- of the next) or in a long break (a maximal run of non-school days holding more than 5 weekdays;
-- summer always is one), and for each unit a running count of the days it counts, so that "the
-- N-th counted day after X" is the day whose count is count(X) + N: a join, not a loop.
-- A calendar that starts after its first school year's start, or stops before its last school
-- year's end, cannot say where that year's first or last instructional day lies: the days it
-- cannot place (summer or not, long break or not) are NULL, and a running count of them per unit
-- (u_*) lets a count that crosses one be told apart (a calendar gap, never a guess).
{% import 'rules/school_year.sql' as school_year with context %}
{%- set year_start, year_end = school_year.first_date('sy'), school_year.last_date('sy') %}
CREATE OR REPLACE TEMP TABLE calendar AS
WITH c AS (
    SELECT coalesce(school_id, '') AS cal, calendar_date AS d, in_session = 'Y' AS school_day, note,
           {{ school_year.of('calendar_date') }} AS sy,
           sum(CASE WHEN in_session = 'Y' THEN 1 ELSE 0 END)
               OVER (PARTITION BY coalesce(school_id, '') ORDER BY calendar_date) AS run
    FROM {{ src }}.school_calendar
),
span AS (SELECT cal, min(d) AS cal_start, max(d) AS cal_end FROM c GROUP BY ALL),
years AS (   -- a year's first (last) instructional day is known when the calendar covers its start (end)
    SELECT cal, sy, min(d) FILTER (WHERE school_day) AS first_day, max(d) FILTER (WHERE school_day) AS last_day,
           min(d) <= {{ year_start }}
             AS first_known,
           max(d) >= {{ year_end }}
             AS last_known
    FROM c GROUP BY cal, sy
),
runs AS (   -- runs of non-school days: their weekdays, span and name
    SELECT cal, run, count(*) FILTER (WHERE isodow(d) <= 5) AS weekdays, min(d) AS run_start, max(d) AS run_end,
           coalesce(mode(note) FILTER (WHERE note IS NOT NULL AND isodow(d) <= 5), mode(note), 'break') AS run_note
    FROM c WHERE NOT school_day GROUP BY ALL
),
placed AS (
    SELECT c.cal, c.d, c.sy, c.school_day, c.note, y.first_day, y.last_day,
           CASE WHEN c.school_day THEN false
                WHEN c.d > y.first_day AND c.d < y.last_day THEN false
                WHEN c.d < y.first_day THEN CASE WHEN y.first_known THEN true END
                WHEN c.d > y.last_day THEN CASE WHEN y.last_known THEN true END
                WHEN y.first_known AND y.last_known THEN true END AS summer,   -- NULL: not known
           CASE WHEN NOT c.school_day THEN c.run END AS run, r.run_start, r.run_end, r.run_note,
           r.weekdays AS run_weekdays, r.run_start = sp.cal_start OR r.run_end = sp.cal_end AS run_cut
    FROM c JOIN years y USING (cal, sy) JOIN span sp USING (cal)
    LEFT JOIN runs r ON r.cal = c.cal AND r.run = c.run AND NOT c.school_day
),
days AS (
    SELECT * EXCLUDE (run_cut),
           CASE WHEN school_day THEN false
                WHEN summer OR run_weekdays > 5 THEN true
                WHEN run_cut OR summer IS NULL THEN NULL   -- a run the calendar cuts may be longer
                ELSE false END AS long_break
    FROM placed
)
SELECT *,
       sum(CASE WHEN school_day THEN 1 ELSE 0 END) OVER w AS k_school_days,
       sum(CASE WHEN summer THEN 0 ELSE 1 END) OVER w AS k_calendar_days_excluding_summer,
       sum(CASE WHEN long_break THEN 0 ELSE 1 END) OVER w AS k_calendar_days_excluding_long_breaks,
       0 AS u_school_days,
       sum(CASE WHEN summer IS NULL THEN 1 ELSE 0 END) OVER w AS u_calendar_days_excluding_summer,
       sum(CASE WHEN long_break IS NULL THEN 1 ELSE 0 END) OVER w AS u_calendar_days_excluding_long_breaks
FROM days
WINDOW w AS (PARTITION BY cal ORDER BY d);

-- Each calendar's school years: first and last instructional day, whether the last is known (the
-- calendar reaches the year's end), the school-day count at the last instructional day and at the
-- year's last listed date, and the year's start and end as the calendar lists them.
CREATE OR REPLACE TEMP TABLE calendar_years AS
SELECT cal, sy, min(first_day) AS first_day, min(last_day) AS last_day,
       min(d) AS year_start, max(d) AS year_end,
       max(d) >= {{ year_end }}
         AS last_known,
       {{ year_end }} AS full_year_end,
       max(k_school_days) FILTER (WHERE d = last_day) AS k_last_day,
       max(k_school_days) AS k_year_end
FROM temp.calendar GROUP BY cal, sy;

-- Each student's calendar: the school's own when it has one, else the district's.
CREATE OR REPLACE TEMP TABLE student_calendar AS
SELECT s.student_id,
       CASE WHEN s.school_id IN (SELECT cal FROM temp.calendar_years) THEN s.school_id ELSE '' END AS cal,
       CASE WHEN s.school_id IN (SELECT cal FROM temp.calendar_years) THEN 'calendar of school ' || s.school_id
            ELSE 'district calendar' END AS cal_name
FROM {{ facts }}.students s;

-- Absences on school days, with the school-day count of their date on the student's calendar.
-- Each absence finds its student's calendar first (materialized: joining every student's calendar
-- to every date of it first is a row per student and date, which DuckDB's planner chose once).
CREATE OR REPLACE TEMP TABLE absences AS
WITH a AS MATERIALIZED (
    SELECT a.student_id, a.absence_date, sc.cal
    FROM {{ src }}.student_absences a JOIN temp.student_calendar sc USING (student_id)
)
SELECT a.student_id, a.absence_date AS d, c.k_school_days AS k
FROM a JOIN temp.calendar c ON c.cal = a.cal AND c.d = a.absence_date AND c.school_day;
