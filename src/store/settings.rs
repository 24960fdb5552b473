use rand::RngCore;
use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::domain::LinkSecret;

const LINK_SECRET: &str = "link_secret";

impl Store {
    /// The link-signing key kept in the database: generated on first use
    /// (race-free across instances: the first insert wins, all read it back).
    pub async fn link_secret(&self) -> Result<LinkSecret> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(LINK_SECRET)
        .bind(hex(&fresh))
        .execute(&self.pool)
        .await?;
        let value: String = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(LINK_SECRET)
            .fetch_one(&self.pool)
            .await?
            .try_get("value")?;
        LinkSecret::new(value.into_bytes()).map_err(StoreError::Corrupt)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
