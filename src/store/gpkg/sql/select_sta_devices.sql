-- Every sensor device (?1 NULL), or the one whose credential has the hash ?1.
SELECT id, thing, name, CAST(created_at AS TEXT), CAST(revoked_at AS TEXT)
FROM machizu_sta_devices
WHERE ?1 IS NULL OR device_sha256 = ?1
ORDER BY created_at, id
