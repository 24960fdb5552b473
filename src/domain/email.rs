use std::fmt;

/// A syntactically valid email address, normalised to a lower-case domain.
///
/// Validation is lettre's RFC 5322 address parser, the same one that will
/// later put the address on the wire, so anything accepted here can be sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(lettre::Address);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{input:?} is not a valid email address ({reason})")]
pub struct EmailAddressError {
    input: String,
    reason: String,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, EmailAddressError> {
        let trimmed = input.trim();
        let fail = |reason: &str| EmailAddressError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if trimmed.len() > 254 {
            return Err(fail("longer than 254 characters"));
        }
        let (user, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| fail("it has no @"))?;
        if !domain.contains('.') && domain != "localhost" {
            return Err(fail("the domain has no dot"));
        }
        let address = lettre::Address::new(user, domain.to_ascii_lowercase())
            .map_err(|e| fail(&e.to_string()))?;
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    pub fn as_lettre(&self) -> &lettre::Address {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        let a = EmailAddress::parse(" Ada.Lovelace+ml@Example.ORG ").unwrap();
        assert_eq!(a.as_str(), "Ada.Lovelace+ml@example.org");
    }

    #[test]
    fn rejects_malformed_addresses_with_a_reason() {
        for bad in [
            "",
            "plainaddress",
            "a@b",
            "@example.org",
            "a b@example.org",
            "a@@example.org",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("not a valid email address"),
                "{bad}: {err}"
            );
        }
    }
}
