-- Each instance of the findings in effect, from the ledger of the night (or of the last night
-- the findings folder was good): docs/corrections.md.
SELECT DATE '{{ as_of }}' AS as_of, i.as_of AS ledger_as_of, i.finding_id, f.requirement, f.citation, f.issued_date,
       f.deadline, i.student_id, i.school_id, nullif(i.meeting_key, '') AS meeting_id, i.due_date, i.status,
       i.corrected_on, i.evidence_as_of, i.evidence_export_id, i.evidence_event_date, i.evidence_meeting_id
FROM corrections.ledger_instances i
JOIN corrections.ledger_findings f USING (as_of, finding_id)
WHERE i.as_of = {% include "corrections/ledger_night.sql" %}
