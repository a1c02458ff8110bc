//! The vehicle registry's records: which vehicles may report, what the public may know of
//! them, and their device credentials.
//!
//! A device credential is what a stock tracker sends as its `id` (OsmAnd, Traccar Client) or
//! as the last part of its MQTT topic (OwnTracks): 160 random bits as 40 hex digits, shown once
//! when the vehicle is added and kept only as a SHA-256 hash (like API keys, [`crate::auth`]).

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::auth::hash_token;

/// What a vehicle does (it decides whether its runs count as plowing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VehicleKind {
    /// A plow (除雪ドーザ, グレーダ, 除雪トラック).
    Plow,
    /// A rotary snow blower (ロータリ除雪車).
    Blower,
    /// An anti-icing spreader (凍結防止剤散布車): does not plow.
    Spreader,
    /// A patrol car (パトロール車): does not plow.
    Patrol,
}

impl VehicleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plow => "plow",
            Self::Blower => "blower",
            Self::Spreader => "spreader",
            Self::Patrol => "patrol",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Plow, Self::Blower, Self::Spreader, Self::Patrol].into_iter().find(|k| k.as_str() == s)
    }

    /// Whether driving a road with this vehicle clears it.
    pub fn plows(self) -> bool {
        matches!(self, Self::Plow | Self::Blower)
    }

    /// The name shown to residents.
    pub fn title_ja(self) -> &'static str {
        match self {
            Self::Plow => "除雪車",
            Self::Blower => "ロータリ除雪車",
            Self::Spreader => "凍結防止剤散布車",
            Self::Patrol => "パトロール車",
        }
    }
}

/// A registered vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Vehicle {
    /// Its feature id in the snowplow layers (assigned by the store).
    pub num: i64,
    /// The id staff know it by (`plow-07`).
    pub id: String,
    pub name: String,
    pub kind: VehicleKind,
    /// The operator or contractor driving it (staff only).
    pub operator: Option<String>,
    /// What residents see (`除雪車 3号`).
    pub label: String,
    /// Whether residents see it at all.
    pub public: bool,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A vehicle to register: its record, and its device credential to hand over once.
pub struct NewVehicle {
    pub vehicle: Vehicle,
    pub credential: String,
    pub hash: String,
}

/// Why a vehicle cannot be registered as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VehicleError {
    #[error("vehicle id {0:?}: use 1–40 lowercase letters, digits, '-' or '_'")]
    BadId(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

impl NewVehicle {
    /// A vehicle with a fresh credential from the operating system's generator. The label
    /// defaults to the name.
    pub fn generate(
        id: &str,
        name: &str,
        kind: VehicleKind,
        operator: Option<String>,
        label: Option<String>,
        public: bool,
    ) -> Result<Self, VehicleError> {
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
        if id.is_empty() || id.len() > 40 || !id.chars().all(valid) {
            return Err(VehicleError::BadId(id.to_owned()));
        }
        if name.trim().is_empty() {
            return Err(VehicleError::Empty("name"));
        }
        let label = label.filter(|l| !l.trim().is_empty()).unwrap_or_else(|| name.to_owned());
        let mut secret = [0u8; 20];
        rand::rng().fill_bytes(&mut secret);
        let credential = hex::encode(secret);
        let hash = hash_token(&credential);
        let vehicle = Vehicle {
            num: 0,
            id: id.to_owned(),
            name: name.to_owned(),
            kind,
            operator: operator.filter(|o| !o.trim().is_empty()),
            label,
            public,
            created_at: String::new(),
            revoked_at: None,
        };
        Ok(Self { vehicle, credential, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_long_random_and_hashed() {
        let a = NewVehicle::generate("plow-1", "1号車", VehicleKind::Plow, None, None, true).unwrap();
        let b = NewVehicle::generate("plow-2", "2号車", VehicleKind::Plow, None, None, true).unwrap();
        assert_eq!(a.credential.len(), 40);
        assert_ne!(a.credential, b.credential);
        assert_eq!(a.hash, hash_token(&a.credential));
        assert_eq!(a.vehicle.label, "1号車");
        assert_eq!(
            NewVehicle::generate("Plow 1", "x", VehicleKind::Plow, None, None, true).err(),
            Some(VehicleError::BadId("Plow 1".into()))
        );
        assert!(VehicleKind::Blower.plows() && !VehicleKind::Patrol.plows());
        assert_eq!(VehicleKind::parse("spreader"), Some(VehicleKind::Spreader));
    }
}
