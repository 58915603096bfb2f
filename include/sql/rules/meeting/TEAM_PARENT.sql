-- TEAM_PARENT: a parent attended, or enough documented attempts to involve them (for that meeting)
SELECT *, parent_attended OR contact_attempts >= {{ s.parent_contact_attempts_min }} AS passes
FROM {{ meetings }}
