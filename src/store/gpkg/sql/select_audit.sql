SELECT id, CAST(at AS TEXT), actor, action, layer, feature_id, before, after
FROM machizu_audit
WHERE (?1 IS NULL OR layer = ?1) AND (?2 IS NULL OR feature_id = ?2)
ORDER BY id DESC
LIMIT ?3
