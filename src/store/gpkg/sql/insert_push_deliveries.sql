-- Message ?1 for each subscription in the JSON array ?2, due at ?3 (once per pair). SQLite needs
-- the WHERE to tell the upsert's ON from a join's.
INSERT INTO machizu_push_deliveries (message, subscription, state, next_at)
SELECT ?1, value, 'pending', ?3 FROM json_each(?2) WHERE true
ON CONFLICT (message, subscription) DO NOTHING
