-- TRANSITION_NOTICE: a transition meeting's notice states the transition purpose and invites the student
SELECT *, states_transition_purpose = 'Y' AND invites_student = 'Y' AS passes
FROM {{ meetings }} WHERE transition AND notices > 0
