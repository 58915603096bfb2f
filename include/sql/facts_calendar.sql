-- The school calendars, made countable. One row per calendar (cal: a school's id, '' for the
-- district) and date, with its school year (sy, starting {{ r.school_year_start }}), whether it is a
-- school day, in summer (strictly between the last instructional day of a school year and the first
-- of the next) or in a long break (a maximal run of non-school days holding more than 5 weekdays;
-- summer always is one), and for each unit a running count of the days it counts, so that "the
-- N-th counted day after X" is the day whose count is count(X) + N: a join, not a loop.
CREATE OR REPLACE TEMP TABLE calendar AS
WITH c AS (
    SELECT coalesce(school_id, '') AS cal, calendar_date AS d, in_session = 'Y' AS school_day, note,
           CASE WHEN strftime(calendar_date, '%m-%d') >= '{{ r.school_year_start }}'
                THEN year(calendar_date) ELSE year(calendar_date) - 1 END AS sy,
           sum(CASE WHEN in_session = 'Y' THEN 1 ELSE 0 END)
               OVER (PARTITION BY coalesce(school_id, '') ORDER BY calendar_date) AS run
    FROM {{ src }}.school_calendar
),
years AS (
    SELECT cal, sy, min(d) FILTER (WHERE school_day) AS first_day, max(d) FILTER (WHERE school_day) AS last_day
    FROM c GROUP BY ALL
),
runs AS (   -- runs of non-school days: their weekdays, span and name
    SELECT cal, run, count(*) FILTER (WHERE isodow(d) <= 5) AS weekdays, min(d) AS run_start, max(d) AS run_end,
           coalesce(mode(note) FILTER (WHERE note IS NOT NULL AND isodow(d) <= 5), mode(note), 'break') AS run_note
    FROM c WHERE NOT school_day GROUP BY ALL
),
days AS (
    SELECT c.cal, c.d, c.sy, c.school_day, c.note, y.first_day, y.last_day,
           NOT c.school_day AND coalesce(c.d > y.last_day OR c.d < y.first_day, true) AS summer,
           NOT c.school_day AND (coalesce(r.weekdays, 0) > 5 OR coalesce(c.d > y.last_day OR c.d < y.first_day, true))
             AS long_break,
           CASE WHEN NOT c.school_day THEN c.run END AS run, r.run_start, r.run_end, r.run_note, r.weekdays AS run_weekdays
    FROM c JOIN years y USING (cal, sy) LEFT JOIN runs r ON r.cal = c.cal AND r.run = c.run AND NOT c.school_day
)
SELECT *,
       sum(CASE WHEN school_day THEN 1 ELSE 0 END) OVER w AS k_school_days,
       sum(CASE WHEN summer THEN 0 ELSE 1 END) OVER w AS k_calendar_days_excluding_summer,
       sum(CASE WHEN long_break THEN 0 ELSE 1 END) OVER w AS k_calendar_days_excluding_long_breaks
FROM days
WINDOW w AS (PARTITION BY cal ORDER BY d);

-- Each calendar's span and school years (first and last instructional day).
CREATE OR REPLACE TEMP TABLE calendar_years AS
SELECT cal, sy, min(first_day) AS first_day, min(last_day) AS last_day,
       min(d) AS year_start, max(d) AS year_end,
       max(k_school_days) FILTER (WHERE d = last_day) AS k_last_day
FROM temp.calendar GROUP BY ALL;

-- Each student's calendar: the school's own when it has one, else the district's.
CREATE OR REPLACE TEMP TABLE student_calendar AS
SELECT s.student_id,
       CASE WHEN s.school_id IN (SELECT cal FROM temp.calendar_years) THEN s.school_id ELSE '' END AS cal,
       CASE WHEN s.school_id IN (SELECT cal FROM temp.calendar_years) THEN 'calendar of school ' || s.school_id
            ELSE 'district calendar' END AS cal_name
FROM facts.students s;

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
