-- Staff accounts of the web map (src/users.rs): argon2id password hashes (PHC strings),
-- failed sign-ins and lock-out.
CREATE TABLE IF NOT EXISTS machizu_users (
  name text PRIMARY KEY,
  display_name text NOT NULL,
  role text NOT NULL CHECK (role IN ('staff', 'admin')),
  password_hash text NOT NULL,
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);

-- Signed-in sessions of the web map: the cookie's token only as a SHA-256 hash, and the
-- session's CSRF token that every write must echo.
CREATE TABLE IF NOT EXISTS machizu_sessions (
  token_hash text PRIMARY KEY,
  user_name text NOT NULL REFERENCES machizu_users (name),
  csrf text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_sessions_user ON machizu_sessions (user_name);
