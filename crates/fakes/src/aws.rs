//! Test credentials for the AWS SDK's standard credential chain.

/// Test credentials through the standard chain's environment provider, set once per process
/// (the tests of this file are threads of one process; every test sets the same values).
pub fn aws_test_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/skein-test/aws-config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/skein-test/aws-credentials",
            ),
        ] {
            std::env::set_var(k, v);
        }
        for k in ["AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"] {
            std::env::remove_var(k);
        }
    });
}
