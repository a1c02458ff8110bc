-- Notice ?1's audit log, oldest first.
SELECT at, actor, action, version, before, after FROM machizu_notice_audit WHERE notice = ?1 ORDER BY id
