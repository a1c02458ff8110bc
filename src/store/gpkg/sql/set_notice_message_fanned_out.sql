-- Message ?1's deliveries are queued (at ?2); false when it was fanned out before.
UPDATE machizu_notice_messages SET fanned_out_at = ?2 WHERE id = ?1 AND fanned_out_at IS NULL
