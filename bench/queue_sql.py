"""The hand-written queue query the callback queue is measured against: the clinic's open callbacks in the order
doctors work them (escalated first, then severity, then the most overdue), served by ix_callback_queue.

The severity column is a PostgreSQL enum declared from the most to the least severe, so ordering by it is the
queue's severity order."""

QUEUE_PAGE = """
SELECT c.id, c.patient_id, c.rule_code, c.rule_version, c.severity::text AS severity, c.status::text AS status,
       c.opened_at, c.due_at, c.next_attempt_at, c.reason_zh, c.reason_en, c.reading_ids, c.attempts, c.assigned_to,
       c.escalated_at, c.closed_at, c.closed_by, c.outcome, c.close_reason
FROM callback c
WHERE c.clinic_id = :clinic_id AND c.status = 'open'
ORDER BY c.escalated_at IS NULL, c.severity, c.due_at, c.id
LIMIT :limit
"""

QUEUE_COUNT = "SELECT count(*) FROM callback WHERE clinic_id = :clinic_id AND status = 'open'"
