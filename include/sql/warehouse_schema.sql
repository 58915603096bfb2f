-- The warehouse's own tables, every one defined here once. Every writing connection creates what
-- is missing (warehouse.connect); the night's data (the load slots, the core and staging views,
-- facts.*, reporting.*) is made by the step that fills it, from the export contract or its SQL.
{% for schema in schemas %}
CREATE SCHEMA IF NOT EXISTS {{ schema }};
{%- endfor %}

-- ops: the load slots and what each publication held (load.py)
CREATE TABLE IF NOT EXISTS ops.slots (
    slot VARCHAR PRIMARY KEY, as_of DATE, export_id VARCHAR, published BOOLEAN);
CREATE TABLE IF NOT EXISTS ops.published (
    as_of DATE, export_id VARCHAR, table_name VARCHAR, rows BIGINT);

-- quarantine: the rows the gate set aside, by slot and line (ingest/gate.py)
CREATE TABLE IF NOT EXISTS quarantine.rows (
    slot VARCHAR, as_of DATE, table_name VARCHAR, line BIGINT, reason VARCHAR, expectation VARCHAR);

-- ops: what Great Expectations found for each expectation of a night (quality/gx.py)
CREATE TABLE IF NOT EXISTS ops.quality_results (
    as_of DATE, kind VARCHAR, suite VARCHAR, expectation VARCHAR, column_name VARCHAR,
    description VARCHAR, success BOOLEAN, unexpected_count BIGINT);

-- ops: the send log of the digests, and the lines each listed (digests/; the view
-- ops.email_items, the lines of the digests sent, is made by digest.ensure_send_log)
CREATE TABLE IF NOT EXISTS ops.email_sends (
    as_of DATE, staff_id VARCHAR, digest VARCHAR, message_id VARCHAR, PRIMARY KEY (as_of, staff_id));
CREATE TABLE IF NOT EXISTS ops.digest_lines (
    recipient VARCHAR, rule_id VARCHAR, student_id VARCHAR, meeting_key VARCHAR, status VARCHAR, as_of DATE);
-- ops: nights published again from a replaced export after their digests went out (tasks.publish_night);
-- the next digest of each recipient says what changed against the digest it had (digests/corrected.sql)
CREATE TABLE IF NOT EXISTS ops.republished (
    as_of DATE, export_before VARCHAR, export_after VARCHAR, digests BIGINT);

-- compliance: the nights' exceptions, what each night resolved, every evaluated night
-- (exceptions.sql, exceptions_history.sql)
CREATE TABLE IF NOT EXISTS compliance.exceptions (
    as_of DATE, rule_id VARCHAR, status VARCHAR, severity VARCHAR, student_id VARCHAR, meeting_id VARCHAR,
    school_id VARCHAR, case_manager_staff_id VARCHAR, due_date DATE, event_date DATE, days_overdue INTEGER,
    detail VARCHAR, first_detected_on DATE);
CREATE TABLE IF NOT EXISTS compliance.resolved (
    as_of DATE, rule_id VARCHAR, student_id VARCHAR, meeting_id VARCHAR, school_id VARCHAR,
    last_status VARCHAR, first_detected_on DATE);
CREATE TABLE IF NOT EXISTS compliance.nights (as_of DATE PRIMARY KEY);

-- corrections: the findings ledger (corrections/ledger.py; docs/corrections.md). Each night the
-- ledger runs it keeps the findings folder as read (findings), its own checks of every instance
-- (instance_checks) and of prong 2 (prong2_checks, review_checks: the first prong2_records
-- compliant records after the latest noncompliant one); the ledger of each night is rebuilt from
-- those of it and every earlier night (ledger_*), so a re-run or a backfill gives what an
-- in-order run gives.
CREATE TABLE IF NOT EXISTS corrections.nights (as_of DATE PRIMARY KEY, export_id VARCHAR);
CREATE TABLE IF NOT EXISTS corrections.findings (
    as_of DATE, finding_id VARCHAR, issued_date DATE, requirement VARCHAR, kind VARCHAR, citation VARCHAR,
    scope VARCHAR[], note VARCHAR);
CREATE TABLE IF NOT EXISTS corrections.instance_checks (
    as_of DATE, finding_id VARCHAR, student_id VARCHAR, meeting_key VARCHAR, due_date DATE, school_id VARCHAR,
    status VARCHAR, corrected_on DATE, event_date DATE, evidence_meeting_id VARCHAR, export_id VARCHAR);
CREATE TABLE IF NOT EXISTS corrections.prong2_checks (
    as_of DATE, finding_id VARCHAR, since DATE, compliant_after BIGINT, met BOOLEAN);
CREATE TABLE IF NOT EXISTS corrections.review_checks (
    as_of DATE, finding_id VARCHAR, seq BIGINT, student_id VARCHAR, meeting_key VARCHAR, record_date DATE,
    school_id VARCHAR);
CREATE TABLE IF NOT EXISTS corrections.ledger_findings (
    as_of DATE, finding_id VARCHAR, issued_date DATE, requirement VARCHAR, citation VARCHAR, scope VARCHAR[],
    deadline DATE, status VARCHAR, corrected_on DATE, days_left INTEGER, instances BIGINT, corrected BIGINT,
    no_longer_in_jurisdiction BIGINT, not_corrected BIGINT, unmatched BIGINT, prong2_count BIGINT,
    prong2_since DATE, prong2_met_on DATE);
CREATE TABLE IF NOT EXISTS corrections.ledger_instances (
    as_of DATE, finding_id VARCHAR, student_id VARCHAR, meeting_key VARCHAR, due_date DATE, school_id VARCHAR,
    status VARCHAR, corrected_on DATE, evidence_as_of DATE, evidence_export_id VARCHAR, evidence_event_date DATE,
    evidence_meeting_id VARCHAR);
CREATE TABLE IF NOT EXISTS corrections.ledger_review (
    as_of DATE, finding_id VARCHAR, seq BIGINT, student_id VARCHAR, meeting_key VARCHAR, record_date DATE,
    school_id VARCHAR, evidence BOOLEAN);
