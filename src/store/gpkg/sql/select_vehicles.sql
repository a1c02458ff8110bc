SELECT num, id, name, kind, operator, label, public, CAST(created_at AS TEXT), CAST(revoked_at AS TEXT)
FROM machizu_vehicles
WHERE ?1 IS NULL OR device_sha256 = ?1
ORDER BY num
