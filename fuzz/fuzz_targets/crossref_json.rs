//! Crossref's works JSON and its error bodies: any bytes give papers or an
//! error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = academichub::sources::crossref::parse_works(data);
    let _ = academichub::sources::crossref::refusal(404, data);
});
