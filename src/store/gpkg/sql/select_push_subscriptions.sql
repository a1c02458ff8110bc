-- Subscriptions with ids above ?1, by id, at most ?2.
SELECT id, endpoint, p256dh, auth, places, categories, lang FROM machizu_push_subscriptions
WHERE id > ?1 ORDER BY id LIMIT ?2
