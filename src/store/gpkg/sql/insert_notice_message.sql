-- A CAP message of notice ?1 (at version ?2): ?3 msg_type, ?4 sent.
INSERT INTO machizu_notice_messages (notice, version, msg_type, sent) VALUES (?1, ?2, ?3, ?4)
