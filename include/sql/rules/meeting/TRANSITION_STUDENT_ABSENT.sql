-- TRANSITION_STUDENT_ABSENT: the student attended their transition meeting
SELECT *, student_attended AS passes
FROM {{ meetings }} WHERE transition
