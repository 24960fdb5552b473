//! bioRxiv/medRxiv details JSON, with and without a subject filter.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = academichub::sources::biorxiv::parse_details(data, "bioRxiv", None);
    let _ = academichub::sources::biorxiv::parse_details(data, "medRxiv", Some("epidemiology"));
});
