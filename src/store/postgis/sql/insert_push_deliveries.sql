-- Message $1 for each subscription in the JSON array $2, due at $3 (once per pair).
INSERT INTO machizu_push_deliveries (message, subscription, state, next_at)
SELECT $1, s::bigint, 'pending', $3::timestamptz FROM jsonb_array_elements_text($2::jsonb) AS a(s)
ON CONFLICT (message, subscription) DO NOTHING
