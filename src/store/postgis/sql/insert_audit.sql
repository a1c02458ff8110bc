INSERT INTO machizu_audit (actor, action, layer, feature_id, before, after)
VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)
