//! Fake cloud APIs for skein's tests, on 127.0.0.1 only: an Entra ID token endpoint,
//! Microsoft Graph sign-ins and the Log Analytics query API ([`azure`]), reached over HTTPS
//! with a certificate from a test CA made per run ([`tls`]); test credentials for the AWS
//! SDK's standard chain ([`aws`]).
//!
//! Test code: it panics on setup failures (a port that cannot be bound) and must never be
//! a dependency of anything but tests.

pub mod aws;
pub mod azure;
pub mod background;
pub mod tls;

pub use aws::aws_test_env;
pub use azure::{FakeAzure, Fault};
pub use background::Background;
pub use tls::TestCa;
