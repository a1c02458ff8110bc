-- Up to $3 pending deliveries due at $1, leased until $2 (another process skips them): their ids.
UPDATE machizu_push_deliveries SET next_at = $2::timestamptz
WHERE id IN (SELECT d.id FROM machizu_push_deliveries d
             WHERE d.state = 'pending' AND d.next_at <= $1::timestamptz ORDER BY d.next_at, d.id LIMIT $3
             FOR UPDATE SKIP LOCKED)
RETURNING id
