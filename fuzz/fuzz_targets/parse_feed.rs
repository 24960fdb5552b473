//! Any bytes a feed server sends: parsing returns papers or an error, and
//! never panics, hangs or runs out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(parsed) = academichub::sources::parse_feed(bytes) {
        for paper in &parsed.papers {
            assert!(!paper.title.is_empty());
            assert!(paper.url.starts_with("http://") || paper.url.starts_with("https://"));
        }
    }
});
