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
  sent timestamptz NOT NULL
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
