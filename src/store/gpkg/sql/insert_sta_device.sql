INSERT INTO machizu_sta_devices (id, thing, name, device_sha256) VALUES (?1, ?2, ?3, ?4)
RETURNING CAST(created_at AS TEXT)
