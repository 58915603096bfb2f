-- Exceptions of each recipient's schools resolved since the recipient's last email
-- (since yesterday for a recipient never emailed).
{% include "digests/recipients.sql" %}
SELECT r.recipient, count(x.rule_id)
FROM recipients r
LEFT JOIN last_sent l USING (recipient)
LEFT JOIN compliance.resolved x ON x.school_id = r.school_id AND x.as_of <= DATE '{{ as_of }}'
     AND x.as_of > coalesce(l.last_as_of, DATE '{{ as_of }}' - 1)
GROUP BY 1
