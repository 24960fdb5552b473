//! Returned mail (bounces, complaints, auto-replies): any bytes give a
//! report or an error, never a panic.
//!
//! mail-parser 0.11 panics on some malformed MIME through `debug_assert!`s,
//! which `read` contains (see `bounces::report::mime`); libFuzzer's panic
//! hook would abort on them before `read` could, stopping every run at the
//! same known spot. So panics raised in mail-parser's own source are left
//! to `read`; any other panic aborts as usual and is a finding.
#![no_main]
use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static LEAVE_MAIL_PARSER_PANICS_TO_READ: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    LEAVE_MAIL_PARSER_PANICS_TO_READ.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|at| at.file().contains("/mail-parser-"));
            if !in_mail_parser {
                abort(info);
            }
        }));
    });
    let _ = academichub::bounces::report::read(data);
});
