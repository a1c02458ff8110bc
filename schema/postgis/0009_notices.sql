-- Notices to residents (src/store/notices.rs): each notice's current version as a JSON
-- document; every CAP message that went out for it (what later messages reference); and the
-- audit log of every step (create, publish, update, cancel) with the document before and after.
CREATE TABLE IF NOT EXISTS machizu_notices (
  id bigserial PRIMARY KEY,
  version bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('draft', 'published', 'cancelled')),
  ends_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  created_by text NOT NULL,
  doc jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_notices_current ON machizu_notices (status, ends_at);
CREATE TABLE IF NOT EXISTS machizu_notice_messages (
  id bigserial PRIMARY KEY,
  notice bigint NOT NULL REFERENCES machizu_notices (id),
  version bigint NOT NULL,
  msg_type text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
  sent timestamptz NOT NULL,
  fanned_out_at timestamptz               -- when its push deliveries were queued
);
CREATE INDEX IF NOT EXISTS machizu_notice_messages_notice ON machizu_notice_messages (notice);
CREATE TABLE IF NOT EXISTS machizu_notice_audit (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  notice bigint NOT NULL REFERENCES machizu_notices (id),
  version bigint NOT NULL,
  before jsonb,
  after jsonb
);
CREATE INDEX IF NOT EXISTS machizu_notice_audit_notice ON machizu_notice_audit (notice);

-- Web Push (src/store/push.rs): residents' browser subscriptions with their places, categories
-- and language, and nothing else; the delivery queue, a row per (CAP message, subscription).
CREATE TABLE IF NOT EXISTS machizu_push_subscriptions (
  id bigserial PRIMARY KEY,
  endpoint text NOT NULL UNIQUE,
  p256dh text NOT NULL,
  auth text NOT NULL,
  places jsonb NOT NULL,
  categories text NOT NULL,
  lang text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS machizu_push_deliveries (
  id bigserial PRIMARY KEY,
  message bigint NOT NULL REFERENCES machizu_notice_messages (id),
  subscription bigint NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'gone')),
  attempts bigint NOT NULL DEFAULT 0,
  next_at timestamptz NOT NULL,
  last_status bigint,
  UNIQUE (message, subscription)
);
CREATE INDEX IF NOT EXISTS machizu_push_deliveries_due ON machizu_push_deliveries (state, next_at);
