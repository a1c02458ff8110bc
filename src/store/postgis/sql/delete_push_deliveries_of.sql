-- The queued deliveries of the subscription with endpoint $1 (it is being removed).
DELETE FROM machizu_push_deliveries
WHERE state = 'pending' AND subscription IN (SELECT id FROM machizu_push_subscriptions WHERE endpoint = $1)
