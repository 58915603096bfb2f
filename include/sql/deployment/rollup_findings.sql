-- The deployment's findings of noncompliance by district and status (each district's findings
-- ledger of the night, or its last good one; docs/corrections.md), and the deployment's totals.
-- Counts only. Input: night_findings.
WITH levels AS (
    SELECT 'district' AS level, district_id, district_name, status, n FROM night_findings
    UNION ALL
    SELECT 'deployment', NULL, NULL, status, sum(n) FROM night_findings GROUP BY status
)
SELECT DATE '{{ as_of }}' AS as_of, level, district_id, district_name, status, n::BIGINT AS findings
FROM levels
ORDER BY level = 'district', district_id, status
