-- CAP messages whose push deliveries are not queued yet, oldest first.
SELECT id, notice FROM machizu_notice_messages WHERE fanned_out_at IS NULL ORDER BY id
