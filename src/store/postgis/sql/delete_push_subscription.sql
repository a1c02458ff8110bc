-- The subscription with endpoint $1.
DELETE FROM machizu_push_subscriptions WHERE endpoint = $1
