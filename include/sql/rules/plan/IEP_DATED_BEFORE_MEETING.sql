-- IEP_DATED_BEFORE_MEETING: an active or superseded IEP begins on or after its meeting
SELECT m.student_id, m.meeting_id, m.held_date AS event_date, i.iep_id AS item_id,
       (i.begin_date < m.held_date) IS NOT TRUE AS passes, i.iep_id, i.begin_date
FROM {{ src }}.ieps i JOIN {{ facts }}.meetings m USING (meeting_id)
WHERE i.status IN ('active', 'superseded')
