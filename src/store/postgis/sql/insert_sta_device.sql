INSERT INTO machizu_sta_devices (id, thing, name, device_sha256) VALUES ($1, $2, $3, $4)
RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
