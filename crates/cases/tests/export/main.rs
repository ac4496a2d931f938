//! Integration tests of the case exports (`skein_cases::export`): snapshots of every format,
//! the escaping each format owes (SPEC §10), the STIX bundle parsed by the OASIS `stix2`
//! library, OCSF required fields, and the HTML report rendered by headless Chromium.
//!
//! The STIX and Chromium tests need `scripts/test-deps.sh` to have run; they fail (never skip)
//! without it.

mod cross_cloud;
mod escaping;
mod fixtures;
mod html_render;
mod ocsf;
mod snapshots;
mod stix;

use skein_cases::{export, Format};

/// An export of the two fixture cases; every format succeeds on them.
pub fn exported(format: Format) -> String {
    match export(&fixtures::cases(), format) {
        Ok(s) => s,
        Err(e) => panic!("exporting {format}: {e}"),
    }
}
