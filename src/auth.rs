//! Who is calling, and what they may see and change: roles, API keys, layer scopes.
//!
//! A request without a key is [`Role::Public`]. Other systems and staff tools send
//! `Authorization: Bearer <key>`; keys are made and revoked with `machizu keys create|list|revoke`
//! and kept in the store only as SHA-256 hashes (a key is 256 random bits, so a fast hash is
//! as safe as a slow one: slow hashes exist for guessable passwords). Each key has a role and,
//! optionally, the layers it is for: outside its scope a key is worth what no key is, never less.
//!
//! | role | sees | may change |
//! |---|---|---|
//! | public | public layers and attributes | nothing |
//! | staff | everything (in scope) | features of layers in scope |
//! | admin | everything (in scope) | features of layers in scope, and read the audit log |

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{Audience, LayerDef};

/// A caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Public,
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Role::Public),
            "staff" => Some(Role::Staff),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored API key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// The public part of the key (`mzk_<id>_…`), used to list and revoke it.
    pub id: String,
    /// What the key is for (a system's or a person's name).
    pub name: String,
    pub role: Role,
    /// The layers the key is for; `None` for all.
    pub layers: Option<Vec<String>>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A freshly made key: the token to hand over once, and the record to store.
pub struct NewKey {
    pub token: String,
    pub hash: String,
    pub key: ApiKey,
}

impl NewKey {
    /// Makes a key with 256 random bits from the operating system's generator.
    pub fn generate(name: &str, role: Role, layers: Option<Vec<String>>) -> Self {
        let mut id = [0u8; 6];
        let mut secret = [0u8; 32];
        let mut rng = rand::rng();
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
        let id = hex::encode(id);
        let token = format!("mzk_{id}_{}", hex::encode(secret));
        let hash = hash_token(&token);
        let key = ApiKey { id, name: name.to_owned(), role, layers, created_at: String::new(), revoked_at: None };
        Self { token, hash, key }
    }
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Who is making a request, as the HTTP layer established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub role: Role,
    /// The key used, if any.
    pub key: Option<ApiKey>,
    /// The staff account signed in to the web map, if the request came with its session cookie.
    pub user: Option<String>,
}

impl Caller {
    /// A caller without a key or a session.
    pub const ANONYMOUS: Caller = Caller { role: Role::Public, key: None, user: None };

    pub fn with_key(key: ApiKey) -> Self {
        Self { role: key.role, key: Some(key), user: None }
    }

    /// A staff account signed in to the web map (all layers).
    pub fn signed_in(user: &crate::users::User) -> Self {
        Self { role: user.role, key: None, user: Some(user.name.clone()) }
    }

    /// Whether the caller showed neither a key nor a session.
    pub fn is_anonymous(&self) -> bool {
        self.key.is_none() && self.user.is_none()
    }

    /// Whether the key's scope covers `layer`.
    fn in_scope(&self, layer: &str) -> bool {
        self.key.as_ref().and_then(|k| k.layers.as_ref()).is_none_or(|ls| ls.iter().any(|l| l == layer))
    }

    /// What the caller sees of `layer`.
    pub fn audience(&self, layer: &LayerDef) -> Audience {
        if self.role >= Role::Staff && self.in_scope(layer.id.as_str()) { Audience::Staff } else { Audience::Public }
    }

    /// What the caller sees of all of `layers` together (staff only if staff for each).
    pub fn audience_for_all<'a>(&self, layers: impl IntoIterator<Item = &'a LayerDef>) -> Audience {
        let staff = layers.into_iter().all(|l| self.audience(l) == Audience::Staff);
        if staff && self.role >= Role::Staff { Audience::Staff } else { Audience::Public }
    }

    /// The most the caller could see of any layer (for lists).
    pub fn widest_audience(&self) -> Audience {
        if self.role >= Role::Staff { Audience::Staff } else { Audience::Public }
    }

    /// Whether the caller may create, change and delete features of `layer`.
    pub fn may_write(&self, layer: &LayerDef) -> bool {
        self.role >= Role::Staff && self.in_scope(layer.id.as_str())
    }

    /// How the audit log names the caller: `key:<id> (<name>)` or `user:<name>`.
    pub fn actor(&self) -> String {
        match (&self.key, &self.user) {
            (Some(k), _) => format!("key:{} ({})", k.id, k.name),
            (None, Some(user)) => format!("user:{user}"),
            (None, None) => "anonymous".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = NewKey::generate("a", Role::Staff, None);
        let b = NewKey::generate("a", Role::Staff, None);
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(&format!("mzk_{}_", a.key.id)));
        assert_eq!(a.token.len(), 4 + 12 + 1 + 64);
        assert_eq!(a.hash, hash_token(&a.token));
        assert_ne!(a.hash, b.hash);
        assert!(!a.hash.contains(&a.token[17..]));
    }

    #[test]
    fn a_scoped_key_is_staff_only_in_scope() {
        let c = Catalog::builtin();
        let (roads, parcels) = (c.get("roads").unwrap(), c.get("parcels").unwrap());
        let mut key = NewKey::generate("plows", Role::Staff, Some(vec!["roads".into()])).key;
        let scoped = Caller::with_key(key.clone());
        assert_eq!(scoped.audience(roads), Audience::Staff);
        assert_eq!(scoped.audience(parcels), Audience::Public);
        assert!(scoped.may_write(roads) && !scoped.may_write(parcels));
        assert_eq!(scoped.audience_for_all([roads, parcels]), Audience::Public);
        key.layers = None;
        key.role = Role::Public;
        let public = Caller::with_key(key);
        assert_eq!(public.audience(roads), Audience::Public);
        assert!(!public.may_write(roads));
        assert!(!Caller::ANONYMOUS.may_write(roads));
    }
}
