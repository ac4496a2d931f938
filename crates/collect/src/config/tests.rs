//! Tests of the configuration: the SPEC's shape, the example file, and mistakes.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/skein/skein.toml"))
}

#[test]
fn the_spec_shape_parses_with_defaults() {
    let c = parse(
        r#"
        [[sources.entra]]
        name = "contoso"
        tenant_id = "t"
        client_id = "c"
        client_secret_env = "SKEIN_ENTRA_SECRET"
        ca_file = "corp-ca.pem"
        [[sources.log_analytics]]
        name = "sentinel"
        workspace_id = "w"
        tables = ["SigninLogs", "StorageBlobLogs"]
        tenant_id = "t"
        client_id = "c"
        client_secret_file = "/run/secret"
        [[sources.cloudtrail]]
        name = "prod"
        regions = ["us-east-1", "eu-west-1"]
        [sweep]
        every = "15m"
        overlap = "15m"
        lookback = "24h"
        export_dir = "cases"
        export_formats = ["json", "md"]
        "#,
    )
    .unwrap();
    assert_eq!(c.sources.entra[0].event_types.len(), 4);
    assert_eq!(
        c.sources.entra[0].auth.ca_file.as_deref(),
        Some(Path::new("/etc/skein/corp-ca.pem"))
    );
    assert_eq!(c.sweep.export_dir, Path::new("/etc/skein/cases"));
    assert_eq!(c.sweep.every.0, Duration::from_secs(900));
    assert_eq!(c.cases.hub_accounts, 50);
    assert_eq!(c.source_names(), ["contoso", "sentinel", "prod"]);
}

#[test]
fn the_example_file_parses() {
    let text = include_str!("../../../../skein.example.toml");
    let c = parse(text).unwrap();
    assert_eq!(c.source_names(), ["contoso", "sentinel", "prod"]);
    assert_eq!(c.cases.hub_accounts, 50);
}

#[test]
fn mistakes_name_the_field() {
    let cases = [
        ("[[sources.entra]]\nname='a'\ntenant_id='t'\nclient_id='c'", "exactly one of"),
        (
            "[[sources.entra]]\nname='a'\ntenant_id='t'\nclient_id='c'\nclient_secret_env='X'\nclient_secret='oops'",
            "unknown field",
        ),
        ("[[sources.cloudtrail]]\nname='a'", "at least one region"),
        ("[[sources.cloudtrail]]\nname='a'\nregions=['x']\n[[sources.cloudtrail]]\nname='a'\nregions=['y']", "two sources"),
        ("[sweep]\nevery='soon'", "not a duration"),
        ("[sweep]\nexport_formats=['pdf']", "unknown format `pdf`"),
        (
            "[[sources.entra]]\nname='a'\ntenant_id='t'\nclient_id='c'\nclient_secret_env='X'\ngraph_endpoint='http://graph.example'",
            "must be https",
        ),
        (
            "[[sources.entra]]\nname='a'\ntenant_id='t'\nclient_id='c'\nclient_secret_env='X'\nauthority_host='http://x'",
            "must be an https URL",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
        assert!(err.contains("skein.toml"), "{err}");
    }
}
