-- Subscription $1 (its push service said it is gone).
DELETE FROM machizu_push_subscriptions WHERE id = $1
