-- The deliveries in the JSON array $1 with their notice and subscription.
SELECT d.id, d.attempts, m.notice, d.message, s.id, s.endpoint, s.p256dh, s.auth, s.places::text, s.categories, s.lang
FROM machizu_push_deliveries d
JOIN machizu_notice_messages m ON m.id = d.message
JOIN machizu_push_subscriptions s ON s.id = d.subscription
WHERE d.id IN (SELECT s::bigint FROM jsonb_array_elements_text($1::jsonb) AS a(s))
ORDER BY d.id
