-- One more failed sign-in; at ?2 in a row the account locks until ?3 (and the count restarts).
UPDATE machizu_users
SET locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END,
    failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 ELSE failed_logins + 1 END
WHERE name = ?1
