INSERT INTO machizu_users (name, display_name, role, password_hash) VALUES (?1, ?2, ?3, ?4)
