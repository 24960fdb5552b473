//! PubMed's esearch and efetch XML.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = academichub::sources::pubmed::parse_esearch(data);
    let _ = academichub::sources::pubmed::parse_efetch(data);
});
