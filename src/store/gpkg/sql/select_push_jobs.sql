-- The deliveries in the JSON array ?1 with their notice and subscription.
SELECT d.id, d.attempts, m.notice, d.message, s.id, s.endpoint, s.p256dh, s.auth, s.places, s.categories, s.lang
FROM machizu_push_deliveries d
JOIN machizu_notice_messages m ON m.id = d.message
JOIN machizu_push_subscriptions s ON s.id = d.subscription
WHERE d.id IN (SELECT value FROM json_each(?1))
ORDER BY d.id
