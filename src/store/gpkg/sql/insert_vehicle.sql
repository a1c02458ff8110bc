INSERT INTO machizu_vehicles (id, name, kind, operator, label, public, device_sha256)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
RETURNING num, CAST(created_at AS TEXT)
