//! SigmaHQ's cloud rules (`../shared/data/sigma/rules/cloud`, SigmaHQ/sigma @ 8eaafff1) through
//! skein: how many load, why the others do not, and what the loaded ones do on every real
//! CloudTrail and Entra sign-in record in `../shared/data/` (see its MANIFEST.md); also the
//! placeholder rules (`rules-placeholder/cloud`, whose `|expand` values come from lists) and
//! what loads of `deprecated/cloud` and `rules-threat-hunting/cloud`.
//!
//! Everything here is pinned, so a change in the loader, the field view or the parsers that
//! changes what SigmaHQ's rules do shows up as a failing assertion with the new numbers.
//! `docs/sigmahq-cloud-report.md` is the written form of these numbers; regenerate the
//! load half with `skein rules validate ../shared/data/sigma/rules/cloud`.
//!
//! The tests are skipped (with a message) when the shared data is not there.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Cursor};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use crate::common::{files, texts};
use rsigma_eval::{compile_rule, evaluate_rule, Event as SigmaEvent, EventValue, JsonEvent};
use rsigma_parser::{parse_sigma_yaml, Detection, Modifier, SigmaRule, SigmaValue};
use serde_json::Value;
use skein_ingest::framing::{Framer, DEFAULT_MAX_RECORD_BYTES};
use skein_ingest::{input, parse_frame, pyrepr, Item};
use skein_model::Event;
use skein_rules::view::EventView;
use skein_rules::{load, RuleSet, SourceText};

// ---------------------------------------------------------------------------------------------
// Reading files (the helpers of tests/shipped.rs).

fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// The SigmaHQ cloud rules directory, or `None` (and a message) when it is missing.
fn sigma_cloud() -> Option<PathBuf> {
    let p = shared_data().join("sigma/rules/cloud");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "SKIPPED: SigmaHQ rules not found at {} (the shared test data is not present)",
            p.display()
        );
        None
    }
}

/// A rule's file name (SigmaHQ file names are unique across the cloud folders).
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

// ---------------------------------------------------------------------------------------------
// The real data, through skein's ingest path (Framer + parse_frame), one dataset per origin.

struct Dataset {
    name: String,
    events: Vec<Event>,
    rejected: usize,
    ignored: usize,
}

fn ingest_reader(name: &str, reader: impl BufRead) -> Dataset {
    let mut d = Dataset {
        name: name.to_string(),
        events: Vec::new(),
        rejected: 0,
        ignored: 0,
    };
    for frame in Framer::new(reader, DEFAULT_MAX_RECORD_BYTES) {
        let Ok(frame) = frame else {
            d.rejected += 1;
            continue;
        };
        let mut out = Vec::new();
        parse_frame(&frame, None, &mut out);
        for item in out {
            match item {
                Item::Event(e) => d.events.push(*e),
                Item::Ignored { .. } => d.ignored += 1,
                Item::Rejected { .. } => d.rejected += 1,
            }
        }
    }
    d
}

fn ingest_file(name: &str, path: &Path) -> Dataset {
    let reader = input::open(&input::InputSpec::file(path), Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ingest_reader(name, reader)
}

/// Records extracted from an index file, written as NDJSON and framed like a file.
fn ingest_values(name: &str, values: impl IntoIterator<Item = Value>) -> Dataset {
    let mut text = String::new();
    for v in values {
        text.push_str(&v.to_string());
        text.push('\n');
    }
    ingest_reader(name, Cursor::new(text.into_bytes()))
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `log` of every Panther test of the given log types (as tests/real_data.rs does).
fn panther_logs(log_types: &[&str]) -> Vec<Value> {
    jsonl(&shared_data().join("panther-analysis/_extracted_tests.jsonl"))
        .into_iter()
        .filter(|t| {
            t["log_types"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|v| log_types.contains(&v.as_str().unwrap_or_default()))
            })
        })
        .filter(|t| t["log"].is_object())
        .map(|t| t["log"].clone())
        .collect()
}

/// The Splunk `example_log`s of a sourcetype prefix (as tests/real_data.rs does).
fn splunk_logs(prefix: &str) -> Vec<Value> {
    jsonl(&shared_data().join("splunk-security-content/_extracted_example_logs.jsonl"))
        .into_iter()
        .filter(|t| {
            t["sourcetype"]
                .as_str()
                .is_some_and(|s| s.starts_with(prefix))
        })
        .map(|t| t["example_log"].clone())
        .collect()
}

/// The CloudTrail `Logs` of Panther's multi-log test scenarios (YAML files).
fn panther_scenario_logs() -> Vec<Value> {
    let mut paths = Vec::new();
    files(
        &shared_data().join("panther-analysis/test_scenarios"),
        &["yml"],
        &mut paths,
    );
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let y: yaml_serde::Value =
            yaml_serde::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        if y["LogType"].as_str() != Some("AWS.CloudTrail") {
            continue;
        }
        let logs: Value = serde_json::to_value(&y["Logs"]).unwrap();
        out.extend(logs.as_array().cloned().unwrap_or_default());
    }
    out
}

fn datasets() -> Vec<Dataset> {
    let data = shared_data();
    let mut out = Vec::new();
    let mut stratus = Vec::new();
    files(
        &data.join("stratus-red-team/docs/detonation-logs"),
        &["json"],
        &mut stratus,
    );
    stratus.sort();
    for p in stratus {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let name = format!("stratus:{}", stem.trim_start_matches("aws."));
        out.push(ingest_file(&name, &p));
    }
    out.push(ingest_file(
        "otrf:ec2_proxy_s3_exfiltration",
        &data.join(
            "otrf-security-datasets/datasets/atomic/aws/collection/\
             ec2_proxy_s3_exfiltration_2020-09-14011940.json",
        ),
    ));
    out.push(ingest_values(
        "panther:cloudtrail-tests",
        panther_logs(&["AWS.CloudTrail"]),
    ));
    out.push(ingest_values(
        "panther:test-scenarios",
        panther_scenario_logs(),
    ));
    out.push(ingest_values(
        "splunk:cloudtrail-examples",
        splunk_logs("aws:cloudtrail"),
    ));
    out.push(ingest_values(
        "panther:azure-tests",
        panther_logs(&["Azure.Audit", "Azure.MonitorActivity"]),
    ));
    out.push(ingest_values(
        "splunk:azure-aad-examples",
        splunk_logs("azure:monitor:aad"),
    ));
    out.push(ingest_file(
        "sentinel-notebooks:aad_logons",
        &data.join("azure-sentinel-notebooks/aad_logons.converted.jsonl"),
    ));
    out.push(ingest_file(
        "msgraph:beta-signin-list",
        &data.join("msgraph-docs/beta_signin-list_example1_response.json"),
    ));
    out.push(ingest_file(
        "msgraph:v1.0-signin-list",
        &data.join("msgraph-docs/v1.0_signin-list_example1_response.jsonc"),
    ));
    out.push(ingest_file(
        "ms-docs:storage-log-fragments",
        &data.join(
            "ms-docs-storage-logs/monitor-blob-storage-reference.resource-log-fragments.jsonc",
        ),
    ));
    out
}

static DATA: LazyLock<Vec<Dataset>> = LazyLock::new(datasets);

/// The SigmaHQ cloud rule files, loaded.
struct Sigma {
    files: Vec<SourceText>,
    rules: RuleSet,
    diagnostics: Vec<skein_rules::Diagnostic>,
    /// Each file's parsed rule, by file name.
    parsed: BTreeMap<String, SigmaRule>,
}

fn sigma() -> Sigma {
    let dir = sigma_cloud().expect("checked by the caller");
    let files = texts(&dir, &["yml", "yaml"]);
    let loaded = load(&files, &[]);
    let mut parsed = BTreeMap::new();
    for f in &files {
        let c = parse_sigma_yaml(&f.text).unwrap_or_else(|e| panic!("{}: {e}", f.path));
        assert!(
            c.correlations.is_empty() && c.filters.is_empty() && c.rules.len() == 1,
            "{}: expected exactly one detection rule",
            f.path
        );
        parsed.insert(file_name(&f.path).to_string(), c.rules[0].clone());
    }
    Sigma {
        files,
        rules: loaded.rules,
        diagnostics: loaded.diagnostics,
        parsed,
    }
}

static SIGMA: LazyLock<Sigma> = LazyLock::new(sigma);

// ---------------------------------------------------------------------------------------------
// 1. What loads.

/// Rules that load, by folder.
const LOADED: &[(&str, usize)] = &[("aws/cloudtrail", 57), ("azure/signin_logs", 18)];

/// Rules that do not load, by what they need. Every one of them is a logsource skein does not
/// ingest; none needs a Sigma feature skein lacks (see `not_loaded_rules_compile`).
const NOT_LOADED: &[(&str, usize)] = &[
    ("logsource azure/activitylogs", 35),
    ("logsource azure/auditlogs", 44),
    ("logsource azure/pim", 7),
    ("logsource azure/riskdetection", 19),
];

/// What a diagnostic says a rule needs.
fn reason(message: &str) -> String {
    if message.contains("is not an input skein reads") {
        let field = |k: &str| {
            message
                .split(&format!("{k}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        return format!("logsource {}/{}", field("product"), field("service"));
    }
    message.to_string()
}

#[test]
fn sigmahq_cloud_rules_load_or_name_what_they_need() {
    if sigma_cloud().is_none() {
        return;
    }
    let s = &*SIGMA;
    assert_eq!(s.files.len(), 180);
    let mut loaded: BTreeMap<String, usize> = BTreeMap::new();
    for r in s.rules.rules() {
        let folder = Path::new(&r.path)
            .parent()
            .and_then(|p| p.strip_prefix(sigma_cloud().unwrap()).ok())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        *loaded.entry(folder).or_default() += 1;
    }
    let want: BTreeMap<String, usize> = LOADED.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(loaded, want);
    assert_eq!(s.rules.rules().len(), 75);

    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    let mut with_problems = BTreeSet::new();
    for d in &s.diagnostics {
        *by_reason.entry(reason(&d.message)).or_default() += 1;
        with_problems.insert(d.path.clone());
    }
    let want: BTreeMap<String, usize> = NOT_LOADED
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(by_reason, want, "{:#?}", s.diagnostics);
    // One diagnostic per file that did not load; loaded + not loaded = every file.
    assert_eq!(with_problems.len(), s.diagnostics.len());
    assert_eq!(s.rules.rules().len() + with_problems.len(), s.files.len());
    // Only two rules read nothing but fields the model holds (ResultType); the other 73 read
    // the original record (eventName, userIdentity.*, DeviceDetail.*, ...).
    let served: Vec<&str> = s
        .rules
        .rules()
        .iter()
        .filter(|r| !r.needs_raw)
        .map(|r| file_name(&r.path))
        .collect();
    assert_eq!(
        served,
        vec![
            "azure_account_lockout.yml",
            "azure_user_login_blocked_by_conditional_access.yml"
        ]
    );
}

/// The 105 rules that do not load would load if skein read their source: `rsigma` compiles
/// every one of their detections.
#[test]
fn not_loaded_rules_compile() {
    if sigma_cloud().is_none() {
        return;
    }
    let s = &*SIGMA;
    let not_loaded: BTreeSet<&str> = s.diagnostics.iter().map(|d| file_name(&d.path)).collect();
    assert_eq!(not_loaded.len(), 105);
    for name in not_loaded {
        if let Err(e) = compile_rule(&s.parsed[name]) {
            panic!("{name}: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Which Sigma features the rules use.

/// Every detection item of a detection: field, modifiers, values (keywords have no field).
type Item3 = (Option<String>, Vec<Modifier>, Vec<SigmaValue>);

fn items(d: &Detection, out: &mut Vec<Item3>) {
    match d {
        Detection::AllOf(list) => out.extend(list.iter().map(|i| {
            (
                i.field.name.clone(),
                i.field.modifiers.clone(),
                i.values.clone(),
            )
        })),
        Detection::AnyOf(ds) | Detection::And(ds) => ds.iter().for_each(|x| items(x, out)),
        Detection::Keywords(v) => out.push((None, Vec::new(), v.clone())),
        Detection::ArrayMatch { body, .. } => items(body, out),
        Detection::Conditional { named, .. } => named.values().for_each(|x| items(x, out)),
    }
}

fn rule_items(rule: &SigmaRule) -> Vec<Item3> {
    let mut out = Vec::new();
    for d in rule.detection.named.values() {
        items(d, &mut out);
    }
    out
}

/// The features of one rule, named as in the report.
fn features(rule: &SigmaRule) -> BTreeSet<&'static str> {
    let mut f = BTreeSet::new();
    for (field, mods, values) in rule_items(rule) {
        if field.is_none() {
            f.insert("keywords");
        }
        if values.iter().any(|v| matches!(v, SigmaValue::Null)) {
            f.insert("null");
        }
        for m in mods {
            f.insert(match m {
                Modifier::Contains => "|contains",
                Modifier::StartsWith => "|startswith",
                Modifier::EndsWith => "|endswith",
                Modifier::All => "|all",
                Modifier::Base64 | Modifier::Base64Offset => "|base64 / |base64offset",
                Modifier::Wide | Modifier::Utf16 | Modifier::Utf16be => "|wide / |utf16",
                Modifier::WindAsh => "|windash",
                Modifier::Re => "|re",
                Modifier::Cidr => "|cidr",
                Modifier::Cased => "|cased",
                Modifier::Exists => "|exists",
                Modifier::Expand => "|expand",
                Modifier::FieldRef => "|fieldref",
                Modifier::Gt | Modifier::Gte | Modifier::Lt | Modifier::Lte | Modifier::Neq => {
                    "|gt / |lt / |neq"
                }
                _ => "other modifier",
            });
        }
    }
    if rule.detection.timeframe.is_some() {
        f.insert("timeframe (deprecated aggregation)");
    }
    if rule
        .detection
        .condition_strings
        .iter()
        .any(|c| c.contains('|'))
    {
        f.insert("aggregation in condition");
    }
    f
}

/// Feature → (rules using it among the 75 loaded, among all 180).
const FEATURES: &[(&str, usize, usize)] = &[
    ("keywords", 0, 3),
    ("null", 5, 5),
    ("|all", 1, 3),
    ("|contains", 15, 25),
    ("|endswith", 0, 4),
    ("|fieldref", 1, 1),
    ("|re", 1, 1),
    ("|startswith", 1, 5),
];

#[test]
fn sigma_features_the_cloud_rules_use() {
    if sigma_cloud().is_none() {
        return;
    }
    let s = &*SIGMA;
    let loaded: BTreeSet<&str> = s.rules.rules().iter().map(|r| file_name(&r.path)).collect();
    let mut got: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, rule) in &s.parsed {
        for f in features(rule) {
            let e = got.entry(f).or_default();
            e.1 += 1;
            if loaded.contains(name.as_str()) {
                e.0 += 1;
            }
            users.entry(f).or_default().push(name);
        }
    }
    let want: BTreeMap<&str, (usize, usize)> =
        FEATURES.iter().map(|(f, a, b)| (*f, (*a, *b))).collect();
    assert_eq!(got, want);
    // None of |cidr, |base64offset, |windash, |expand, correlations, aggregations: the
    // features above are all ones rsigma evaluates (see rsigma_features_work_through_the_view).
    assert_eq!(
        users["|re"],
        vec!["aws_cloudtrail_imds_malicious_usage.yml"]
    );
    assert_eq!(users["|fieldref"], vec!["aws_update_login_profile.yml"]);
    assert_eq!(
        users["keywords"],
        vec![
            "azure_creating_number_of_resources_detection.yml",
            "azure_granting_permission_detection.yml",
            "azure_rare_operations.yml",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Evaluation on the real data.

/// Per dataset: events, rejected records, ignored records (other categories).
const DATASETS: &[(&str, usize, usize, usize)] = &[
    ("stratus:credential-access.ec2-get-password-data", 34, 0, 0),
    (
        "stratus:credential-access.ec2-steal-instance-credentials",
        45,
        0,
        0,
    ),
    (
        "stratus:credential-access.secretsmanager-batch-retrieve-secrets",
        5,
        0,
        0,
    ),
    (
        "stratus:credential-access.secretsmanager-retrieve-secrets",
        21,
        0,
        0,
    ),
    (
        "stratus:credential-access.ssm-retrieve-securestring-parameters",
        10,
        0,
        0,
    ),
    ("stratus:defense-evasion.cloudtrail-delete", 1, 0, 0),
    (
        "stratus:defense-evasion.cloudtrail-event-selectors",
        1,
        0,
        0,
    ),
    ("stratus:defense-evasion.cloudtrail-stop", 1, 0, 0),
    ("stratus:defense-evasion.dns-delete-logs", 1, 0, 0),
    ("stratus:defense-evasion.organizations-leave", 3, 0, 0),
    ("stratus:defense-evasion.vpc-remove-flow-logs", 1, 0, 0),
    ("stratus:discovery.ec2-download-user-data", 19, 0, 0),
    ("stratus:execution.ec2-launch-unusual-instances", 3, 0, 0),
    ("stratus:execution.ec2-user-data", 35, 0, 0),
    ("stratus:execution.ssm-send-command", 56, 0, 0),
    ("stratus:execution.ssm-start-session", 29, 0, 0),
    (
        "stratus:exfiltration.ec2-security-group-open-port-22-ingress",
        1,
        0,
        0,
    ),
    ("stratus:exfiltration.ec2-share-ami", 1, 0, 0),
    ("stratus:exfiltration.ec2-share-ebs-snapshot", 1, 0, 0),
    ("stratus:exfiltration.rds-share-snapshot", 1, 0, 0),
    ("stratus:impact.bedrock-invoke-model", 15, 0, 0),
    ("stratus:initial-access.console-login-without-mfa", 1, 0, 0),
    ("stratus:lateral-movement.ec2-instance-connect", 3, 0, 0),
    (
        "stratus:lateral-movement.ec2-serial-console-send-ssh-public-key",
        4,
        0,
        0,
    ),
    ("stratus:persistence.iam-backdoor-role", 1, 0, 0),
    ("stratus:persistence.iam-backdoor-user", 1, 0, 0),
    ("stratus:persistence.iam-create-admin-user", 3, 0, 0),
    ("stratus:persistence.iam-create-backdoor-role", 2, 0, 0),
    ("stratus:persistence.iam-create-user-login-profile", 3, 0, 0),
    ("stratus:persistence.lambda-backdoor-function", 1, 0, 0),
    ("stratus:persistence.lambda-layer-extension", 1, 0, 0),
    ("stratus:persistence.lambda-overwrite-code", 1, 0, 0),
    (
        "stratus:persistence.rolesanywhere-create-trust-anchor",
        2,
        0,
        0,
    ),
    ("stratus:persistence.sts-federation-token", 2, 0, 0),
    (
        "stratus:privilege-escalation.iam-update-user-login-profile",
        1,
        0,
        0,
    ),
    ("otrf:ec2_proxy_s3_exfiltration", 103, 0, 0),
    ("panther:cloudtrail-tests", 445, 16, 0),
    ("panther:test-scenarios", 27, 0, 0),
    ("splunk:cloudtrail-examples", 48, 0, 0),
    ("panther:azure-tests", 37, 7, 217),
    ("splunk:azure-aad-examples", 1, 0, 15),
    ("sentinel-notebooks:aad_logons", 86, 0, 0),
    ("msgraph:beta-signin-list", 1, 0, 0),
    ("msgraph:v1.0-signin-list", 0, 1, 0),
    ("ms-docs:storage-log-fragments", 1, 2, 0),
];

/// Rule file → dataset → events matched, for every rule that matched anything.
const FIRES: &[(&str, &str, u64)] = &[
    (
        "aws_cloudtrail_bedrock_guardrail_deleted.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    (
        "aws_cloudtrail_bedrock_guardrail_updated.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    (
        "aws_cloudtrail_console_login_failed_authentication.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    (
        "aws_cloudtrail_console_login_success_without_mfa.yml",
        "panther:cloudtrail-tests",
        13,
    ),
    (
        "aws_cloudtrail_console_login_success_without_mfa.yml",
        "panther:test-scenarios",
        8,
    ),
    (
        "aws_cloudtrail_console_login_success_without_mfa.yml",
        "stratus:initial-access.console-login-without-mfa",
        1,
    ),
    (
        "aws_cloudtrail_disable_logging.yml",
        "panther:cloudtrail-tests",
        5,
    ),
    (
        "aws_cloudtrail_disable_logging.yml",
        "panther:test-scenarios",
        1,
    ),
    (
        "aws_cloudtrail_disable_logging.yml",
        "splunk:cloudtrail-examples",
        3,
    ),
    (
        "aws_cloudtrail_disable_logging.yml",
        "stratus:defense-evasion.cloudtrail-delete",
        1,
    ),
    (
        "aws_cloudtrail_disable_logging.yml",
        "stratus:defense-evasion.cloudtrail-stop",
        1,
    ),
    (
        "aws_cloudtrail_new_acl_entries.yml",
        "panther:cloudtrail-tests",
        6,
    ),
    (
        "aws_cloudtrail_new_acl_entries.yml",
        "splunk:cloudtrail-examples",
        1,
    ),
    (
        "aws_cloudtrail_new_route_added.yml",
        "panther:cloudtrail-tests",
        2,
    ),
    (
        "aws_cloudtrail_pua_trufflehog.yml",
        "panther:cloudtrail-tests",
        2,
    ),
    (
        "aws_cloudtrail_security_group_change_ingress_egress.yml",
        "panther:cloudtrail-tests",
        6,
    ),
    (
        "aws_cloudtrail_security_group_change_ingress_egress.yml",
        "stratus:exfiltration.ec2-security-group-open-port-22-ingress",
        1,
    ),
    (
        "aws_cloudtrail_security_group_change_rds.yml",
        "panther:cloudtrail-tests",
        5,
    ),
    (
        "aws_cloudtrail_ssm_malicious_usage.yml",
        "panther:cloudtrail-tests",
        3,
    ),
    (
        "aws_cloudtrail_ssm_malicious_usage.yml",
        "stratus:credential-access.ec2-steal-instance-credentials",
        1,
    ),
    (
        "aws_cloudtrail_ssm_malicious_usage.yml",
        "stratus:execution.ssm-send-command",
        1,
    ),
    (
        "aws_cloudtrail_vpc_flow_logs_deleted.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    (
        "aws_cloudtrail_vpc_flow_logs_deleted.yml",
        "stratus:defense-evasion.vpc-remove-flow-logs",
        1,
    ),
    (
        "aws_config_disable_recording.yml",
        "panther:cloudtrail-tests",
        3,
    ),
    (
        "aws_console_getsignintoken.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    (
        "aws_guardduty_disruption.yml",
        "panther:cloudtrail-tests",
        2,
    ),
    (
        "aws_iam_backdoor_users_keys.yml",
        "panther:cloudtrail-tests",
        7,
    ),
    (
        "aws_iam_backdoor_users_keys.yml",
        "panther:test-scenarios",
        3,
    ),
    (
        "aws_iam_backdoor_users_keys.yml",
        "splunk:cloudtrail-examples",
        1,
    ),
    (
        "aws_iam_backdoor_users_keys.yml",
        "stratus:persistence.iam-backdoor-user",
        1,
    ),
    (
        "aws_iam_backdoor_users_keys.yml",
        "stratus:persistence.iam-create-admin-user",
        1,
    ),
    (
        "aws_new_lambda_layer_attached.yml",
        "stratus:persistence.lambda-layer-extension",
        1,
    ),
    (
        "aws_rds_change_master_password.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    (
        "aws_rds_change_master_password.yml",
        "splunk:cloudtrail-examples",
        1,
    ),
    (
        "aws_rds_dbcluster_actions.yml",
        "panther:cloudtrail-tests",
        4,
    ),
    (
        "aws_rds_public_db_restore.yml",
        "panther:cloudtrail-tests",
        1,
    ),
    ("aws_root_account_usage.yml", "panther:cloudtrail-tests", 12),
    ("aws_root_account_usage.yml", "panther:test-scenarios", 26),
    (
        "aws_root_account_usage.yml",
        "splunk:cloudtrail-examples",
        6,
    ),
    (
        "aws_s3_data_management_tampering.yml",
        "panther:cloudtrail-tests",
        7,
    ),
    (
        "aws_securityhub_finding_evasion.yml",
        "panther:cloudtrail-tests",
        2,
    ),
    (
        "aws_snapshot_backup_exfiltration.yml",
        "panther:cloudtrail-tests",
        4,
    ),
    (
        "aws_snapshot_backup_exfiltration.yml",
        "splunk:cloudtrail-examples",
        1,
    ),
    (
        "aws_snapshot_backup_exfiltration.yml",
        "stratus:exfiltration.ec2-share-ebs-snapshot",
        1,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "otrf:ec2_proxy_s3_exfiltration",
        11,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "panther:cloudtrail-tests",
        222,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "splunk:cloudtrail-examples",
        15,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:credential-access.ec2-get-password-data",
        30,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:credential-access.ec2-steal-instance-credentials",
        2,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:defense-evasion.organizations-leave",
        1,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:discovery.ec2-download-user-data",
        15,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:execution.ec2-launch-unusual-instances",
        1,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:impact.bedrock-invoke-model",
        15,
    ),
    (
        "aws_sts_assumerole_misuse.yml",
        "stratus:lateral-movement.ec2-serial-console-send-ssh-public-key",
        4,
    ),
    (
        "aws_sts_getcalleridentity_trufflehog.yml",
        "panther:cloudtrail-tests",
        2,
    ),
    (
        "aws_sts_getsessiontoken_misuse.yml",
        "panther:cloudtrail-tests",
        2,
    ),
    ("aws_susp_saml_activity.yml", "panther:cloudtrail-tests", 1),
    (
        "aws_susp_saml_activity.yml",
        "splunk:cloudtrail-examples",
        2,
    ),
    (
        "aws_update_login_profile.yml",
        "panther:cloudtrail-tests",
        5,
    ),
    (
        "aws_update_login_profile.yml",
        "splunk:cloudtrail-examples",
        1,
    ),
    (
        "aws_update_login_profile.yml",
        "stratus:privilege-escalation.iam-update-user-login-profile",
        1,
    ),
    ("azure_account_lockout.yml", "panther:azure-tests", 2),
    (
        "azure_ad_sign_ins_from_noncompliant_devices.yml",
        "msgraph:beta-signin-list",
        1,
    ),
];

/// Evaluates `rules` over every dataset: (rule file, dataset) → matched.
fn fire_table(rules: &RuleSet) -> BTreeMap<(String, String), u64> {
    let mut table = BTreeMap::new();
    for d in DATA.iter() {
        let mut stats = rules.new_stats();
        let mut out = Vec::new();
        for e in &d.events {
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                rules.evaluate(e, &mut out, &mut stats)
            }));
            assert!(
                caught.is_ok(),
                "evaluation panicked on {} event {}",
                d.name,
                e.id
            );
        }
        for (i, c) in stats.per_rule.iter().enumerate() {
            if c.matched > 0 {
                let name = file_name(&rules.rules()[i].path).to_string();
                table.insert((name, d.name.clone()), c.matched);
            }
        }
    }
    table
}

#[test]
fn loaded_rules_evaluate_on_every_real_record() {
    if sigma_cloud().is_none() {
        return;
    }
    let sizes: Vec<(String, usize, usize, usize)> = DATA
        .iter()
        .map(|d| (d.name.clone(), d.events.len(), d.rejected, d.ignored))
        .collect();
    let table = fire_table(&SIGMA.rules);
    let want_sizes: Vec<(String, usize, usize, usize)> = DATASETS
        .iter()
        .map(|(n, a, b, c)| (n.to_string(), *a, *b, *c))
        .collect();
    assert_eq!(sizes, want_sizes);
    let firing: BTreeSet<&String> = table.keys().map(|(r, _)| r).collect();
    assert_eq!(firing.len(), 31, "{firing:?}");
    let want: BTreeMap<(String, String), u64> = FIRES
        .iter()
        .map(|(r, d, n)| ((r.to_string(), d.to_string()), *n))
        .collect();
    assert_eq!(table, want);
}

/// Stratus Red Team techniques a SigmaHQ rule written for that technique catches, checked by
/// reading the rule and the detonation log: (technique file, rule, what matches).
const STRATUS_CAUGHT: &[(&str, &str, &str)] = &[
    (
        "initial-access.console-login-without-mfa",
        "aws_cloudtrail_console_login_success_without_mfa.yml",
        "ConsoleLogin, additionalEventData.MFAUsed No, responseElements.ConsoleLogin Success",
    ),
    (
        "defense-evasion.cloudtrail-stop",
        "aws_cloudtrail_disable_logging.yml",
        "cloudtrail.amazonaws.com StopLogging",
    ),
    (
        "defense-evasion.cloudtrail-delete",
        "aws_cloudtrail_disable_logging.yml",
        "cloudtrail.amazonaws.com DeleteTrail",
    ),
    (
        "defense-evasion.vpc-remove-flow-logs",
        "aws_cloudtrail_vpc_flow_logs_deleted.yml",
        "DeleteFlowLogs with no errorCode (Sigma null)",
    ),
    (
        "exfiltration.ec2-share-ebs-snapshot",
        "aws_snapshot_backup_exfiltration.yml",
        "ec2.amazonaws.com ModifySnapshotAttribute",
    ),
    (
        "exfiltration.ec2-security-group-open-port-22-ingress",
        "aws_cloudtrail_security_group_change_ingress_egress.yml",
        "ec2.amazonaws.com AuthorizeSecurityGroupIngress",
    ),
    (
        "persistence.iam-backdoor-user",
        "aws_iam_backdoor_users_keys.yml",
        "iam.amazonaws.com CreateAccessKey",
    ),
    (
        "persistence.iam-create-admin-user",
        "aws_iam_backdoor_users_keys.yml",
        "iam.amazonaws.com CreateAccessKey (of the new user)",
    ),
    (
        "privilege-escalation.iam-update-user-login-profile",
        "aws_update_login_profile.yml",
        "iam.amazonaws.com UpdateLoginProfile; the |fieldref filter does not apply",
    ),
    (
        "persistence.lambda-layer-extension",
        "aws_new_lambda_layer_attached.yml",
        "UpdateFunctionConfiguration20150331v2 (|startswith) with requestParameters.layers",
    ),
    (
        "execution.ssm-send-command",
        "aws_cloudtrail_ssm_malicious_usage.yml",
        "ssm.amazonaws.com SendCommand with no errorCode",
    ),
    (
        "credential-access.ec2-steal-instance-credentials",
        "aws_cloudtrail_ssm_malicious_usage.yml",
        "the SendCommand that reads the instance's credentials",
    ),
];

/// Stratus techniques no SigmaHQ rule catches although a rule names their API call:
/// (technique, rule, why it does not match).
const STRATUS_NEAR_MISSES: &[(&str, &str, &str)] = &[
    (
        "execution.ec2-user-data",
        "aws_ec2_startup_script_change.yml",
        "the rule wants requestParameters.attribute = userData (the --attribute form of \
         ModifyInstanceAttribute); the detonation sends requestParameters.userData",
    ),
    (
        "credential-access.ec2-steal-instance-credentials",
        "aws_cloudtrail_imds_malicious_usage.yml",
        "the rule's |re wants an EC2 identity-role ARN (assumed-role/aws:ec2-instance/...); \
         the stolen credentials are an instance-profile role's",
    ),
    (
        "persistence.iam-create-user-login-profile",
        "aws_iam_s3browser_loginprofile_creation.yml",
        "CreateLoginProfile matches, but the rule also wants userAgent S3 Browser",
    ),
    (
        "persistence.sts-federation-token",
        "aws_sts_getcalleridentity_trufflehog.yml",
        "GetCallerIdentity matches, but the rule also wants userAgent TruffleHog",
    ),
];

#[test]
fn stratus_techniques_and_the_sigmahq_rules_that_catch_them() {
    if sigma_cloud().is_none() {
        return;
    }
    let table = fire_table(&SIGMA.rules);
    for (technique, rule, _) in STRATUS_CAUGHT {
        let key = (rule.to_string(), format!("stratus:{technique}"));
        assert!(
            table.contains_key(&key),
            "{rule} does not catch {technique}"
        );
    }
    for (technique, rule, _) in STRATUS_NEAR_MISSES {
        let key = (rule.to_string(), format!("stratus:{technique}"));
        assert!(!table.contains_key(&key), "{rule} now catches {technique}");
    }
    // Every other Stratus file is matched by nothing but the generic "AssumeRole misuse"
    // rule (any AssumedRole identity whose issuer is a Role), or by nothing at all.
    let caught: BTreeSet<String> = STRATUS_CAUGHT
        .iter()
        .map(|(t, _, _)| format!("stratus:{t}"))
        .collect();
    for (rule, dataset) in table.keys() {
        if dataset.starts_with("stratus:") && !caught.contains(dataset) {
            assert_eq!(rule, "aws_sts_assumerole_misuse.yml", "{dataset}");
        }
    }
    let with_specific: BTreeSet<&String> = table
        .keys()
        .filter(|(r, d)| d.starts_with("stratus:") && r != "aws_sts_assumerole_misuse.yml")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(with_specific.len(), 12);
    let stratus = DATA
        .iter()
        .filter(|d| d.name.starts_with("stratus:"))
        .count();
    assert_eq!(stratus, 35);
}

// ---------------------------------------------------------------------------------------------
// 4. Fields that never resolve.

/// The fields a rule reads: detection fields and `|fieldref` targets.
fn rule_fields(rule: &SigmaRule) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (field, mods, values) in rule_items(rule) {
        if let Some(f) = field {
            out.insert(f);
        }
        if mods.contains(&Modifier::FieldRef) {
            out.extend(values.iter().map(ToString::to_string));
        }
    }
    out
}

/// How a field resolved on one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Resolved {
    Absent,
    Null,
    Object,
    Value,
}

fn resolved(v: Option<EventValue<'_>>) -> Resolved {
    match v {
        None => Resolved::Absent,
        Some(EventValue::Null) => Resolved::Null,
        Some(EventValue::Map(_)) => Resolved::Object,
        Some(_) => Resolved::Value,
    }
}

/// (rule, field) → the best resolution over every event of the rule's sources.
fn field_resolution() -> BTreeMap<(String, String), Resolved> {
    let mut out = BTreeMap::new();
    for r in SIGMA.rules.rules() {
        let name = file_name(&r.path);
        let events: Vec<&Event> = DATA
            .iter()
            .flat_map(|d| d.events.iter())
            .filter(|e| r.sources.contains(&e.source))
            .collect();
        let views: Vec<EventView<'_>> = events.iter().map(|e| EventView::new(e)).collect();
        for field in rule_fields(&SIGMA.parsed[name]) {
            let best = views
                .iter()
                .map(|v| resolved(v.get_field(&field)))
                .max()
                .unwrap_or(Resolved::Absent);
            out.insert((name.to_string(), field), best);
        }
    }
    out
}

/// Loaded rules with a field no event of their source resolves: (rule, field, why).
const NEVER_RESOLVED: &[(&str, &str, &str)] = &[
    (
        "aws_cloudtrail_guardduty_detector_deleted_or_updated.yml",
        "requestParameters.enable",
        "data: no UpdateDetector call in the data (DeleteDetector does match)",
    ),
    (
        "aws_delete_saml_provider.yml",
        "status",
        "rule: CloudTrail has no `status` field; misses Panther's successful DeleteSAMLProvider",
    ),
    (
        "aws_ecs_task_definition_cred_endpoint_query.yml",
        "requestParameters.containerDefinitions.command",
        "data: no ECS calls (containerDefinitions is an array, which the view follows: see \
         array_paths_are_followed)",
    ),
    (
        "azure_app_device_code_authentication.yml",
        "properties.message",
        "rule: not a sign-in field in any shape (Graph, diagnostic, Log Analytics)",
    ),
    (
        "azure_app_ropc_authentication.yml",
        "properties.message",
        "rule: not a sign-in field in any shape",
    ),
    (
        "azure_legacy_authentication_protocols.yml",
        "ActivityDetails",
        "rule: a column of the portal's CSV export, not of Graph / diagnostic / LA",
    ),
    (
        "azure_legacy_authentication_protocols.yml",
        "ClientApp",
        "rule: portal export column (the real field is clientAppUsed)",
    ),
    (
        "azure_legacy_authentication_protocols.yml",
        "Username",
        "rule: portal export column, and the value is the literal text 'UPN'",
    ),
];

/// Loaded rules with a field that resolves only to an object on every event, which a string
/// value or modifier never matches: (rule, field). The four `Status` ones are STATUS_AS_TEXT.
const OBJECT_ONLY: &[(&str, &str)] = &[
    ("aws_disable_bucket_versioning.yml", "requestParameters"),
    ("aws_ec2_vm_export_failure.yml", "responseElements"),
    (
        "aws_iam_s3browser_templated_s3_bucket_policy_creation.yml",
        "requestParameters",
    ),
    ("azure_ad_only_single_factor_auth_required.yml", "Status"),
    (
        "azure_ad_risky_sign_ins_with_singlefactorauth_from_unknown_devices.yml",
        "Status",
    ),
    ("azure_ad_suspicious_signin_bypassing_mfa.yml", "Status"),
    ("azure_mfa_denies.yml", "Status"),
];

/// Sign-in rules that compare `Status` with a string. `Status` is an object in Graph and
/// diagnostic records (`status{errorCode, failureReason, additionalDetails}`) and a dynamic
/// column in Log Analytics rows, sent as JSON or Python-repr text, which the view parses into
/// the same object; the string `Success` exists only in the portal's CSV export, so these
/// never match a successful sign-in.
const STATUS_AS_TEXT: &[&str] = &[
    "azure_ad_only_single_factor_auth_required.yml",
    "azure_ad_risky_sign_ins_with_singlefactorauth_from_unknown_devices.yml",
    "azure_ad_suspicious_signin_bypassing_mfa.yml",
    "azure_mfa_denies.yml",
];

#[test]
fn fields_that_never_resolve_on_their_source() {
    if sigma_cloud().is_none() {
        return;
    }
    let res = field_resolution();
    let never: BTreeSet<(String, String)> = res
        .iter()
        .filter(|(_, r)| **r == Resolved::Absent)
        .map(|(k, _)| k.clone())
        .collect();
    let want: BTreeSet<(String, String)> = NEVER_RESOLVED
        .iter()
        .map(|(r, f, _)| (r.to_string(), f.to_string()))
        .collect();
    assert_eq!(never, want);
    let object: BTreeSet<(String, String)> = res
        .iter()
        .filter(|(_, r)| **r == Resolved::Object)
        .map(|(k, _)| k.clone())
        .collect();
    let want: BTreeSet<(String, String)> = OBJECT_ONLY
        .iter()
        .map(|(r, f)| (r.to_string(), f.to_string()))
        .collect();
    assert_eq!(object, want);
    for rule in STATUS_AS_TEXT {
        let key = (rule.to_string(), "Status".to_string());
        // It resolves, but only ever to an object (never to `Success`).
        assert_eq!(res.get(&key), Some(&Resolved::Object), "{rule}");
        assert!(
            !fire_table(&SIGMA.rules).keys().any(|(r, _)| r == rule),
            "{rule} fired"
        );
    }
    let rules = res.keys().map(|(r, _)| r).collect::<BTreeSet<_>>().len();
    assert_eq!(rules, 75);
    assert_eq!(res.len(), 177);
    assert!(!res.values().any(|r| *r == Resolved::Null));
}

// ---------------------------------------------------------------------------------------------
// 5. What the field-mapping gaps cost: the same rules through a lenient view.

/// Parses a JSON text or Python-repr cell (`{...}` or `[...]`) into a value.
fn parse_text_cell(s: &str) -> Option<Value> {
    let t = s.trim();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str(t)
        .ok()
        .or_else(|| pyrepr::parse(t).ok())
}

/// Every value at `path` in `v`: keys matched ignoring case, arrays crossed (any member),
/// and JSON-text / Python-repr cells parsed when the path goes on inside them.
fn resolve_all(v: &Value, path: &[&str], out: &mut Vec<Value>) {
    let Some((seg, rest)) = path.split_first() else {
        out.push(v.clone());
        return;
    };
    match v {
        Value::Object(m) => {
            let next = m.get(*seg).or_else(|| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                    .map(|(_, x)| x)
            });
            if let Some(next) = next {
                resolve_all(next, rest, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| resolve_all(i, path, out)),
        Value::String(s) => {
            if let Some(parsed) = parse_text_cell(s) {
                resolve_all(&parsed, path, out);
            }
        }
        _ => {}
    }
}

fn owned_value(v: &Value) -> EventValue<'static> {
    match v {
        // An object compared with a string: its JSON text (as Splunk or Elastic keep it).
        Value::Object(_) => EventValue::Str(Cow::Owned(v.to_string())),
        Value::Array(items) => EventValue::Array(items.iter().map(owned_value).collect()),
        Value::String(s) => EventValue::Str(Cow::Owned(s.clone())),
        Value::Bool(b) => EventValue::Bool(*b),
        Value::Null => EventValue::Null,
        Value::Number(n) => match n.as_i64() {
            Some(i) => EventValue::Int(i),
            None => EventValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
    }
}

/// skein's view, except where it finds nothing, an object or an array: there the original
/// record is searched as it was sent (across arrays, inside JSON-text / Python-repr cells
/// wherever they are, also under `properties`), and objects are given as their JSON text.
/// This is roughly what a backend that keeps records as text (Splunk, Elastic, Sentinel's
/// KQL) compares: a dynamic column that came as text is offered as that text. What the view
/// answers with a scalar (canonical and sign-in fields among them) is unchanged.
struct Lenient<'v, 'e> {
    view: &'v EventView<'e>,
    raw: Option<Value>,
}

impl SigmaEvent for Lenient<'_, '_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        let strict = self.view.get_field(path);
        if !matches!(
            strict,
            None | Some(EventValue::Map(_)) | Some(EventValue::Array(_))
        ) {
            return strict;
        }
        let raw = self.raw.as_ref()?;
        let segs: Vec<&str> = path.split('.').collect();
        let mut found = Vec::new();
        resolve_all(raw, &segs, &mut found);
        if found.is_empty() {
            if let Some(p) = raw.get("properties") {
                resolve_all(p, &segs, &mut found);
            }
        }
        match found.len() {
            0 => strict,
            1 => Some(owned_value(&found[0])),
            _ => Some(EventValue::Array(found.iter().map(owned_value).collect())),
        }
    }
    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        self.view.any_string_value(pred)
    }
    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        self.view.all_string_values()
    }
    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        self.view.visit_string_values(visit)
    }
    fn to_json(&self) -> Value {
        self.view.to_json()
    }
}

/// Rules that match more with the lenient view: (rule, dataset, skein, lenient, why).
const GAP_COST: &[(&str, &str, u64, u64, &str)] = &[
    (
        "aws_disable_bucket_versioning.yml",
        "panther:cloudtrail-tests",
        0,
        4,
        "requestParameters|contains: Suspended on the object requestParameters \
         (VersioningConfiguration.Status Suspended)",
    ),
    (
        "aws_disable_bucket_versioning.yml",
        "splunk:cloudtrail-examples",
        0,
        1,
        "the same, on Splunk's real PutBucketVersioning example",
    ),
    (
        "azure_ad_sign_ins_from_unknown_devices.yml",
        "sentinel-notebooks:aad_logons",
        0,
        44,
        "NetworkLocationDetails: '[]' compares the column's text; the view parses the cell \
         into an empty array (DeviceDetail.deviceId now resolves inside the Python-repr \
         DeviceDetail column; see dynamic_columns_compared_as_text_no_longer_match)",
    ),
];

#[test]
fn what_the_field_mapping_gaps_cost() {
    if sigma_cloud().is_none() {
        return;
    }
    let strict = fire_table(&SIGMA.rules);
    let mut lenient: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in SIGMA.rules.rules() {
        let name = file_name(&r.path);
        let compiled = compile_rule(&SIGMA.parsed[name]).unwrap();
        for d in DATA.iter() {
            let mut n = 0;
            for e in d.events.iter().filter(|e| r.sources.contains(&e.source)) {
                let view = EventView::new(e);
                let ev = Lenient {
                    view: &view,
                    raw: serde_json::from_str(&e.raw).ok(),
                };
                if evaluate_rule(&compiled, &ev).is_some() {
                    n += 1;
                }
            }
            if n > 0 {
                lenient.insert((name.to_string(), d.name.clone()), n);
            }
        }
    }
    let mut diff = Vec::new();
    for (k, n) in &lenient {
        let s = strict.get(k).copied().unwrap_or(0);
        assert!(*n >= s, "{k:?}: lenient {n} < skein {s}");
        if *n != s {
            diff.push((k.0.clone(), k.1.clone(), s, *n));
        }
    }
    for k in strict.keys() {
        assert!(lenient.contains_key(k), "{k:?}: lenient view lost a match");
    }
    let want: Vec<(String, String, u64, u64)> = GAP_COST
        .iter()
        .map(|(r, d, s, n, _)| (r.to_string(), d.to_string(), *s, *n))
        .collect();
    assert_eq!(diff, want);
}

// ---------------------------------------------------------------------------------------------
// 6. The Sigma features the loaded rules use, checked on real records changed one field at a
//    time (the data has no record that exercises them both ways).

/// The record of a Stratus detonation log with the given API call.
fn stratus_record(technique: &str, event_name: &str) -> Value {
    let path = shared_data().join(format!(
        "stratus-red-team/docs/detonation-logs/aws.{technique}.json"
    ));
    let all: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    all.as_array()
        .and_then(|a| a.iter().find(|r| r["eventName"] == event_name))
        .cloned()
        .unwrap_or_else(|| panic!("{event_name} not in {}", path.display()))
}

fn event_of(record: &Value) -> Event {
    let mut d = ingest_values("one", [record.clone()]);
    assert_eq!(d.events.len(), 1, "{record}");
    d.events.remove(0)
}

/// True when the SigmaHQ rule in `file`, loaded alone by skein, matches `record`.
fn skein_fires(file: &str, record: &Value) -> bool {
    let text = SIGMA
        .files
        .iter()
        .find(|f| file_name(&f.path) == file)
        .unwrap_or_else(|| panic!("{file}"))
        .clone();
    let loaded = load(&[text], &[]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let mut stats = loaded.rules.new_stats();
    let mut out = Vec::new();
    loaded
        .rules
        .evaluate(&event_of(record), &mut out, &mut stats);
    stats.per_rule[0].matched == 1
}

#[test]
fn rsigma_features_work_through_the_view() {
    if sigma_cloud().is_none() {
        return;
    }
    // |re on userIdentity.arn.
    let rule = "aws_cloudtrail_imds_malicious_usage.yml";
    let mut r = stratus_record(
        "credential-access.ec2-steal-instance-credentials",
        "DescribeInstances",
    );
    assert!(!skein_fires(rule, &r));
    r["userIdentity"]["arn"] =
        "arn:aws:sts::017622104382:assumed-role/aws:ec2-instance/i-786a3A8B5C0d92eF4".into();
    assert!(skein_fires(rule, &r));
    r["sourceIPAddress"] = "AWS Internal".into();
    assert!(!skein_fires(rule, &r), "filter_main_generic");

    // errorCode: null (missing) versus a failure code.
    let rule = "aws_cloudtrail_vpc_flow_logs_deleted.yml";
    let mut r = stratus_record("defense-evasion.vpc-remove-flow-logs", "DeleteFlowLogs");
    assert!(skein_fires(rule, &r));
    r["errorCode"] = "Client.UnauthorizedOperation".into();
    assert!(!skein_fires(rule, &r));

    // |fieldref: the filter applies when the caller's ARN equals the target user name (which
    // compares an ARN with a user name, so it never applies to real records).
    let rule = "aws_update_login_profile.yml";
    let mut r = stratus_record(
        "privilege-escalation.iam-update-user-login-profile",
        "UpdateLoginProfile",
    );
    assert!(skein_fires(rule, &r));
    r["requestParameters"]["userName"] = r["userIdentity"]["arn"].clone();
    assert!(!skein_fires(rule, &r));

    // |startswith on eventName and |contains '*' on an array of strings.
    let rule = "aws_new_lambda_layer_attached.yml";
    let mut r = stratus_record(
        "persistence.lambda-layer-extension",
        "UpdateFunctionConfiguration20150331v2",
    );
    assert!(skein_fires(rule, &r));
    r["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("layers");
    assert!(!skein_fires(rule, &r));

    // ResultType compared as a number with the model's text code.
    let rule = "azure_account_lockout.yml";
    let lockouts = DATA
        .iter()
        .find(|d| d.name == "panther:azure-tests")
        .unwrap()
        .events
        .iter()
        .filter(|e| e.outcome.error_code.as_deref() == Some("50053"))
        .count();
    assert_eq!(lockouts, 2);
    assert_eq!(
        fire_table(&SIGMA.rules)[&(rule.to_string(), "panther:azure-tests".to_string())],
        2
    );
}

/// An ECS `RegisterTaskDefinition` request on a real record's envelope: one container
/// definition per command (`requestParameters.containerDefinitions` is a list).
fn register_task_definition(commands: &[&[&str]]) -> Value {
    let mut r = stratus_record("persistence.iam-backdoor-user", "CreateAccessKey");
    r["eventSource"] = "ecs.amazonaws.com".into();
    r["eventName"] = "RegisterTaskDefinition".into();
    let containers: Vec<Value> = commands
        .iter()
        .enumerate()
        .map(|(i, c)| serde_json::json!({"name": format!("c{i}"), "image": "alpine", "command": c}))
        .collect();
    r["requestParameters"] = serde_json::json!({
        "family": "exfil",
        "containerDefinitions": containers,
    });
    r
}

/// A dotted path that crosses an array (`requestParameters.containerDefinitions` is a list of
/// container definitions) is followed into every member, as rsigma's own `JsonEvent` does, so
/// `aws_ecs_task_definition_cred_endpoint_query.yml` matches the call it is written for (the
/// real data has no ECS call, so this is checked on a real envelope with an ECS request).
#[test]
fn array_paths_are_followed() {
    if sigma_cloud().is_none() {
        return;
    }
    let rule = "aws_ecs_task_definition_cred_endpoint_query.yml";
    let compiled = compile_rule(&SIGMA.parsed[rule]).unwrap();
    let query = "curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
    let benign: &[&str] = &["sh", "-c", "echo hello"];
    let stealing: &[&str] = &["sh", "-c", query];
    // (containers, does the rule match)
    let cases: &[(&[&[&str]], bool)] = &[
        (&[stealing], true),
        // The query in the second of two containers: every member is searched.
        (&[benign, stealing], true),
        (&[benign], false),
        (&[benign, benign], false),
    ];
    for (containers, want) in cases {
        let r = register_task_definition(containers);
        // skein agrees with rsigma's JsonEvent on the record as sent.
        let json = evaluate_rule(&compiled, &JsonEvent::borrow(&r)).is_some();
        assert_eq!(json, *want, "JsonEvent, {containers:?}");
        assert_eq!(skein_fires(rule, &r), *want, "skein, {containers:?}");
    }
    // One container: its command list. Two: an array of both command lists.
    let e = event_of(&register_task_definition(&[stealing]));
    let view = EventView::new(&e);
    let Some(EventValue::Array(one)) =
        view.get_field("requestParameters.containerDefinitions.command")
    else {
        panic!("not an array");
    };
    assert_eq!(one.len(), 3);
    let e = event_of(&register_task_definition(&[benign, stealing]));
    let view = EventView::new(&e);
    let Some(EventValue::Array(two)) =
        view.get_field("requestParameters.containerDefinitions.command")
    else {
        panic!("not an array");
    };
    assert_eq!(two.len(), 2);
    assert!(two
        .iter()
        .all(|c| matches!(c, EventValue::Array(v) if v.len() == 3)));
    // A scalar member field through the array: both names.
    let Some(EventValue::Array(names)) =
        view.get_field("requestParameters.containerDefinitions.name")
    else {
        panic!("not an array");
    };
    let names: Vec<String> = names
        .iter()
        .map(|n| n.as_str().unwrap().into_owned())
        .collect();
    assert_eq!(names, ["c0", "c1"]);
    // A path that finds nothing in any member is absent.
    assert!(view
        .get_field("requestParameters.containerDefinitions.nope")
        .is_none());
}

// ---------------------------------------------------------------------------------------------
// 7. Placeholder rules (`rules-placeholder/cloud`): `|expand` needs a list.

fn placeholder_rules() -> Vec<SourceText> {
    texts(
        &shared_data().join("sigma/rules-placeholder/cloud"),
        &["yml", "yaml"],
    )
}

/// SigmaHQ's placeholder rules expect their values (`%Known_Location%`, `%HomeTenantID%`, ...)
/// from a processing pipeline. skein fills them from the list of the same name
/// (`correlations/lists/<name>.txt`); SigmaHQ ships no lists, so without them none of the 8
/// loads. Each file's diagnostics name the placeholders it needs, one per missing list, in
/// sorted order. (file, placeholders)
const PLACEHOLDERS_NEEDED: &[(&str, &[&str])] = &[
    (
        "aws_cloudtrail_console_login_success_from_susp_locations.yml",
        &["Legitimate_Countries", "Legitimate_IP_Ranges"],
    ),
    (
        "azure_ad_account_created_deleted_nonapproved_user.yml",
        &["ApprovedUserUpn"],
    ),
    (
        "azure_ad_guest_users_invited_to_tenant_by_non_approved_inviters.yml",
        &["Approved_Inviters"],
    ),
    (
        "azure_ad_auth_to_important_apps_using_single_factor_auth.yml",
        &["Important_AppIds"],
    ),
    (
        "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml",
        &["Known_Location"],
    ),
    (
        "azure_ad_failed_auth_from_countries_you_do_not_operate_out_of.yml",
        &["KNOWN_LOCATION"],
    ),
    (
        "azure_privileged_account_sigin_expected_controls.yml",
        &["UnApprovedDevice", "UnApprovedIp", "UnLegitCountries"],
    ),
    (
        "azure_users_authenticating_to_other_azure_ad_tenants.yml",
        &["HomeTenantID"],
    ),
];

/// The placeholder a "needs a list" diagnostic names, after checking the message's exact form
/// and that its line is the `|expand` line that uses the placeholder (the message quotes
/// `'%name%'`, which is how the loader finds that line). `None` for any other diagnostic.
fn missing_list(d: &skein_rules::Diagnostic) -> Option<String> {
    let name = d
        .message
        .strip_prefix("placeholder '%")?
        .split_once("%'")?
        .0
        .to_string();
    assert_eq!(
        d.message,
        format!("placeholder '%{name}%' (|expand) needs a list: lists/{name}.txt")
    );
    let text = std::fs::read_to_string(&d.path).unwrap();
    let line = text.lines().nth(d.line - 1).unwrap_or_default();
    assert!(
        line.contains("|expand") && line.contains(&format!("'%{name}%'")),
        "{}:{} is not the line using %{name}%: {line:?}",
        d.path,
        d.line
    );
    Some(name)
}

/// (file, placeholders as reported) from the "needs a list" diagnostics, and (file, reason)
/// for every other diagnostic, both in the loader's order. The loader reports a file's
/// placeholders sorted by name, so no sorting happens here.
type Split = (Vec<(String, Vec<String>)>, Vec<(String, String)>);

fn placeholders_needed(diagnostics: &[skein_rules::Diagnostic]) -> Split {
    let mut needed: Vec<(String, Vec<String>)> = Vec::new();
    let mut other = Vec::new();
    for d in diagnostics {
        let file = file_name(&d.path).to_string();
        let Some(name) = missing_list(d) else {
            other.push((file, reason(&d.message)));
            continue;
        };
        match needed.last_mut() {
            Some((f, names)) if *f == file => names.push(name),
            _ => needed.push((file, vec![name])),
        }
    }
    for (file, names) in &needed {
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(*names, sorted, "{file}: placeholders not in sorted order");
    }
    (needed, other)
}

#[test]
fn placeholder_rules_need_lists() {
    if sigma_cloud().is_none() {
        return;
    }
    let files = placeholder_rules();
    assert_eq!(files.len(), 8);
    let loaded = load(&files, &[]);
    assert_eq!(loaded.rules.rules().len(), 0);
    let want: Vec<(String, Vec<String>)> = PLACEHOLDERS_NEEDED
        .iter()
        .map(|(f, n)| (f.to_string(), n.iter().map(|s| s.to_string()).collect()))
        .collect();
    let (needed, other) = placeholders_needed(&loaded.diagnostics);
    assert_eq!(needed, want);
    // A missing list no longer stops the loader: the two audit-log rules are reported for
    // their logsource too.
    assert_eq!(
        other,
        vec![
            (
                "azure_ad_account_created_deleted_nonapproved_user.yml".to_string(),
                "logsource azure/auditlogs".to_string()
            ),
            (
                "azure_ad_guest_users_invited_to_tenant_by_non_approved_inviters.yml".to_string(),
                "logsource azure/auditlogs".to_string()
            ),
        ]
    );
    // 13 diagnostics, every one with the line it points at. The placeholder lines are the
    // `|expand` lines. A logsource diagnostic points at the first line mentioning "azure":
    // a `references:` URL (line 6) in one file, `product: azure` (line 18) in the other.
    let lines: Vec<(&str, usize)> = loaded
        .diagnostics
        .iter()
        .map(|d| (file_name(&d.path), d.line))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                "aws_cloudtrail_console_login_success_from_susp_locations.yml",
                25
            ),
            (
                "aws_cloudtrail_console_login_success_from_susp_locations.yml",
                27
            ),
            ("azure_ad_account_created_deleted_nonapproved_user.yml", 26),
            ("azure_ad_account_created_deleted_nonapproved_user.yml", 16),
            (
                "azure_ad_guest_users_invited_to_tenant_by_non_approved_inviters.yml",
                25
            ),
            (
                "azure_ad_guest_users_invited_to_tenant_by_non_approved_inviters.yml",
                17
            ),
            (
                "azure_ad_auth_to_important_apps_using_single_factor_auth.yml",
                22
            ),
            (
                "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml",
                26
            ),
            (
                "azure_ad_failed_auth_from_countries_you_do_not_operate_out_of.yml",
                23
            ),
            ("azure_privileged_account_sigin_expected_controls.yml", 26),
            ("azure_privileged_account_sigin_expected_controls.yml", 24),
            ("azure_privileged_account_sigin_expected_controls.yml", 23),
            (
                "azure_users_authenticating_to_other_azure_ad_tenants.yml",
                22
            ),
        ]
    );
    // The same diagnostics, in the same order, on every load (no HashMap order).
    let text = |l: &skein_rules::load::Loaded| -> Vec<String> {
        l.diagnostics.iter().map(|d| d.to_string()).collect()
    };
    for _ in 0..8 {
        assert_eq!(text(&load(&files, &[])), text(&loaded));
    }
    // The 180 rules of rules/cloud use no |expand (FEATURES), so this does not touch them.
}

/// One value per placeholder, as a user would write `correlations/lists/<name>.txt`: values
/// taken from the data (a country, a tenant, the Azure Portal's app id, the Stratus console
/// login's address) so that the filters can hold.
const PLACEHOLDER_LISTS: &[(&str, &str)] = &[
    ("Legitimate_Countries", "US"),
    ("Legitimate_IP_Ranges", "225.1.0.16"),
    ("ApprovedUserUpn", "admin@example.com"),
    ("Approved_Inviters", "admin@example.com"),
    ("Important_AppIds", "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"),
    ("Known_Location", "US"),
    ("KNOWN_LOCATION", "US"),
    ("UnLegitCountries", "RU"),
    ("UnApprovedIp", "4.4.4.4"),
    ("UnApprovedDevice", "device-attacker-456"),
    ("HomeTenantID", "4328f0a8-06da-4457-b0d0-2c8e115e52cc"),
];

fn placeholder_lists() -> Vec<SourceText> {
    PLACEHOLDER_LISTS
        .iter()
        .map(|(name, value)| SourceText {
            path: format!("lists/{name}.txt"),
            text: format!("# {name}\n{value}\n"),
        })
        .collect()
}

/// With the lists above: (rule, dataset, matched, events of the rule's source in it).
const PLACEHOLDER_FIRES: &[(&str, &str, u64, usize)] = &[
    // Every successful console login except the Stratus one from the listed address (the
    // other filter, src_country, is not a CloudTrail field and never holds).
    (
        "aws_cloudtrail_console_login_success_from_susp_locations.yml",
        "panther:cloudtrail-tests",
        16,
        445,
    ),
    (
        "aws_cloudtrail_console_login_success_from_susp_locations.yml",
        "panther:test-scenarios",
        8,
        27,
    ),
    // Successful single-factor sign-ins to the Azure Portal.
    (
        "azure_ad_auth_to_important_apps_using_single_factor_auth.yml",
        "sentinel-notebooks:aad_logons",
        6,
        86,
    ),
    // Successful sign-ins whose `location` does not contain US (`|contains|expand`, see
    // `expand_fills_values_from_lists_as_literal_text`): the 61 Belgian rows of the
    // Sentinel export; in Panther's fixtures the RU one and the 8 whose `location` is absent
    // (6) or an object (2, Graph-style `location{city, countryOrRegion, ...}`, which a string
    // never matches).
    (
        "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml",
        "panther:azure-tests",
        9,
        26,
    ),
    (
        "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml",
        "sentinel-notebooks:aad_logons",
        61,
        86,
    ),
    // Not (successful and from US): the above plus every failure (Panther 11, Sentinel 2,
    // and the Splunk and Graph samples, which are failures).
    (
        "azure_ad_failed_auth_from_countries_you_do_not_operate_out_of.yml",
        "msgraph:beta-signin-list",
        1,
        1,
    ),
    (
        "azure_ad_failed_auth_from_countries_you_do_not_operate_out_of.yml",
        "panther:azure-tests",
        20,
        26,
    ),
    (
        "azure_ad_failed_auth_from_countries_you_do_not_operate_out_of.yml",
        "sentinel-notebooks:aad_logons",
        63,
        86,
    ),
    (
        "azure_ad_failed_auth_from_countries_you_do_not_operate_out_of.yml",
        "splunk:azure-aad-examples",
        1,
        1,
    ),
    // homeTenantId is the listed tenant and resourceTenantId another: Panther's two
    // cross-tenant LegacyAuth fixtures.
    (
        "azure_users_authenticating_to_other_azure_ad_tenants.yml",
        "panther:azure-tests",
        2,
        26,
    ),
    // azure_privileged_account_sigin_expected_controls (RU, 4.4.4.4, a device id, on a
    // failed sign-in) matches nothing: the one RU sign-in succeeded.
];

/// (rule, dataset) → (matched, events of the rule's source in that dataset).
fn fires_of(rules: &RuleSet) -> Vec<(String, String, u64, usize)> {
    fire_table(rules)
        .iter()
        .map(|((r, d), n)| {
            let rule = rules
                .rules()
                .iter()
                .find(|x| file_name(&x.path) == r)
                .unwrap();
            let of = DATA
                .iter()
                .find(|x| &x.name == d)
                .unwrap()
                .events
                .iter()
                .filter(|e| rule.sources.contains(&e.source))
                .count();
            (r.clone(), d.clone(), *n, of)
        })
        .collect()
}

#[test]
fn placeholder_rules_with_lists() {
    if sigma_cloud().is_none() {
        return;
    }
    let loaded = load(&placeholder_rules(), &placeholder_lists());
    assert_eq!(loaded.rules.rules().len(), 6);
    // With their lists, the two audit-log rules fail on their logsource.
    let reasons: Vec<(&str, String)> = loaded
        .diagnostics
        .iter()
        .map(|d| (file_name(&d.path), reason(&d.message)))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                "azure_ad_account_created_deleted_nonapproved_user.yml",
                "logsource azure/auditlogs".to_string()
            ),
            (
                "azure_ad_guest_users_invited_to_tenant_by_non_approved_inviters.yml",
                "logsource azure/auditlogs".to_string()
            ),
        ]
    );
    let want: Vec<(String, String, u64, usize)> = PLACEHOLDER_FIRES
        .iter()
        .map(|(r, d, n, of)| (r.to_string(), d.to_string(), *n, *of))
        .collect();
    assert_eq!(fires_of(&loaded.rules), want);

    // A list with several entries gives several values, OR-ed: US or BE silences the
    // countries rule on the Sentinel export (all its sign-ins are from one or the other).
    let rule = placeholder_rules()
        .into_iter()
        .find(|f| {
            file_name(&f.path)
                == "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml"
        })
        .unwrap();
    let two = SourceText {
        path: "lists/Known_Location.txt".into(),
        text: "US\nBE\n".into(),
    };
    let loaded = load(&[rule], &[two]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let got: Vec<(String, u64, usize)> = fires_of(&loaded.rules)
        .into_iter()
        .map(|(_, d, n, of)| (d, n, of))
        .collect();
    assert_eq!(got, vec![("panther:azure-tests".to_string(), 9, 26)]);
}

/// A list file with no entries (only comments) is a load error, like a missing one (with no
/// values a placeholder would have nothing to match; rsigma's own placeholder step filled it
/// from the event, and "not from a known location" fired on 84 of 86 Sentinel rows and 15 of
/// 26 Panther sign-ins).
#[test]
fn placeholder_with_an_empty_list_is_a_load_error() {
    if sigma_cloud().is_none() {
        return;
    }
    let rule = placeholder_rules()
        .into_iter()
        .find(|f| {
            file_name(&f.path)
                == "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml"
        })
        .unwrap();
    let empty = SourceText {
        path: "lists/Known_Location.txt".into(),
        text: "# the countries we operate from\n".into(),
    };
    let loaded = load(&[rule], &[empty]);
    assert_eq!(loaded.rules.rules().len(), 0);
    let got: Vec<(&str, usize, &str)> = loaded
        .diagnostics
        .iter()
        .map(|d| (file_name(&d.path), d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![(
            "azure_ad_authentications_from_countries_you_do_not_operate_out_of.yml",
            26,
            "placeholder '%Known_Location%' (|expand): list lists/Known_Location.txt has no \
             entries"
        )]
    );
}

/// A test rule over the Sentinel export's `ConditionalAccessPolicies` (a dynamic column, a
/// Python-repr list of policies) with `detection` as given; `sigma-version: 3` makes
/// `field[any]` an array block.
fn policy_rule(detection: &str) -> SourceText {
    SourceText {
        path: "rules/ca_policy.yml".into(),
        text: format!(
            "title: CA policy\nid: ca-policy\nsigma-version: 3\nlogsource:\n    product: azure\n    \
             service: signinlogs\ndetection:\n{detection}    condition: selection\nlevel: low\n"
        ),
    }
}

/// The events `rules` (one rule) matches: (dataset, index of the event in it).
fn matched_events(rules: &RuleSet) -> Vec<(String, usize)> {
    assert_eq!(rules.rules().len(), 1);
    let mut out = Vec::new();
    for d in DATA.iter() {
        for (i, e) in d.events.iter().enumerate() {
            let mut stats = rules.new_stats();
            rules.evaluate(e, &mut Vec::new(), &mut stats);
            if stats.per_rule[0].matched == 1 {
                out.push((d.name.clone(), i));
            }
        }
    }
    out
}

/// Placeholders are found in every kind of detection block, not only in plain mappings: in a
/// `field[any]` array block, in a mapping that mixes items with an array block (`And`), and in
/// an array block with its own condition (`Conditional`). Each needs its list (before, the
/// loader did not see them, and rsigma expanded them from the event) and, given a list
/// holding `Azure MFA`, matches exactly the rows the literal `displayName: Azure MFA` matches:
/// 84 of the 86 Sentinel rows (every row whose policy list names it; it is `notEnabled` on
/// all of them). No other dataset has `ConditionalAccessPolicies` (the Graph, Panther and
/// Splunk sign-ins call it `appliedConditionalAccessPolicies`).
#[test]
fn placeholders_in_array_blocks_need_and_use_their_list() {
    if sigma_cloud().is_none() {
        return;
    }
    let policies = |names: &str| SourceText {
        path: "lists/Approved_Policies.txt".into(),
        text: names.into(),
    };
    // (block, detection with `{v}` for the value, line of the value)
    let forms = [
        (
            "ArrayMatch",
            "    selection:\n        ConditionalAccessPolicies[any]:\n            displayName{v}\n",
            10,
        ),
        (
            "And",
            "    selection:\n        ResultType: 0\n        ConditionalAccessPolicies[any]:\n            \
             displayName{v}\n",
            11,
        ),
        (
            "Conditional",
            "    selection:\n        ConditionalAccessPolicies[any]:\n            condition: named \
             and not applied\n            named:\n                displayName{v}\n            \
             applied:\n                result: success\n",
            12,
        ),
    ];
    for (block, detection, line) in forms {
        let literal = [policy_rule(&detection.replace("{v}", ": 'Azure MFA'"))];
        let parsed = parse_sigma_yaml(&literal[0].text).unwrap();
        let shape = match &parsed.rules[0].detection.named["selection"] {
            Detection::ArrayMatch { body, .. } => match **body {
                Detection::Conditional { .. } => "Conditional",
                _ => "ArrayMatch",
            },
            Detection::And(_) => "And",
            other => panic!("{block}: {other:?}"),
        };
        assert_eq!(shape, block);
        let literal = load(&literal, &[]);
        assert!(literal.diagnostics.is_empty(), "{:?}", literal.diagnostics);
        let want = matched_events(&literal.rules);
        assert_eq!(want.len(), 84, "{block}");
        assert!(want
            .iter()
            .all(|(d, _)| d == "sentinel-notebooks:aad_logons"));
        assert_eq!(
            fires_of(&literal.rules),
            vec![(
                "ca_policy.yml".to_string(),
                "sentinel-notebooks:aad_logons".to_string(),
                84,
                86
            )],
            "{block}"
        );

        let expand = [policy_rule(
            &detection.replace("{v}", "|expand: '%Approved_Policies%'"),
        )];
        let diagnostics = |lists: &[SourceText]| -> Vec<(usize, String)> {
            load(&expand, lists)
                .diagnostics
                .into_iter()
                .map(|d| (d.line, d.message))
                .collect()
        };
        assert_eq!(
            diagnostics(&[]),
            vec![(
                line,
                "placeholder '%Approved_Policies%' (|expand) needs a list: \
                 lists/Approved_Policies.txt"
                    .to_string()
            )],
            "{block}"
        );
        assert_eq!(
            diagnostics(&[policies("# none yet\n")]),
            vec![(
                line,
                "placeholder '%Approved_Policies%' (|expand): list lists/Approved_Policies.txt \
                 has no entries"
                    .to_string()
            )],
            "{block}"
        );
        let with = load(&expand, &[policies("Azure MFA\n")]);
        assert!(
            with.diagnostics.is_empty(),
            "{block}: {:?}",
            with.diagnostics
        );
        assert_eq!(matched_events(&with.rules), want, "{block}");
        // The list's values are what is compared: a policy no row has matches nothing.
        let other = load(&expand, &[policies("No such policy\n")]);
        assert!(
            other.diagnostics.is_empty(),
            "{block}: {:?}",
            other.diagnostics
        );
        assert!(matched_events(&other.rules).is_empty(), "{block}");
    }
}

/// `|expand` values hold one placeholder each: a value with several is a load error, whether
/// or not their lists exist (no SigmaHQ rule needs the cross product of two lists). The error
/// quotes the value, so it points at its line.
#[test]
fn several_placeholders_in_one_value_are_a_load_error() {
    if sigma_cloud().is_none() {
        return;
    }
    let rule = [SourceText {
        path: "rules/two.yml".into(),
        text: "title: Two\nid: two\nlogsource:\n    product: azure\n    service: signinlogs\n\
               detection:\n    selection:\n        ResultType: 0\n        \
               Location|expand: '%Known_Location%%Other_Location%'\n    condition: selection\n\
               level: low\n"
            .into(),
    }];
    let list = |name: &str| SourceText {
        path: format!("lists/{name}.txt"),
        text: "US\n".into(),
    };
    let got = |lists: &[SourceText]| -> Vec<(usize, String)> {
        let loaded = load(&rule, lists);
        assert_eq!(loaded.rules.rules().len(), 0);
        loaded
            .diagnostics
            .into_iter()
            .map(|d| (d.line, d.message))
            .collect()
    };
    let several = (
        9,
        "'%Known_Location%%Other_Location%': one placeholder per |expand value is supported"
            .to_string(),
    );
    assert_eq!(
        got(&[list("Known_Location"), list("Other_Location")]),
        vec![several.clone()]
    );
    // Whether or not its lists exist: the value is refused before any list is looked up.
    assert_eq!(got(&[list("Known_Location")]), vec![several.clone()]);
    // With one placeholder the same rule loads.
    let one = [SourceText {
        path: rule[0].path.clone(),
        text: rule[0].text.replace("%Other_Location%", ""),
    }];
    let loaded = load(&one, &[list("Known_Location")]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

/// `|expand` placeholders are filled by skein from the lists, as literal values with the
/// item's other modifiers kept (rsigma's own placeholder step had three gaps, fixed):
/// 1. `|contains|expand` is a substring match, exactly like `|contains` on the entries
///    (SigmaHQ's countries and tenant rules use it);
/// 2. a list entry that holds `%name%` is literal text, never filled from the event;
/// 3. a value without `|expand` is never filled from a list, even when another item of the
///    rule expands the same name.
#[test]
fn expand_fills_values_from_lists_as_literal_text() {
    if sigma_cloud().is_none() {
        return;
    }
    let fires = |detection: &str, condition: &str, lists: &[(&str, &str)]| {
        let rule = SourceText {
            path: "rules/gap.yml".into(),
            text: format!(
                "title: Gap\nid: gap\nlogsource:\n    product: azure\n    service: signinlogs\n\
                 detection:\n{detection}    condition: {condition}\nlevel: low\n"
            ),
        };
        let lists: Vec<SourceText> = lists
            .iter()
            .map(|(name, text)| SourceText {
                path: format!("lists/{name}.txt"),
                text: text.to_string(),
            })
            .collect();
        let loaded = load(&[rule], &lists);
        assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
        fires_of(&loaded.rules)
            .into_iter()
            .map(|(_, d, n, of)| (d, n, of))
            .collect::<Vec<_>>()
    };
    let row = |d: &str, n: u64, of: usize| (d.to_string(), n, of);
    // 1. `|contains: U` matches US and RU; `|contains|expand` with the entry `U` is the same.
    let contains_u = vec![
        row("panther:azure-tests", 7, 26),
        row("sentinel-notebooks:aad_logons", 25, 86),
        row("splunk:azure-aad-examples", 1, 1),
    ];
    assert_eq!(
        fires(
            "    selection:\n        Location|contains: U\n",
            "selection",
            &[]
        ),
        contains_u
    );
    let contains = "    selection:\n        Location|contains|expand: '%Known_Location%'\n";
    assert_eq!(
        fires(contains, "selection", &[("Known_Location", "U\n")]),
        contains_u
    );
    assert_eq!(
        fires(contains, "selection", &[("Known_Location", "us\n")]),
        fires(
            "    selection:\n        Location|contains: us\n",
            "selection",
            &[]
        )
    );
    // 2. An entry `%Location%` is literal: no record's Location is that text.
    let exact = "    selection:\n        Location|expand: '%Known_Location%'\n";
    assert_eq!(
        fires(exact, "selection", &[("Known_Location", "%Location%\n")]),
        vec![]
    );
    // ... while a real entry matches its rows exactly.
    assert_eq!(
        fires(exact, "selection", &[("Known_Location", "BE\n")]),
        vec![row("sentinel-notebooks:aad_logons", 61, 86)]
    );
    // 3. `Location: '%Known_Location%'` stays literal, alone or beside an `|expand` of the
    //    same name (whose AppId never equals BE).
    let plain = "    selection:\n        Location: '%Known_Location%'\n";
    assert_eq!(fires(plain, "selection", &[]), vec![]);
    let beside = format!("{plain}    other:\n        AppId|expand: '%Known_Location%'\n");
    assert_eq!(
        fires(&beside, "selection or other", &[("Known_Location", "BE\n")]),
        vec![]
    );
}

/// The other SigmaHQ cloud folders, loaded as they are: `rules-threat-hunting/cloud` (its
/// one rule loads) and `deprecated/cloud` (2 load; 3 need placeholder lists; 2 are for
/// activity / audit logs). (folder, loaded, placeholders needed per file, other reasons)
#[test]
fn other_sigmahq_cloud_folders() {
    if sigma_cloud().is_none() {
        return;
    }
    let load_dir = |sub: &str| {
        let l = load(
            &texts(&shared_data().join("sigma").join(sub), &["yml", "yaml"]),
            &[],
        );
        let names: Vec<String> = l
            .rules
            .rules()
            .iter()
            .map(|r| file_name(&r.path).to_string())
            .collect();
        (names, l.diagnostics)
    };
    let (names, diags) = load_dir("rules-threat-hunting/cloud");
    assert_eq!(names, ["azure_ad_signin_axios_user_agent.yml"]);
    assert!(diags.is_empty());
    let (names, diags) = load_dir("deprecated/cloud");
    assert_eq!(
        names,
        [
            "azure_ad_auth_failure_increase.yml",
            "azure_ad_auth_sucess_increase.yml"
        ]
    );
    assert_eq!(diags.len(), 10);
    let (got, other) = placeholders_needed(&diags);
    let want: Vec<(String, Vec<String>)> = [
        (
            "azure_ad_account_signin_outside_hours.yml",
            &["ClosingTime", "LegitCountries"][..],
        ),
        (
            "azure_privileged_account_no_saw_paw.yml",
            &["LegitCountries", "UnApprovedDevice", "UnApprovedIp"][..],
        ),
        (
            "azure_privileged_account_signin_outside_hours.yml",
            &["ApprovedUserUpn", "ClosingTime", "LegitCountries"][..],
        ),
    ]
    .iter()
    .map(|(f, n)| (f.to_string(), n.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(got, want);
    let other: Vec<(&str, &str)> = other
        .iter()
        .map(|(f, r)| (f.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        other,
        vec![
            (
                "azure_app_credential_modification.yml",
                "logsource azure/activitylogs"
            ),
            (
                "azure_app_permissions_for_api.yml",
                "logsource azure/auditlogs"
            ),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Log Analytics dynamic columns.

/// Log Analytics `dynamic` columns (`DeviceDetail`, `Status`, `LocationDetails`, ...) arrive
/// from the query API as JSON text and in the pandas export as Python-repr text. The view
/// parses such top-level cells of a Log Analytics record before looking a field up, so
/// `DeviceDetail.isCompliant` resolves the same whether the cell is an object, JSON text,
/// Python-repr text, or a cell of a query-API table.
#[test]
fn dynamic_columns_sent_as_text_are_read() {
    if sigma_cloud().is_none() {
        return;
    }
    let rule = "azure_ad_sign_ins_from_noncompliant_devices.yml";
    let path = shared_data().join("azure-sentinel-notebooks/aad_logons.converted.jsonl");
    let original = jsonl(&path).remove(0);
    // As exported: Python-repr text.
    assert_eq!(
        original["DeviceDetail"],
        "{'operatingSystem': 'Windows 10', 'deviceId': '', 'browser': 'Edge 81.0.416'}"
    );
    assert!(
        !skein_fires(rule, &original),
        "no isCompliant in the export"
    );
    let e = event_of(&original);
    let view = EventView::new(&e);
    assert_eq!(
        view.get_field("DeviceDetail.operatingSystem")
            .and_then(|v| v.as_str().map(|s| s.into_owned())),
        Some("Windows 10".to_string())
    );
    assert_eq!(
        view.get_field("LocationDetails.countryOrRegion")
            .and_then(|v| v.as_str().map(|s| s.into_owned())),
        Some("US".to_string())
    );
    assert!(matches!(view.get_field("Status"), Some(EventValue::Map(_))));
    assert!(matches!(
        view.get_field("ConditionalAccessPolicies.displayName"),
        Some(EventValue::Array(names)) if names.len() == 12
    ));

    let mut row = original.clone();
    let device = serde_json::json!({"deviceId": "", "operatingSystem": "Windows 10",
                                    "browser": "Edge 81.0.416", "isCompliant": false});
    // The cell as an object.
    row["DeviceDetail"] = device.clone();
    assert!(skein_fires(rule, &row));
    // The cell as JSON text (Log Analytics query API).
    row["DeviceDetail"] = device.to_string().into();
    assert!(skein_fires(rule, &row));
    // The cell as Python-repr text (pandas export).
    row["DeviceDetail"] =
        "{'deviceId': '', 'operatingSystem': 'Windows 10', 'isCompliant': False}".into();
    assert!(skein_fires(rule, &row));
    // The same row inside a query-API table.
    row["DeviceDetail"] = device.to_string().into();
    let obj = row.as_object().unwrap();
    let table = serde_json::json!({
        "name": "PrimaryResult",
        "columns": obj.keys().map(|k| serde_json::json!({"name": k, "type": "string"}))
            .collect::<Vec<_>>(),
        "rows": [obj.values().cloned().collect::<Vec<_>>()],
    });
    assert!(skein_fires(rule, &table));
    // A compliant device does not match.
    row["DeviceDetail"] = "{'deviceId': '', 'isCompliant': True}".into();
    assert!(!skein_fires(rule, &row));
}

/// The other side of parsing dynamic columns: a rule that compares such a column with its
/// *text* no longer matches it. `azure_ad_sign_ins_from_unknown_devices.yml` wants
/// `NetworkLocationDetails: '[]'` (the text Log Analytics shows for an empty list); the view
/// now gives the parsed empty array, as Graph and diagnostic records have it, so the rule
/// matches no record of any shape. The 44 single-factor successful sign-ins of the Sentinel
/// export that it is written for (`deviceId` empty) match only when the cell is read as the
/// text it was sent as (see GAP_COST).
#[test]
fn dynamic_columns_compared_as_text_no_longer_match() {
    if sigma_cloud().is_none() {
        return;
    }
    let rule = "azure_ad_sign_ins_from_unknown_devices.yml";
    let path = shared_data().join("azure-sentinel-notebooks/aad_logons.converted.jsonl");
    let row = jsonl(&path).remove(0);
    assert_eq!(row["NetworkLocationDetails"], "[]");
    assert_eq!(
        row["AuthenticationRequirement"],
        "singleFactorAuthentication"
    );
    let e = event_of(&row);
    let view = EventView::new(&e);
    assert!(matches!(
        view.get_field("NetworkLocationDetails"),
        Some(EventValue::Array(items)) if items.is_empty()
    ));
    assert_eq!(
        view.get_field("DeviceDetail.deviceId")
            .and_then(|v| v.as_str().map(|s| s.into_owned())),
        Some(String::new())
    );
    assert!(!skein_fires(rule, &row));
    let compiled = compile_rule(&SIGMA.parsed[rule]).unwrap();
    let lenient = Lenient {
        view: &view,
        raw: Some(row.clone()),
    };
    assert!(evaluate_rule(&compiled, &lenient).is_some());
}
