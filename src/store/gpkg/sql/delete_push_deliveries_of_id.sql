-- The queued deliveries of subscription ?1 (it is gone).
DELETE FROM machizu_push_deliveries WHERE state = 'pending' AND subscription = ?1
