INSERT INTO machizu_sta_aggregated (one, last_id) VALUES (1, ?1)
ON CONFLICT (one) DO UPDATE SET last_id = excluded.last_id
