use rand::RngCore;

use super::{Result, Store, StoreError};
use crate::domain::LinkSecret;

const LINK_SECRET: &str = "link_secret";
const SUPPRESSION_KEY: &str = "suppression_key";

/// The key of the hashes kept for addresses that must not be mailed (their
/// owners deleted their data): a plain SHA-256 of an address can be found
/// again by hashing guesses, a keyed one only with this key, which never
/// leaves the database. Never printed.
#[derive(Clone, Default)]
pub struct SuppressionKey(Vec<u8>);

impl std::fmt::Debug for SuppressionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SuppressionKey(<redacted>)")
    }
}

impl SuppressionKey {
    /// The hashes an address may be kept under: keyed (HMAC-SHA256), and
    /// the unkeyed SHA-256 that entries made before keys were used have.
    pub(super) fn hashes(&self, email: &str) -> [String; 2] {
        use hmac::{Hmac, KeyInit, Mac};
        use sha2::{Digest, Sha256};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(email.as_bytes());
        [
            hex(&mac.finalize().into_bytes()),
            hex(&Sha256::digest(email.as_bytes())),
        ]
    }
}

impl Store {
    /// The link-signing key kept in the database: generated on first use.
    pub async fn link_secret(&self) -> Result<LinkSecret> {
        let value = self.generated_secret(LINK_SECRET).await?;
        LinkSecret::new(value.into_bytes()).map_err(StoreError::Corrupt)
    }

    /// The suppression key kept in the database, generated on first use.
    pub(super) async fn load_suppression_key(&self) -> Result<SuppressionKey> {
        Ok(SuppressionKey(
            self.generated_secret(SUPPRESSION_KEY).await?.into_bytes(),
        ))
    }

    /// A random secret of 32 bytes (hex) kept under `name`, generated on
    /// first use, race-free across instances: the first insert wins and all
    /// read it back.
    async fn generated_secret(&self, name: &str) -> Result<String> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hex(&fresh))
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
