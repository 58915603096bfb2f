-- One row per student: scope and the transition birthday, as of the run's date.
CREATE OR REPLACE TABLE {{ facts }}.students AS
SELECT student_id, school_id, case_manager_staff_id, sped_status, in_regular_education, birth_date,
       enrollment_status = 'active' AS in_scope,
       CAST(birth_date + INTERVAL {{ transition_age }} YEAR AS DATE) AS transition_birthday
FROM {{ src }}.students;
