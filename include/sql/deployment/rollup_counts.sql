-- The deployment's roll-up (counts only): every district's exceptions of the night, by district,
-- school, rule and status. Input: night_counts, one row per district, school, rule and status,
-- read from each district's runs/<as-of>/summary.json.
SELECT DATE '{{ as_of }}' AS as_of, district_id, district_name, school_id, school_name, rule_id, status,
       sum(n)::BIGINT AS n
FROM night_counts
GROUP BY ALL
ORDER BY district_id, school_id, rule_id, status
