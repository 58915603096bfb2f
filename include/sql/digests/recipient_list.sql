-- Every recipient of tonight's digests with the schools it covers: coordinators with their
-- address and name; FALLBACK (the configured fallback address) for schools without one;
-- last_as_of: the night of its last email before tonight (none: tonight is its first report).
{% include "digests/recipients.sql" %}
SELECT r.recipient, any_value(st.email) AS email,
       trim(coalesce(any_value(st.first_name), '') || ' ' || coalesce(any_value(st.last_name), '')) AS name,
       list(r.school_id ORDER BY r.school_id) AS school_ids,
       list(sc.school_name ORDER BY r.school_id) AS school_names,
       any_value(l.last_as_of) AS last_as_of
FROM recipients r
JOIN core.schools sc USING (school_id)
LEFT JOIN last_sent l USING (recipient)
LEFT JOIN core.staff st ON st.staff_id = r.recipient AND r.recipient <> 'FALLBACK'
GROUP BY r.recipient
ORDER BY r.recipient = 'FALLBACK', r.recipient
