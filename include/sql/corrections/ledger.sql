-- The ledger of every night the ledger ran from DATE '{{ since }}' on, rebuilt from the checks of
-- that night and every earlier one (checks.sql), so that a re-run or a backfilled night leaves
-- the later nights as an in-order run would have.
-- An instance corrected on a night stays corrected with that night's evidence (the first).
DELETE FROM corrections.ledger_instances WHERE as_of >= DATE '{{ since }}';
INSERT INTO corrections.ledger_instances
WITH c AS (
    SELECT *, min(CASE WHEN status = 'corrected' THEN as_of END)
                  OVER (PARTITION BY finding_id, student_id, meeting_key, due_date ORDER BY as_of) AS fixed_on
    FROM corrections.instance_checks
)
SELECT c.as_of, c.finding_id, c.student_id, c.meeting_key, c.due_date, c.school_id,
       CASE WHEN c.fixed_on IS NOT NULL THEN 'corrected' ELSE c.status END,
       fx.corrected_on, fx.as_of, fx.export_id, fx.event_date, fx.evidence_meeting_id
FROM c
LEFT JOIN corrections.instance_checks fx
       ON fx.as_of = c.fixed_on AND fx.finding_id = c.finding_id AND fx.student_id = c.student_id
      AND fx.meeting_key = c.meeting_key AND fx.due_date IS NOT DISTINCT FROM c.due_date
WHERE c.as_of >= DATE '{{ since }}';

-- A finding: prong 2 met from the first night it held (a later noncompliant record does not undo
-- it); corrected on the first night every instance is corrected or no longer in the district's
-- jurisdiction with prong 2 met (then frozen); overdue after its deadline (issued + 1 year).
DELETE FROM corrections.ledger_findings WHERE as_of >= DATE '{{ since }}';
INSERT INTO corrections.ledger_findings
WITH inst AS (
    SELECT as_of, finding_id, count(*) AS instances, count_if(status = 'corrected') AS corrected,
           count_if(status = 'no_longer_in_jurisdiction') AS gone, count_if(status = 'not_corrected') AS open_cases,
           count_if(status = 'unmatched') AS unmatched
    FROM corrections.ledger_instances GROUP BY ALL
),
p2 AS (
    SELECT *, min(CASE WHEN met THEN as_of END) OVER (PARTITION BY finding_id ORDER BY as_of) AS met_on
    FROM corrections.prong2_checks
),
nightly AS (
    SELECT f.*, coalesce(i.instances, 0) AS instances, coalesce(i.corrected, 0) AS corrected,
           coalesce(i.gone, 0) AS gone, coalesce(i.open_cases, 0) AS open_cases, coalesce(i.unmatched, 0) AS unmatched,
           p.since, p.compliant_after, p.met_on,
           coalesce(i.corrected, 0) + coalesce(i.gone, 0) = coalesce(i.instances, 0) AND p.met_on IS NOT NULL AS holds
    FROM corrections.findings f
    LEFT JOIN inst i USING (as_of, finding_id)
    LEFT JOIN p2 p USING (as_of, finding_id)
),
judged AS (
    SELECT *, min(CASE WHEN holds THEN as_of END) OVER (PARTITION BY finding_id ORDER BY as_of) AS corrected_on,
           CAST(issued_date + INTERVAL 1 YEAR AS DATE) AS deadline
    FROM nightly
)
SELECT j.as_of, j.finding_id, j.issued_date, j.requirement, j.citation, j.scope, j.deadline,
       CASE WHEN j.corrected_on IS NOT NULL THEN 'corrected' WHEN j.as_of > j.deadline THEN 'overdue'
            ELSE 'open' END AS status,
       j.corrected_on,
       CASE WHEN j.corrected_on IS NULL AND j.as_of <= j.deadline THEN j.deadline - j.as_of END AS days_left,
       j.instances, j.corrected, j.gone, j.open_cases, j.unmatched,
       coalesce(CASE WHEN j.met_on IS NOT NULL THEN m.compliant_after END, j.compliant_after, 0) AS prong2_count,
       coalesce(CASE WHEN j.met_on IS NOT NULL THEN m.since END, j.since, j.issued_date) AS prong2_since,
       j.met_on
FROM judged j
LEFT JOIN corrections.prong2_checks m ON m.as_of = j.met_on AND m.finding_id = j.finding_id
WHERE j.as_of >= DATE '{{ since }}';

-- Prong 2's records of each night: the evidence (the records of the night it was first met), or
-- the progress so far (tonight's first compliant records after the latest noncompliant one).
DELETE FROM corrections.ledger_review WHERE as_of >= DATE '{{ since }}';
INSERT INTO corrections.ledger_review
SELECT f.as_of, r.finding_id, r.seq, r.student_id, r.meeting_key, r.record_date, r.school_id,
       f.prong2_met_on IS NOT NULL AS evidence
FROM corrections.ledger_findings f
JOIN corrections.review_checks r ON r.finding_id = f.finding_id AND r.as_of = coalesce(f.prong2_met_on, f.as_of)
WHERE f.as_of >= DATE '{{ since }}';
