-- The deployment's indicator percents: each district's B11 and B13 (the district row of its
-- published extract), and the deployment's, computed from the summed numerators and
-- denominators (never an average of percents). Input: night_indicators.
WITH levels AS (
    SELECT 'district' AS level, district_id, district_name, indicator, numerator, denominator
    FROM night_indicators
    UNION ALL
    SELECT 'deployment', NULL, NULL, indicator, sum(numerator), sum(denominator)
    FROM night_indicators
    GROUP BY indicator
)
SELECT DATE '{{ as_of }}' AS as_of, level, district_id, district_name, indicator,
       numerator::BIGINT AS numerator, denominator::BIGINT AS denominator,
       CASE WHEN denominator > 0 THEN round(100.0 * numerator / denominator, 1) END AS percent
FROM levels
ORDER BY indicator, level = 'district', district_id
