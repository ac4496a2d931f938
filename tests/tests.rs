//! Integration tests of the `skein` binary. Helpers are in `util.rs`; tests that read the real
//! third-party samples are in `real_data.rs`; malformed-input tests in `bad_input.rs`;
//! incremental `correlate` against full runs in `incremental.rs`.

mod bad_input;
mod cases;
mod cli;
mod collect;
mod incremental;
mod real_data;
mod rules;
mod util;
