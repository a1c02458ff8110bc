-- Delivery $1's outcome: $2 state, $3 HTTP status, $4 next try (for pending), one more attempt.
UPDATE machizu_push_deliveries
SET state = $2, last_status = $3, next_at = COALESCE($4::timestamptz, next_at), attempts = attempts + 1
WHERE id = $1
