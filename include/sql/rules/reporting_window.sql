{#- The reporting window (docs/rules.md): from the start of the school year on or before the night
    (window_start) through the night (as_of). Imported `with context` by the templates that need it.
    A meeting is checked, and a closed timeline cycle judged, only when its date falls in it. -#}
{%- macro in_window(column) -%}
{{ column }} BETWEEN DATE '{{ window_start }}' AND DATE '{{ as_of }}'
{%- endmacro %}
{#- A timeline cycle is reported when it is open, or closed with its event in the window. -#}
{%- macro cycle_reported(event) -%}
({{ event }} IS NULL OR {{ in_window(event) }})
{%- endmacro %}
