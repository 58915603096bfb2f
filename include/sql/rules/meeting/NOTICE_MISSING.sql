-- NOTICE_MISSING: a notice sent on or before the meeting
SELECT *, notices > 0 AS passes
FROM {{ meetings }}
