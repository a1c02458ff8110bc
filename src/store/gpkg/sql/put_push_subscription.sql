-- A subscription by endpoint ?1, added or with new keys and choices: ?2 p256dh, ?3 auth,
-- ?4 places (JSON), ?5 categories, ?6 lang, ?7 now.
INSERT INTO machizu_push_subscriptions (endpoint, p256dh, auth, places, categories, lang, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, places = excluded.places,
  categories = excluded.categories, lang = excluded.lang, updated_at = excluded.updated_at
RETURNING id
