-- Message $1 also for every subscription still here that an earlier message of its notice was
-- sent to, due at $2: an update or a cancel reaches whoever was told, even outside a changed area.
INSERT INTO machizu_push_deliveries (message, subscription, state, next_at)
SELECT DISTINCT $1, d.subscription, 'pending', $2::timestamptz
FROM machizu_notice_messages m
JOIN machizu_notice_messages earlier ON earlier.notice = m.notice AND earlier.id <> m.id
JOIN machizu_push_deliveries d ON d.message = earlier.id AND d.state = 'sent'
JOIN machizu_push_subscriptions s ON s.id = d.subscription
WHERE m.id = $1
ON CONFLICT (message, subscription) DO NOTHING
