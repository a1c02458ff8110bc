//! Staff accounts and their sessions in PostGIS (tables in `schema/postgis/0005_users.sql`); the Rust is shared with the other
//! backend ([`crate::users::impl_user_store`]).

use super::PostgisStore;

mod sql {
    pub const DELETE_EXPIRED_SESSIONS: &str = include_str!("sql/delete_expired_sessions.sql");
    pub const DELETE_SESSION: &str = include_str!("sql/delete_session.sql");
    pub const DELETE_SESSIONS_OF: &str = include_str!("sql/delete_sessions_of.sql");
    pub const DISABLE_USER: &str = include_str!("sql/disable_user.sql");
    pub const INSERT_SESSION: &str = include_str!("sql/insert_session.sql");
    pub const INSERT_USER: &str = include_str!("sql/insert_user.sql");
    pub const LOGIN_FAILED: &str = include_str!("sql/login_failed.sql");
    pub const LOGIN_SUCCEEDED: &str = include_str!("sql/login_succeeded.sql");
    pub const SELECT_SESSION: &str = include_str!("sql/select_session.sql");
    pub const SELECT_USERS: &str = include_str!("sql/select_users.sql");
    pub const SET_PASSWORD: &str = include_str!("sql/set_password.sql");
}

crate::users::impl_user_store!(PostgisStore);
