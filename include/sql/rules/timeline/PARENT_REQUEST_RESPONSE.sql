-- PARENT_REQUEST_RESPONSE: written request Q, due Q + N, event = the first held meeting on or after Q
SELECT q.student_id, q.request_id AS item_id, NULL AS meeting_id, q.received_date AS start_date,
       'request' AS start_kind, q.received_date + {{ s.parent_request_days }} AS due_date,
       (SELECT min(h.held_date) FROM held h WHERE h.student_id = q.student_id AND h.held_date >= q.received_date)
         AS event_date,
       NULL AS exempt_reason
FROM {{ src }}.parent_requests q WHERE q.in_writing = 'Y'
