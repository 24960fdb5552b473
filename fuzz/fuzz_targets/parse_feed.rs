//! Any bytes a feed server sends: parsing returns papers or an error, and
//! never panics, hangs or runs out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // A panic inside feed-rs is caught by parse_feed and becomes an
        // error (a known feed-rs bug): let it unwind to that guard instead
        // of aborting. Every other panic still aborts and is reported.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_feed_rs = info
                .location()
                .is_some_and(|l| l.file().contains("/feed-rs-"));
            if !in_feed_rs {
                abort(info);
            }
        }));
    },
    |bytes: &[u8]| {
        if let Ok(parsed) = academichub::sources::parse_feed(bytes) {
            for paper in &parsed.papers {
                assert!(!paper.title.is_empty());
                assert!(paper.url.starts_with("http://") || paper.url.starts_with("https://"));
            }
        }
    }
);
