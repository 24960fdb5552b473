//! Secrets out of sight: credentials in URLs are replaced before a URL is
//! printed, logged or put in an error message.

/// Query parameters whose values are secrets.
const SECRET_PARAMS: [&str; 7] = [
    "password", "pass", "pwd", "passwd", "secret", "token", "api_key",
];

/// `postgres://hub:hunter2@db/x?sslpassword=y` → `postgres://hub:***@db/x?sslpassword=***`.
///
/// Works on strings that are not valid URLs too (a mistyped scheme, a
/// missing `//`): whatever stands between `:` and `@` in the authority is
/// replaced, and so is every secret-looking query value.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = redact_userinfo(head);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_secret_param(key) => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|s| key.ends_with(s))
}

fn redact_userinfo(head: &str) -> String {
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let rest = &head[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return head.to_owned();
    };
    let userinfo = &rest[..at];
    let redacted = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        // A lone userinfo may be a token: hide it too.
        None => "***".to_owned(),
    };
    format!("{}{redacted}{}", &head[..authority_start], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_hidden_however_the_url_is_spelled() {
        for (url, want) in [
            (
                "postgres://app:hunter2@db:5432/hub",
                "postgres://app:***@db:5432/hub",
            ),
            (
                "postgress://app:hunter2@db/hub",
                "postgress://app:***@db/hub",
            ),
            ("mysql://root:hunter2@db/hub", "mysql://root:***@db/hub"),
            (
                "postgres://db/hub?user=app&password=hunter2&sslmode=require",
                "postgres://db/hub?user=app&password=***&sslmode=require",
            ),
            (
                "https://reader:hunter2@feeds.example/rss?token=hunter2",
                "https://reader:***@feeds.example/rss?token=***",
            ),
            (
                "https://hunter2@feeds.example/",
                "https://***@feeds.example/",
            ),
            ("sqlite://var/a.db", "sqlite://var/a.db"),
            ("https://x.example/a@b", "https://x.example/a@b"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
            assert!(!redact_url(url).contains("hunter2"));
        }
    }
}
