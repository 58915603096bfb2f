{#- What the digests' SQL makes safe for a mail (rows.sql, resolved.sql): imported with context
    (unsafe: the characters to replace; names: email_student_names; titles: the rules' titles). -#}
{%- macro plain(x, most) -%}   {#- digest.plain: control characters and direction overrides become '?' (one
                                  for one, so the length is the raw value's); cut to ``most`` characters #}
CASE WHEN length(coalesce({{ x }}, '')) <= {{ most }} THEN regexp_replace(coalesce({{ x }}, ''), {{ unsafe }}, '?', 'g')
     ELSE left(regexp_replace({{ x }}, {{ unsafe }}, '?', 'g'), {{ most - 1 }}) || '…' END
{%- endmacro %}
{%- macro initials(first, last) -%}
coalesce(upper(left(nullif(trim({{ plain(first, 80) }}), ''), 1)) || '.', '')
           || coalesce(upper(left(nullif(trim({{ plain(last, 80) }}), ''), 1)) || '.', '')
{%- endmacro %}
{%- macro student_name(first, last) -%}
{%- if names == "full" -%}
concat_ws(' ', nullif({{ plain(first, 80) }}, ''), nullif({{ plain(last, 80) }}, ''))
{%- else -%}
{{ initials(first, last) }}
{%- endif -%}
{%- endmacro %}
{%- macro rule_title(column) -%}
CASE {{ column }} {% for id, title in titles.items() %}WHEN {{ literal(id) }} THEN {{ literal(title) }} {% endfor %}END
{%- endmacro %}
