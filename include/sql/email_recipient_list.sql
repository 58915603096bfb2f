-- Every recipient of tonight's digests with the schools it covers: coordinators with their
-- address and name; FALLBACK (the configured fallback address) for schools without one.
{% include "email_recipients.sql" %}
SELECT r.recipient, any_value(st.email) AS email,
       trim(coalesce(any_value(st.first_name), '') || ' ' || coalesce(any_value(st.last_name), '')) AS name,
       list(r.school_id ORDER BY r.school_id) AS school_ids,
       list(sc.school_name ORDER BY r.school_id) AS school_names
FROM recipients r
JOIN core.schools sc USING (school_id)
LEFT JOIN core.staff st ON st.staff_id = r.recipient AND r.recipient <> 'FALLBACK'
GROUP BY r.recipient
ORDER BY r.recipient = 'FALLBACK', r.recipient
