//! Returned mail (bounces, complaints, auto-replies): any bytes give a
//! report or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = academichub::bounces::report::read(data);
});
