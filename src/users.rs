//! Staff accounts of the web map and their sessions: user names, roles, passwords hashed with
//! argon2id (PHC strings, the crate's default parameters: 19 MiB, 2 passes), lock-out after
//! [`MAX_FAILED`] failed sign-ins in a row for [`LOCKOUT_MINUTES`], and sessions of
//! [`SESSION_HOURS`].
//!
//! Accounts are managed with `machizu users add|list|disable|passwd`. A sign-in ([`sign_in`])
//! starts a session ([`start_session`]): a 256-bit cookie token, kept in the store only as a
//! SHA-256 hash (like API keys), and a CSRF token that every write made with the cookie must
//! echo in `X-CSRF-Token`. A new password or a disabled account ends every session of it.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use async_trait::async_trait;
use serde::Serialize;

use crate::auth::Role;
use crate::store::StoreError;

/// Failed sign-ins in a row that lock an account.
pub const MAX_FAILED: i64 = 5;
/// How long a lock-out lasts.
pub const LOCKOUT_MINUTES: i64 = 15;
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// How long a session lasts after sign-in (a working day and a night shift's overlap).
pub const SESSION_HOURS: i64 = 12;

/// A staff account, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// What the person types to sign in.
    pub name: String,
    pub display_name: String,
    /// Staff or admin.
    pub role: Role,
    pub failed_logins: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

/// A live session: who, and the CSRF token their writes must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    pub csrf: String,
}

/// A session just started: the cookie token (handed to the browser once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Why an account cannot be made or changed as asked.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user name {0:?}: use 1–64 lowercase letters, digits, '.', '-' or '_'")]
    BadName(String),
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    ShortPassword,
    #[error("staff accounts are staff or admin, not public")]
    PublicRole,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a sign-in failed. The message never tells an unknown name from a wrong password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("wrong user name or password")]
    Wrong,
    #[error("too many failed sign-ins: the account is locked until {0}")]
    Locked(String),
    #[error("the account is disabled")]
    Disabled,
}

/// An argon2id hash of a password, checking its length first.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::ShortPassword);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| UserError::Hash(e.to_string()))
}

/// Whether `password` matches a stored hash (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Checks a user name.
pub fn check_name(name: &str) -> Result<(), UserError> {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok) {
        return Err(UserError::BadName(name.to_owned()));
    }
    Ok(())
}

/// Where staff accounts are kept (both stores implement it; SQL in their `sql/`).
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Adds an account with a password hash.
    async fn add_user(&self, name: &str, display_name: &str, role: Role, hash: &str) -> Result<(), StoreError>;
    /// Every account, disabled ones too, by name.
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    /// An account and its password hash.
    async fn user(&self, name: &str) -> Result<Option<(User, String)>, StoreError>;
    /// Sets a new password hash (and lifts a lock-out); false if there is no such account.
    async fn set_password(&self, name: &str, hash: &str) -> Result<bool, StoreError>;
    /// Disables an account; false if there is none or it was disabled before.
    async fn disable_user(&self, name: &str) -> Result<bool, StoreError>;
    /// Counts a failed sign-in; the `max`th in a row locks the account until `until`.
    async fn login_failed(&self, name: &str, max: i64, until: &str) -> Result<(), StoreError>;
    /// Resets the failed sign-ins after a good one.
    async fn login_succeeded(&self, name: &str) -> Result<(), StoreError>;
    /// Stores a session (by its token's hash) and drops the sessions expired by `now`.
    async fn add_session(
        &self,
        token_hash: &str,
        user: &str,
        csrf: &str,
        expires_at: &str,
        now: &str,
    ) -> Result<(), StoreError>;
    /// The session with this token hash, if it has not expired by `now` and its account is not
    /// disabled.
    async fn session(&self, token_hash: &str, now: &str) -> Result<Option<Session>, StoreError>;
    /// Ends a session (sign-out).
    async fn end_session(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// A row of `select_users.sql`.
pub(crate) type UserRow = (String, String, String, String, i64, Option<String>, String, Option<String>);

/// A row of `select_session.sql`: the account's columns, then the CSRF token.
pub(crate) type SessionRow = (String, String, String, String, i64, Option<String>, String, Option<String>, String);

pub(crate) fn session_row((a, b, c, d, e, f, g, h, csrf): SessionRow) -> Result<Session, StoreError> {
    Ok(Session { user: user_row((a, b, c, d, e, f, g, h))?.0, csrf })
}

pub(crate) fn user_row(
    (name, display_name, role, hash, failed_logins, locked_until, created_at, disabled_at): UserRow,
) -> Result<(User, String), StoreError> {
    use crate::store::normal_time;
    let role = Role::parse(&role).ok_or_else(|| StoreError::Schema {
        layer: "machizu_users".into(),
        message: format!("unknown role {role:?}"),
    })?;
    let user = User {
        name,
        display_name,
        role,
        failed_logins,
        locked_until: locked_until.map(normal_time),
        created_at: normal_time(created_at),
        disabled_at: disabled_at.map(normal_time),
    };
    Ok((user, hash))
}

/// Checks a sign-in: a disabled or locked account is refused whatever the password; a wrong
/// password counts towards the lock-out. The password is verified even for an unknown name
/// (against a fixed hash), so that timing does not tell which names exist.
pub async fn sign_in(store: &dyn UserStore, name: &str, password: &str) -> Result<User, SignInError> {
    use std::sync::OnceLock;
    static DECOY: OnceLock<String> = OnceLock::new();
    let now = chrono::Utc::now();
    let found = store.user(name).await.ok().flatten();
    let Some((user, hash)) = found else {
        let decoy = DECOY.get_or_init(|| hash_password("decoy password, never matches").expect("hashes"));
        verify_password(password, decoy);
        return Err(SignInError::Wrong);
    };
    if let Some(until) = &user.locked_until
        && chrono::DateTime::parse_from_rfc3339(until).is_ok_and(|t| t > now)
    {
        return Err(SignInError::Locked(until.clone()));
    }
    if user.disabled_at.is_some() {
        // Said only to whom knows the password: others learn nothing of the account.
        return Err(if verify_password(password, &hash) { SignInError::Disabled } else { SignInError::Wrong });
    }
    if verify_password(password, &hash) {
        let _ = store.login_succeeded(name).await;
        Ok(user)
    } else {
        let until = crate::store::iso(now + chrono::Duration::minutes(LOCKOUT_MINUTES));
        let _ = store.login_failed(name, MAX_FAILED, &until).await;
        Err(SignInError::Wrong)
    }
}

/// Starts a session for `user` (after [`sign_in`]).
pub async fn start_session(store: &dyn UserStore, user: &User) -> Result<NewSession, StoreError> {
    use crate::store::iso;
    let now = chrono::Utc::now();
    let session = NewSession {
        token: random_hex(),
        csrf: random_hex(),
        expires_at: now + chrono::Duration::hours(SESSION_HOURS),
    };
    let hash = crate::auth::hash_token(&session.token);
    store.add_session(&hash, &user.name, &session.csrf, &iso(session.expires_at), &iso(now)).await?;
    Ok(session)
}

/// The live session of a cookie token, if any.
pub async fn session(store: &dyn UserStore, token: &str) -> Result<Option<Session>, StoreError> {
    store.session(&crate::auth::hash_token(token), &crate::store::iso(chrono::Utc::now())).await
}

/// 256 random bits from the operating system's generator, as hex.
fn random_hex() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Implements [`UserStore`] for a backend with a `pool` field and a module `sql` of constants
/// (`INSERT_USER`, `SELECT_USERS`, …), as [`crate::store::fleet::impl_fleet_store`] does.
macro_rules! impl_user_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::users::UserStore for $store {
            async fn add_user(
                &self,
                name: &str,
                display_name: &str,
                role: $crate::auth::Role,
                hash: &str,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(sql::INSERT_USER)
                    .bind(name)
                    .bind(display_name)
                    .bind(role.as_str())
                    .bind(hash)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db(format!("adding user {name}")))?;
                Ok(())
            }

            async fn users(&self) -> Result<Vec<$crate::users::User>, $crate::store::StoreError> {
                let rows: Vec<$crate::users::UserRow> = sqlx::query_as(sql::SELECT_USERS)
                    .bind(None::<String>)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("reading users"))?;
                rows.into_iter().map(|r| $crate::users::user_row(r).map(|(u, _)| u)).collect()
            }

            async fn user(
                &self,
                name: &str,
            ) -> Result<Option<($crate::users::User, String)>, $crate::store::StoreError> {
                let row: Option<$crate::users::UserRow> = sqlx::query_as(sql::SELECT_USERS)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("looking up a user"))?;
                row.map($crate::users::user_row).transpose()
            }

            async fn set_password(&self, name: &str, hash: &str) -> Result<bool, $crate::store::StoreError> {
                let what = format!("setting the password of {name}");
                let error = |e| $crate::store::StoreError::db(what.clone())(e);
                let mut tx = self.pool.begin().await.map_err(error)?;
                let done =
                    sqlx::query(sql::SET_PASSWORD).bind(name).bind(hash).execute(&mut *tx).await.map_err(error)?;
                sqlx::query(sql::DELETE_SESSIONS_OF).bind(name).execute(&mut *tx).await.map_err(error)?;
                tx.commit().await.map_err(error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn disable_user(&self, name: &str) -> Result<bool, $crate::store::StoreError> {
                let what = format!("disabling {name}");
                let error = |e| $crate::store::StoreError::db(what.clone())(e);
                let mut tx = self.pool.begin().await.map_err(error)?;
                let done = sqlx::query(sql::DISABLE_USER).bind(name).execute(&mut *tx).await.map_err(error)?;
                sqlx::query(sql::DELETE_SESSIONS_OF).bind(name).execute(&mut *tx).await.map_err(error)?;
                tx.commit().await.map_err(error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn login_failed(&self, name: &str, max: i64, until: &str) -> Result<(), $crate::store::StoreError> {
                sqlx::query(sql::LOGIN_FAILED)
                    .bind(name)
                    .bind(max)
                    .bind(until)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("counting a failed sign-in"))?;
                Ok(())
            }

            async fn login_succeeded(&self, name: &str) -> Result<(), $crate::store::StoreError> {
                sqlx::query(sql::LOGIN_SUCCEEDED)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("recording a sign-in"))?;
                Ok(())
            }

            async fn add_session(
                &self,
                token_hash: &str,
                user: &str,
                csrf: &str,
                expires_at: &str,
                now: &str,
            ) -> Result<(), $crate::store::StoreError> {
                let what = format!("starting a session of {user}");
                let error = |e| $crate::store::StoreError::db(what.clone())(e);
                let mut tx = self.pool.begin().await.map_err(error)?;
                sqlx::query(sql::DELETE_EXPIRED_SESSIONS).bind(now).execute(&mut *tx).await.map_err(error)?;
                sqlx::query(sql::INSERT_SESSION)
                    .bind(token_hash)
                    .bind(user)
                    .bind(csrf)
                    .bind(expires_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(error)?;
                tx.commit().await.map_err(error)
            }

            async fn session(
                &self,
                token_hash: &str,
                now: &str,
            ) -> Result<Option<$crate::users::Session>, $crate::store::StoreError> {
                let row: Option<$crate::users::SessionRow> = sqlx::query_as(sql::SELECT_SESSION)
                    .bind(token_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("looking up a session"))?;
                row.map($crate::users::session_row).transpose()
            }

            async fn end_session(&self, token_hash: &str) -> Result<(), $crate::store::StoreError> {
                sqlx::query(sql::DELETE_SESSION)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::db("ending a session"))?;
                Ok(())
            }
        }
    };
}
pub(crate) use impl_user_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_and_checked() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
        assert!(matches!(hash_password("short"), Err(UserError::ShortPassword)));
        assert!(check_name("tanaka.h").is_ok());
        assert!(matches!(check_name("Tanaka H"), Err(UserError::BadName(_))));
    }
}
