-- A step in notice ?4's life: ?1 at, ?2 actor, ?3 action, ?5 version, ?6 before, ?7 after (JSON).
INSERT INTO machizu_notice_audit (at, actor, action, notice, version, before, after)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
