-- NOTICE_LEAD_TIME: the earliest notice early enough, or the parent waived the notice period on it
SELECT *, held_date - earliest_sent >= {{ s.notice_lead_days }} OR earliest_waived AS passes
FROM {{ meetings }} WHERE notices > 0
