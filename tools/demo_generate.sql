-- Synthetic district for the demo and the benchmarks. Deterministic for a seed:
-- every random draw is a hash of (row, draw name, seed), so thread count and
-- order do not matter. Each compliance problem of docs/rules.md is seeded
-- at a few percent so every rule fires. All names are synthetic.
CREATE OR REPLACE MACRO u(i, k) AS (hash(i, k, {{ seed }}) % 1000003) / 1000003.0;
CREATE OR REPLACE MACRO pick(lst, i, k) AS lst[1 + CAST(floor(u(i, k) * len(lst)) AS INTEGER)];
CREATE OR REPLACE MACRO first_names() AS ['Avery','Blake','Carmen','Dana','Elio','Farah','Gael','Hana','Ivo','Jules','Kiri','Lena','Milo','Nia','Omar','Pia','Quinn','Rafa','Sana','Tomas','Uma','Vik','Wren','Xio','Yara','Zane','Ari','Bo','Cleo','Dev'];
CREATE OR REPLACE MACRO last_names() AS ['Alder','Birch','Cedar','Dune','Elm','Fern','Grove','Heath','Iris','Juniper','Kestrel','Larch','Moss','Nettle','Oakes','Pine','Quarry','Reed','Sorrel','Thorne','Umber','Vale','Willow','Yarrow','Zinnia'];

CREATE OR REPLACE TABLE schools AS
SELECT 'SCH' || lpad(s::VARCHAR, 4, '0') AS school_id,
       (['Lincoln','Washington','Jefferson','Roosevelt','Madison','Adams','Jackson','Monroe','Cedar','Oak','Maple','Pine'])[1 + (s - 1) % 12]
         || ' ' || (['Elementary','Middle School','High School'])[1 + (s - 1) % 3]
         || CASE WHEN s > 12 THEN ' ' || s::VARCHAR ELSE '' END AS school_name,
       '{{ ids.district }}' || lpad(({{ ids.school_base }} + s)::VARCHAR, {{ ids.school_digits }}, '0')
         AS state_school_code,
       '{{ ids.district }}' AS district_code
FROM range(1, {{ schools }} + 1) r(s);

-- Per school: 4 general-ed teachers (k 0-3), 2 special-ed teachers (4-5), an LEA
-- representative (6), a psychologist (7), a related-service provider (8).
CREATE OR REPLACE TABLE staff AS
SELECT 'T' || lpad((s * 10 + k)::VARCHAR, 7, '0') AS staff_id,
       pick(first_names(), s * 10 + k, 'sf') AS first_name,
       pick(last_names(), s * 10 + k, 'sl') AS last_name,
       'staff' || (s * 10 + k)::VARCHAR || '@{{ email_domain }}' AS email,
       CASE WHEN k < 4 THEN 'general_education_teacher' WHEN k < 6 THEN 'special_education_teacher'
            WHEN k = 6 THEN 'lea_representative' WHEN k = 7 THEN 'school_psychologist'
            ELSE 'related_service_provider' END AS primary_role
FROM range(1, {{ schools }} + 1) r(s), range(0, 9) k(k)
UNION ALL
SELECT 'C' || lpad(c::VARCHAR, 4, '0'), pick(first_names(), c, 'cf'), pick(last_names(), c, 'cl'),
       'coordinator' || c::VARCHAR || '@{{ email_domain }}', 'coordinator'
FROM range(1, ({{ schools }} + 1) // 2 + 1) r(c);

-- Coordinator c looks after schools 2c-1 and 2c.
CREATE OR REPLACE TABLE coordinator_assignments AS
SELECT 'C' || lpad(((s + 1) // 2)::VARCHAR, 4, '0') AS staff_id, 'SCH' || lpad(s::VARCHAR, 4, '0') AS school_id
FROM range(1, {{ schools }} + 1) r(s);

-- One row per student with every draw the later tables need.
CREATE OR REPLACE TABLE _s AS
WITH base AS (
  SELECT i, 1 + (i - 1) % {{ schools }} AS sch,
         CAST(floor(3 * 365.25 + u(i, 'age') * 19 * 365.25) AS INTEGER) AS age_days,
         u(i, 'sped') AS u_sped, u(i, 'new') AS u_new
  FROM range(1, {{ students }} + 1) r(i)
)
SELECT *, DATE '{{ as_of }}' - age_days AS birth_date,
       CASE WHEN u_sped < 0.06 THEN 'referred' WHEN u_sped < 0.09 THEN 'not_eligible'
            WHEN u_sped < 0.11 THEN 'exited_sped' ELSE 'eligible' END AS sped_status,
       CASE WHEN u_sped >= 0.11 AND (age_days < 6 * 365 OR u_new < 0.06) THEN 'new'
            WHEN u_sped >= 0.11 THEN 'established' END AS cohort
FROM base;

CREATE OR REPLACE TABLE students AS
SELECT lpad(i::VARCHAR, 7, '0') AS student_id,
       ({{ 10 ** (ids.ssid - 1) }} + (i * 7919) % {{ 9 * 10 ** (ids.ssid - 1) - 1 }})::VARCHAR AS state_student_id,
       pick(first_names(), i, 'fn') AS first_name, pick(last_names(), i, 'ln') AS last_name,
       birth_date,
       CASE WHEN u(i, 'g') < 0.49 THEN 'f' WHEN u(i, 'g') < 0.98 THEN 'm' ELSE 'x' END AS gender,
       CASE WHEN age_days < 4 * 365 THEN 'ps' WHEN age_days < 5 * 365 THEN 'tk' WHEN age_days < 6 * 365 THEN 'k'
            WHEN age_days >= 18 * 365 THEN 'ug'
            ELSE lpad((age_days // 365 - 5)::VARCHAR, 2, '0') END AS grade_level,
       'SCH' || lpad(sch::VARCHAR, 4, '0') AS school_id,
       'T' || lpad((sch * 10 + 4 + i % 2)::VARCHAR, 7, '0') AS case_manager_staff_id,
       CASE WHEN u(i, 'exit') < 0.03 THEN 'exited' ELSE 'active' END AS enrollment_status,
       CASE WHEN u(i, 'exit') < 0.03 THEN DATE '{{ as_of }}' - CAST(1 + u(i, 'exd') * 120 AS INTEGER) END AS exit_date,
       sped_status,
       CASE WHEN u(i, 'reg') < 0.04 THEN 'N' ELSE 'Y' END AS in_regular_education
FROM _s;

CREATE OR REPLACE TABLE guardians AS
SELECT 'G' || lpad(i::VARCHAR, 7, '0') || '1' AS guardian_id, lpad(i::VARCHAR, 7, '0') AS student_id,
       pick(first_names(), i, 'g1') AS first_name, pick(last_names(), i, 'ln') AS last_name,
       CASE WHEN u(i, 'rel') < 0.90 THEN 'parent' WHEN u(i, 'rel') < 0.95 THEN 'guardian'
            WHEN u(i, 'rel') < 0.98 THEN 'foster_parent' ELSE 'surrogate' END AS relationship
FROM _s
UNION ALL
SELECT 'G' || lpad(i::VARCHAR, 7, '0') || '2', lpad(i::VARCHAR, 7, '0'), pick(first_names(), i, 'g2'),
       pick(last_names(), i, 'ln2'), 'parent'
FROM _s WHERE u(i, 'two') < 0.3;

-- Evaluation timelines per cohort.
CREATE OR REPLACE TABLE _ev AS
SELECT i, cohort, sped_status, age_days, birth_date,
  -- established: initial consent long ago, on time
  CASE WHEN cohort = 'established' THEN DATE '{{ as_of }}' - 800 - CAST(floor(u(i, 'c0') * least(2500, age_days - 2000)) AS INTEGER)
       WHEN cohort = 'new' THEN DATE '{{ as_of }}' - 60 - CAST(floor(u(i, 'c0') * 80) AS INTEGER)
       WHEN sped_status = 'referred' THEN DATE '{{ as_of }}' - CAST(floor(u(i, 'c0') * 90) AS INTEGER)
       ELSE DATE '{{ as_of }}' - 400 - CAST(floor(u(i, 'c0') * 900) AS INTEGER) END AS consent,
  CASE WHEN cohort = 'new' THEN 30 + CAST(floor(u(i, 'ct') * 40) AS INTEGER)
       ELSE 20 + CAST(floor(u(i, 'ct') * 35) AS INTEGER) END AS eval_days,
  CAST(floor(u(i, 'ed') * 10) AS INTEGER) AS elig_days,
  CAST(floor(u(i, 're') * 1200) AS INTEGER) AS reeval_ago
FROM _s WHERE sped_status <> 'eligible' OR cohort IS NOT NULL;

CREATE OR REPLACE TABLE evaluations AS
SELECT 'E' || lpad(i::VARCHAR, 7, '0') || '1' AS evaluation_id, lpad(i::VARCHAR, 7, '0') AS student_id,
       'initial' AS evaluation_type, consent - 10 AS referral_date,
       CASE WHEN sped_status = 'referred' AND u(i, 'nocons') < 0.1 THEN NULL ELSE consent END AS consent_received_date,
       CASE WHEN sped_status <> 'referred' THEN consent + eval_days END AS evaluation_completed_date,
       CASE WHEN sped_status <> 'referred' THEN consent + eval_days + elig_days END AS eligibility_determination_date,
       CASE WHEN sped_status = 'referred' THEN 'pending' WHEN sped_status = 'not_eligible' THEN 'not_eligible'
            ELSE 'eligible' END AS eligibility_outcome,
       CASE WHEN sped_status = 'referred' AND u(i, 'dly') < 0.15 THEN 'parent_did_not_produce_child'
            WHEN sped_status = 'referred' AND u(i, 'dly') < 0.22 THEN 'school_break'
            WHEN cohort = 'new' AND eval_days > 60 AND u(i, 'dly') < 0.3 THEN 'transfer_agreed_timeline' END AS delay_reason_code,
       NULL::DATE AS reevaluation_waived_date,
       -- a few parents of newly eligible students refuse consent for services: no initial IEP deadline
       CASE WHEN cohort = 'new' AND u(i, 'scr') < 0.03 THEN consent + eval_days + elig_days END
         AS services_consent_refused_date
FROM _ev
UNION ALL
-- established students whose last reevaluation is more recent than the initial one
SELECT 'E' || lpad(i::VARCHAR, 7, '0') || '2', lpad(i::VARCHAR, 7, '0'), 'reevaluation',
       DATE '{{ as_of }}' - reeval_ago - 50, DATE '{{ as_of }}' - reeval_ago - 40, DATE '{{ as_of }}' - reeval_ago,
       DATE '{{ as_of }}' - reeval_ago + 5, 'eligible', NULL,
       CASE WHEN reeval_ago > 1000 AND u(i, 'wv') < 0.25 THEN DATE '{{ as_of }}' - reeval_ago + 1000 END,
       NULL::DATE
FROM _ev WHERE cohort = 'established' AND DATE '{{ as_of }}' - reeval_ago > consent + eval_days + 200;

-- Meetings: kind 0 initial (years ago), 1 initial (new students), 2 previous annual, 3 latest annual, 4 amendment, 5 cancelled,
-- 6 scheduled, 7 parent-request. Meeting ids are student * 10 + kind.
CREATE OR REPLACE TABLE _m AS
WITH st AS (
  SELECT s.i, s.cohort, s.birth_date, e.consent, e.eval_days, e.elig_days,
         e.consent + e.eval_days + e.elig_days AS elig,
         DATE '{{ as_of }}' - CAST(floor(u(s.i, 'ar') * 400) AS INTEGER) AS last_review,
         300 + CAST(floor(u(s.i, 'gap') * 70) AS INTEGER) AS gap,
         CAST(floor(u(s.i, 'ini') * 44) AS INTEGER) AS ini_days,
         DATE '{{ as_of }}' - CAST(floor(u(s.i, 'prq') * 60) AS INTEGER) AS prq
  FROM _s s JOIN _ev e USING (i) WHERE s.cohort IS NOT NULL OR s.sped_status = 'exited_sped'
)
SELECT i, 1 AS kind, 'initial' AS meeting_type,
       CASE WHEN elig + ini_days <= DATE '{{ as_of }}' THEN 'held' ELSE 'scheduled' END AS status,
       elig + ini_days AS scheduled_date,
       CASE WHEN elig + ini_days <= DATE '{{ as_of }}' THEN elig + ini_days END AS held_date, 'Y' AS iep_reviewed, birth_date
FROM st WHERE cohort = 'new'
UNION ALL SELECT i, 0, 'initial', 'held', elig + CAST(floor(u(i, 'ini0') * 25) AS INTEGER),
       elig + CAST(floor(u(i, 'ini0') * 25) AS INTEGER), 'Y', birth_date FROM st WHERE cohort = 'established' OR cohort IS NULL
UNION ALL SELECT i, 2, 'annual', 'held', last_review - gap, last_review - gap, 'Y', birth_date FROM st WHERE cohort = 'established'
UNION ALL SELECT i, 3, 'annual', 'held', last_review, last_review, 'Y', birth_date FROM st WHERE cohort = 'established'
UNION ALL SELECT i, 4, 'amendment', 'held', least(last_review + 20, DATE '{{ as_of }}'), least(last_review + 20, DATE '{{ as_of }}'), 'N', birth_date
  FROM st WHERE cohort = 'established' AND u(i, 'amd') < 0.08
UNION ALL SELECT i, 5, 'annual', 'cancelled', last_review + 366, NULL, 'Y', birth_date
  FROM st WHERE cohort = 'established' AND last_review + 366 <= DATE '{{ as_of }}' AND u(i, 'cnl') < 0.5
UNION ALL SELECT i, 6, 'annual', 'scheduled', DATE '{{ as_of }}' + 5, NULL, 'Y', birth_date
  FROM st WHERE cohort = 'established' AND last_review + 335 <= DATE '{{ as_of }}' AND last_review + 365 > DATE '{{ as_of }}'
UNION ALL SELECT i, 7, 'parent_request',
       CASE WHEN prq + CAST(floor(u(i, 'prd') * 45) AS INTEGER) <= DATE '{{ as_of }}' THEN 'held' ELSE 'scheduled' END,
       prq + CAST(floor(u(i, 'prd') * 45) AS INTEGER),
       CASE WHEN prq + CAST(floor(u(i, 'prd') * 45) AS INTEGER) <= DATE '{{ as_of }}' THEN prq + CAST(floor(u(i, 'prd') * 45) AS INTEGER) END,
       'N', birth_date
  FROM st WHERE cohort = 'established' AND u(i, 'prq?') < 0.06;

CREATE OR REPLACE TABLE parent_requests AS
SELECT 'R' || lpad(i::VARCHAR, 7, '0') AS request_id, lpad(i::VARCHAR, 7, '0') AS student_id,
       scheduled_date - CAST(floor(u(i, 'prd') * 45) AS INTEGER) AS received_date,
       CASE WHEN u(i, 'wr') < 0.85 THEN 'Y' ELSE 'N' END AS in_writing
FROM _m WHERE kind = 7;

CREATE OR REPLACE TABLE meetings AS
SELECT 'M' || lpad((i * 10 + kind)::VARCHAR, 9, '0') AS meeting_id, lpad(i::VARCHAR, 7, '0') AS student_id,
       meeting_type, status, scheduled_date, held_date, iep_reviewed,
       CASE WHEN scheduled_date >= birth_date + INTERVAL 16 YEAR THEN 'Y' ELSE 'N' END AS includes_transition,
       CASE WHEN u(i * 10 + kind, 'fmt') < 0.7 THEN 'in_person' WHEN u(i * 10 + kind, 'fmt') < 0.85 THEN 'video'
            WHEN u(i * 10 + kind, 'fmt') < 0.95 THEN 'hybrid' ELSE 'phone' END AS format,
       CASE WHEN kind = 7 THEN 'R' || lpad(i::VARCHAR, 7, '0') END AS parent_request_id
FROM _m;

-- Held meetings with what the team rules need.
CREATE OR REPLACE TABLE _h AS
SELECT m.i, m.kind, m.i * 10 + m.kind AS mid, 'M' || lpad((m.i * 10 + m.kind)::VARCHAR, 9, '0') AS meeting_id,
       m.held_date, 1 + (m.i - 1) % {{ schools }} AS sch,
       (m.held_date + INTERVAL 1 YEAR < m.birth_date + INTERVAL {{ transition_age }} YEAR) = false AS transition
FROM _m m WHERE m.status = 'held' AND m.held_date >= DATE '{{ as_of }}' - 800;  -- team records of recent meetings

CREATE OR REPLACE TABLE meeting_notices AS
WITH n AS (
  SELECT mid, meeting_id, held_date, transition, u(mid, 'nt') AS un, u(mid, 'nc') AS uc,
         10 + CAST(floor(u(mid, 'lead') * 15) AS INTEGER) AS lead FROM _h
)
SELECT 'N' || lpad(mid::VARCHAR, 9, '0') || '1' AS notice_id, meeting_id,
       held_date - CASE WHEN un < 0.10 THEN 3 + CAST(floor(u(mid, 'sh') * 7) AS INTEGER) ELSE lead END AS sent_date,
       CASE WHEN u(mid, 'dm') < 0.6 THEN 'mail' WHEN u(mid, 'dm') < 0.9 THEN 'email' ELSE 'hand' END AS delivery_method,
       CASE WHEN uc < 0.02 THEN 'N' ELSE 'Y' END AS states_purpose,
       CASE WHEN uc BETWEEN 0.02 AND 0.035 THEN 'N' ELSE 'Y' END AS states_time,
       CASE WHEN uc BETWEEN 0.035 AND 0.05 THEN 'N' ELSE 'Y' END AS states_location,
       CASE WHEN uc BETWEEN 0.05 AND 0.07 THEN 'N' ELSE 'Y' END AS states_attendees,
       CASE WHEN transition AND u(mid, 'tn') >= 0.08 THEN 'Y' ELSE 'N' END AS states_transition_purpose,
       CASE WHEN transition AND u(mid, 'ti') >= 0.06 THEN 'Y' ELSE 'N' END AS invites_student,
       CASE WHEN un < 0.04 THEN 'Y' ELSE 'N' END AS parent_waived_notice_period
FROM n WHERE un >= 0.95 OR un < 0.93        -- 2 % of meetings get no notice in time
UNION ALL                                    -- ...of which half get one after the meeting
SELECT 'N' || lpad(mid::VARCHAR, 9, '0') || '2', meeting_id, held_date + 2, 'email', 'Y', 'Y', 'Y', 'Y',
       CASE WHEN transition THEN 'Y' ELSE 'N' END, CASE WHEN transition THEN 'Y' ELSE 'N' END, 'N'
FROM n WHERE un >= 0.93 AND un < 0.94;

-- One row per person per team role.
CREATE OR REPLACE TABLE meeting_participants AS
WITH p AS (SELECT *, u(mid, 'pa') AS upa, u(mid, 'ge') AS uge, u(mid, 'lea') AS ulea,
                  u(mid, 'ei') AS uei, u(mid, 'se') AS use, u(mid, 'stu') AS ustu FROM _h),
x AS (  -- excusal variants: 0 valid, 1 no parent consent, 2 consent after meeting, 3 area discussed without input, 4 input after meeting
  SELECT *, CAST(floor(u(mid, 'exv') * 5) AS INTEGER) AS exv FROM p
)
SELECT meeting_id, 'guardian' AS person_type, 'G' || lpad(i::VARCHAR, 7, '0') || '1' AS person_id, 'parent' AS team_role,
       CASE WHEN upa < 0.91 THEN 'attended' ELSE 'absent' END AS attendance,
       CASE WHEN upa < 0.75 THEN 'in_person' WHEN upa < 0.85 THEN 'phone' WHEN upa < 0.91 THEN 'video' END AS attendance_mode,
       NULL::DATE AS excusal_parent_consent_date, NULL::DATE AS excusal_district_agreement_date,
       NULL AS excusal_area_discussed, NULL::DATE AS written_input_date
FROM x
UNION ALL
SELECT meeting_id, 'staff', 'T' || lpad((sch * 10 + i % 4)::VARCHAR, 7, '0'), 'general_education_teacher',
       CASE WHEN uge < 0.86 THEN 'attended' WHEN uge < 0.96 THEN 'excused' ELSE 'absent' END,
       CASE WHEN uge < 0.86 THEN 'in_person' END,
       CASE WHEN uge >= 0.86 AND uge < 0.96 AND exv <> 1 THEN held_date - CASE WHEN exv = 2 THEN -1 ELSE 3 END END,
       CASE WHEN uge >= 0.86 AND uge < 0.96 THEN held_date - 3 END,
       CASE WHEN uge >= 0.86 AND uge < 0.96 THEN CASE WHEN exv IN (3, 4) OR u(mid, 'ad') < 0.5 THEN 'Y' ELSE 'N' END END,
       CASE WHEN uge >= 0.86 AND uge < 0.96 AND exv <> 3 THEN held_date - CASE WHEN exv = 4 THEN -2 ELSE 2 END END
FROM x
UNION ALL
SELECT meeting_id, 'staff', 'T' || lpad((sch * 10 + 4 + i % 2)::VARCHAR, 7, '0'), 'special_education_teacher',
       'attended', CASE WHEN use < 0.9 THEN 'in_person' ELSE 'video' END, NULL, NULL, NULL, NULL
FROM x WHERE use >= 0.03
UNION ALL
SELECT meeting_id, 'staff', 'T' || lpad((sch * 10 + 6)::VARCHAR, 7, '0'), 'lea_representative',
       CASE WHEN ulea < 0.94 THEN 'attended' WHEN ulea < 0.96 THEN 'excused' ELSE 'absent' END,
       CASE WHEN ulea < 0.94 THEN 'in_person' END,
       CASE WHEN ulea >= 0.94 AND ulea < 0.96 THEN held_date - 4 END,
       CASE WHEN ulea >= 0.94 AND ulea < 0.96 THEN held_date - 4 END,
       CASE WHEN ulea >= 0.94 AND ulea < 0.96 THEN 'N' END, NULL
FROM x
UNION ALL
SELECT meeting_id, 'staff',
       CASE WHEN uei < 0.6 THEN 'T' || lpad((sch * 10 + 7)::VARCHAR, 7, '0')
            ELSE 'T' || lpad((sch * 10 + 4 + i % 2)::VARCHAR, 7, '0') END,   -- the special-ed teacher in a second role
       'evaluation_interpreter', 'attended', 'in_person', NULL, NULL, NULL, NULL
FROM x WHERE uei < 0.97
UNION ALL
SELECT meeting_id, 'student', lpad(i::VARCHAR, 7, '0'), 'student',
       CASE WHEN ustu < 0.85 THEN 'attended' ELSE 'absent' END, CASE WHEN ustu < 0.85 THEN 'in_person' END,
       NULL, NULL, NULL, NULL
FROM x WHERE transition
{%- if team_extra %}
UNION ALL   -- larger teams (the bench's second district): related services, agencies, advocates, others
SELECT meeting_id, 'other', 'X' || lpad(mid::VARCHAR, 9, '0') || '-' || k::VARCHAR,
       ['related_service_provider', 'agency_representative', 'advocate', 'other'][1 + k % 4],
       CASE WHEN u(mid * 100 + k, 'xa') < 0.8 THEN 'attended' ELSE 'absent' END,
       CASE WHEN u(mid * 100 + k, 'xa') < 0.6 THEN 'in_person' WHEN u(mid * 100 + k, 'xa') < 0.8 THEN 'video' END,
       NULL, NULL, NULL, NULL
FROM x, range({{ team_extra }}) r(k)
{%- endif %};

-- Documented attempts to reach an absent parent: 0, 1 or 2.
CREATE OR REPLACE TABLE parent_contact_attempts AS
SELECT 'A' || lpad(mid::VARCHAR, 9, '0') || k::VARCHAR AS attempt_id, meeting_id,
       held_date - 10 + CAST(k AS INTEGER) * 3 AS attempt_date, CASE WHEN k = 1 THEN 'phone' ELSE 'letter' END AS method
FROM _h, range(1, 3) r(k)
WHERE u(mid, 'pa') >= 0.91 AND k <= CAST(floor(u(mid, 'att') * 3) AS INTEGER);

-- IEPs developed at review meetings; the latest is active.
CREATE OR REPLACE TABLE ieps AS
WITH r AS (
  SELECT h.*, m.birth_date, row_number() OVER (PARTITION BY h.i ORDER BY h.held_date DESC, h.kind DESC) AS rn
  FROM _h h JOIN _m m USING (i, kind) WHERE m.iep_reviewed = 'Y'
)
SELECT 'P' || lpad(mid::VARCHAR, 9, '0') AS iep_id, lpad(i::VARCHAR, 7, '0') AS student_id, meeting_id,
       held_date - CASE WHEN u(mid, 'ib') < 0.05 THEN 1 + CAST(floor(u(mid, 'ibd') * 9) AS INTEGER) ELSE 0 END AS begin_date,
       CAST(held_date + INTERVAL 1 YEAR - INTERVAL 1 DAY AS DATE) AS end_date,
       CASE WHEN rn = 1 THEN 'active' ELSE 'superseded' END AS status,
       CASE WHEN transition AND u(mid, 'tp') >= 0.08 THEN 'Y' ELSE 'N' END AS has_transition_plan
FROM r;

-- The school calendar: the district's for the previous and the current school year (Thanksgiving
-- week, a two-week winter break, spring break, single holidays, summer), and one year-round school
-- (the last one) with calendars of its own: intersessions instead of a long summer.
CREATE OR REPLACE MACRO nth_dow_on_or_after(d, dow) AS d + CAST((dow - isodow(d) + 7) % 7 AS INTEGER);
CREATE OR REPLACE TABLE _cal AS
WITH days AS (
  SELECT CAST(t.d AS DATE) AS d FROM range(make_date(year(DATE '{{ as_of }}' - INTERVAL 6 MONTH) - 1, 7, 1),
                                          make_date(year(DATE '{{ as_of }}' - INTERVAL 6 MONTH) + 1, 7, 1),
                                          INTERVAL 1 DAY) t(d)
),
y AS (SELECT d, CASE WHEN month(d) >= 7 THEN year(d) ELSE year(d) - 1 END AS y FROM days),
k AS (
  SELECT d, y, isodow(d) >= 6 AS weekend,
         nth_dow_on_or_after(make_date(y, 11, 22), 4) AS thanksgiving,
         nth_dow_on_or_after(make_date(y + 1, 3, 25), 1) AS spring_monday
  FROM y
),
h AS (
  SELECT d, y, weekend,
    CASE WHEN weekend THEN NULL
         WHEN month(d) = 9 AND isodow(d) = 1 AND day(d) <= 7 THEN 'Labor Day'
         WHEN month(d) = 11 AND day(d) = 11 THEN 'Veterans Day'
         WHEN d BETWEEN thanksgiving - 3 AND thanksgiving + 1 THEN 'Thanksgiving break'
         WHEN (month(d) = 12 AND day(d) >= 20) OR (month(d) = 1 AND day(d) <= 3) THEN 'winter break'
         WHEN month(d) = 1 AND isodow(d) = 1 AND day(d) BETWEEN 15 AND 21 THEN 'Martin Luther King Jr. Day'
         WHEN month(d) = 2 AND isodow(d) = 1 AND day(d) BETWEEN 15 AND 21 THEN 'Presidents Day'
         WHEN d BETWEEN spring_monday AND spring_monday + 4 THEN 'spring break'
         WHEN month(d) = 5 AND isodow(d) = 1 AND day(d) >= 25 THEN 'Memorial Day' END AS holiday,
    CASE WHEN d BETWEEN make_date(y, 10, 5) AND make_date(y, 10, 23) THEN 'fall intersession'
         WHEN d BETWEEN make_date(y + 1, 3, 22) AND make_date(y + 1, 4, 9) THEN 'spring intersession' END AS intersession,
    nth_dow_on_or_after(make_date(y, 8, 10), 3) AS first_day, nth_dow_on_or_after(make_date(y + 1, 6, 1), 5) AS last_day
  FROM k
)
SELECT NULL::VARCHAR AS school_id, d AS calendar_date,
       CASE WHEN NOT weekend AND holiday IS NULL AND d BETWEEN first_day AND last_day THEN 'Y' ELSE 'N' END AS in_session,
       CASE WHEN d NOT BETWEEN first_day AND last_day THEN 'summer break' ELSE holiday END AS note
FROM h
UNION ALL
SELECT (SELECT max(school_id) FROM schools), d,
       CASE WHEN NOT weekend AND holiday IS NULL AND intersession IS NULL
                 AND d BETWEEN make_date(y, 7, 20) AND make_date(y + 1, 6, 18) THEN 'Y' ELSE 'N' END,
       CASE WHEN d NOT BETWEEN make_date(y, 7, 20) AND make_date(y + 1, 6, 18) THEN 'summer intersession'
            WHEN holiday = 'Thanksgiving break' AND isodow(d) <= 3 THEN NULL
            ELSE coalesce(intersession, holiday) END
FROM h;
-- year-round schools keep Thanksgiving Thursday and Friday only
UPDATE _cal SET in_session = 'Y'
WHERE school_id IS NOT NULL AND note IS NULL AND isodow(calendar_date) <= 5 AND in_session = 'N'
  AND calendar_date BETWEEN make_date(year(calendar_date), 11, 1) AND make_date(year(calendar_date), 11, 30);
CREATE OR REPLACE TABLE school_calendar AS SELECT * FROM _cal;

-- Whole-day absences of referred students on school days since their consent (about 4 %).
CREATE OR REPLACE TABLE student_absences AS
SELECT s.student_id, c.calendar_date AS absence_date
FROM students s JOIN evaluations e USING (student_id)
JOIN school_calendar c ON c.school_id IS NOT DISTINCT FROM
     (CASE WHEN s.school_id = (SELECT max(school_id) FROM schools) THEN s.school_id END)
WHERE s.sped_status = 'referred' AND e.consent_received_date IS NOT NULL AND c.in_session = 'Y'
  AND c.calendar_date > e.consent_received_date AND c.calendar_date <= DATE '{{ as_of }}'
  AND u(hash(s.student_id, c.calendar_date), 'abs') < 0.04;

-- Children referred by Part C: the preschoolers whose third birthday T falls from 200 days
-- before the as-of date to 60 days after it. The referral came 150 days before T, or before
-- their latest initial evaluation's consent when that was earlier (so the evaluation counts);
-- Part C eligibility a year before T, for one in seven only 60 days before (the late referral
-- exemption); one in eleven continued in Part C.
CREATE OR REPLACE TABLE part_c_transitions AS
WITH kids AS (
    SELECT s.student_id, CAST(s.birth_date + INTERVAL 3 YEAR AS DATE) AS t,
           (SELECT min(e.consent_received_date) FROM evaluations e
             WHERE e.student_id = s.student_id AND e.evaluation_type = 'initial') AS consent
    FROM students s
    WHERE s.grade_level = 'ps'
      AND CAST(s.birth_date + INTERVAL 3 YEAR AS DATE) BETWEEN DATE '{{ as_of }}' - 200 AND DATE '{{ as_of }}' + 60
)
SELECT student_id,
       least(t - 150, coalesce(consent, t - 150)) AS referral_received_date,
       CASE WHEN u(hash(student_id), 'pce') < 1 / 7 THEN t - 60 ELSE t - 365 END AS part_c_eligible_date,
       CASE WHEN u(hash(student_id), 'pcc') < 1 / 11 THEN 'Y' ELSE 'N' END AS continued_part_c
FROM kids
WHERE least(t - 150, coalesce(consent, t - 150)) <= t;
