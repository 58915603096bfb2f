-- Every finding in effect on the ledger's night (the night's, or the last good one): counts only.
SELECT DATE '{{ as_of }}' AS as_of, f.as_of AS ledger_as_of, f.finding_id, f.requirement, f.citation,
       array_to_string(f.scope, ';') AS scope_school_ids, f.issued_date, f.deadline, f.status, f.corrected_on,
       f.days_left, f.instances, f.corrected, f.no_longer_in_jurisdiction, f.not_corrected, f.unmatched,
       f.prong2_count, {{ prong2_records }} AS prong2_required, f.prong2_since, f.prong2_met_on
FROM corrections.ledger_findings f
WHERE f.as_of = {% include "corrections/ledger_night.sql" %}
