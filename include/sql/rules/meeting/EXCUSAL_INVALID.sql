-- EXCUSAL_INVALID: no required member excused without a valid written excusal (facts_meetings.sql)
SELECT *, (len(invalid_excusals) > 0) IS NOT TRUE AS passes
FROM {{ meetings }}
