-- NOTICE_CONTENT: the latest notice states purpose, time, location and attendees
SELECT *, states_purpose = 'Y' AND states_time = 'Y' AND states_location = 'Y' AND states_attendees = 'Y' AS passes
FROM {{ meetings }} WHERE notices > 0
