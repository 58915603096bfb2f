-- Prong 2's records of each finding, from the ledger of the night (or the last good one).
SELECT DATE '{{ as_of }}' AS as_of, r.as_of AS ledger_as_of, r.finding_id, r.seq, r.record_date, r.student_id,
       nullif(r.meeting_key, '') AS meeting_id, r.school_id, CASE WHEN r.evidence THEN 'Y' ELSE 'N' END AS evidence
FROM corrections.ledger_review r
WHERE r.as_of = {% include "corrections/ledger_night.sql" %}
