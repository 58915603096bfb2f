-- The held meetings the ledger reads that a meeting rule with a finding (meeting_rules) judges
-- not compliant (temp.meeting_fails), as the rule does (rule_results.sql). The rules report the
-- reporting window's meetings only; a finding's cases and its prong 2 reach back before the window
-- (a later meeting of last school year may correct a case, or break the rule again), so the rules'
-- own files judge the meetings held before it too (rules/facts_meetings.sql into a temp table):
-- those after the earliest issued date of a meeting-rule finding (prong 2), and every one of a
-- student with a case (prong 1). Nothing of this is reported: it is the ledger's alone.
{%- if meeting_rules %}
{%- set held -%}
m.held_date < DATE '{{ window_start }}'
      AND (m.held_date > (SELECT min(issued_date) FROM temp.findings_in WHERE kind = 'meeting')
           OR m.student_id IN (SELECT i.student_id FROM temp.instances_in i JOIN temp.findings_in f USING (finding_id)
                               WHERE f.kind = 'meeting'))
{%- endset %}
{%- with meetings = "meetings_before" %}
{% include "rules/facts_meetings.sql" %};
{%- endwith %}
{%- endif %}
CREATE OR REPLACE TEMP TABLE meeting_fails AS
SELECT rule_id, meeting_id
FROM {{ facts }}.rule_results
WHERE rule_id IN ({{ meeting_rules | map(attribute="rule_id") | map("literal") | join(", ") or "NULL" }})
  AND status <> 'ok'
{%- for rule in meeting_rules %}{% set s, params, meetings = r[rule.rule_id], rule.params, "meetings_before" %}
UNION ALL
SELECT '{{ rule.rule_id }}', meeting_id
FROM ({% filter indent(4) %}
{% include rule.sql_file %}{% endfilter %}) AS {{ rule.rule_id | lower }}
WHERE passes IS NOT TRUE   -- as rule_results.sql: what does not pass fails
{%- endfor %};
