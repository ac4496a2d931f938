//! Fake cloud APIs for skein's tests, on 127.0.0.1 only: an Entra ID token endpoint,
//! Microsoft Graph sign-ins and the Log Analytics query API ([`azure`]), reached over HTTPS
//! with a certificate from a test CA made per run ([`tls`]).
//!
//! Test code: it panics on setup failures (a port that cannot be bound) and must never be
//! a dependency of anything but tests.

pub mod azure;
pub mod background;
pub mod tls;

pub use azure::{FakeAzure, Fault};
pub use background::Background;
pub use tls::TestCa;
