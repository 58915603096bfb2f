-- TRANSITION_STUDENT_ABSENT: the student attended their transition meeting
SELECT *, student_attended AS passes
FROM {{ facts }}.meetings WHERE transition
