-- TEAM_<role> (one file for the four required members of 300.321(a)(2)-(5)): the role is covered
-- (attended, or validly excused), or its excusal is invalid (then EXCUSAL_INVALID says so, not this
-- rule); the general-education teacher only when the student is in regular education
SELECT *, {{ params.role }}_covered OR {{ params.role }}_invalid AS passes
FROM {{ meetings }} {% if params.role == 'general_education_teacher' %}WHERE in_regular_education <> 'N'{% endif %}
