//! JATS, HTML-ish and MathML markup to text (Crossref and PubMed
//! abstracts): any text, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = academichub::sources::markup::to_text(&String::from_utf8_lossy(data));
});
