//! Any bytes a feed server sends: parsing returns papers or an error, and
//! never panics, hangs or runs out of memory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // parse_feed runs feed-rs (and the quick-xml under it) inside a
        // guard that turns their panics into an error: feed-rs 3.0.0 slices
        // a name inside a character, and quick-xml 0.42 asserts when a
        // damaged declaration changes the encoding late. Let such a panic
        // unwind to that guard instead of aborting; every other panic,
        // including one in our own pass over the XML, still aborts.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let guarded = std::backtrace::Backtrace::force_capture()
                .to_string()
                .contains("parse_guarded");
            if !guarded {
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
