//! Builders for CloudTrail records: API calls with plausible request parameters, STS role
//! assumption (SAML, web identity, service), and console sign-ins.

use std::borrow::Cow;

use crate::cloudtrail::{CtRecord, Identity};
use crate::population::Population;
use crate::rng::{aws_key, Rng};
use crate::time::{aws_expiration, HOUR};

/// `eventSource` of an API.
pub fn source_of(api: &str) -> &'static str {
    match api {
        "GetCallerIdentity" | "AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity" => {
            "sts.amazonaws.com"
        }
        "ListBuckets" | "GetBucketLocation" | "ListObjects" | "GetObject" | "PutObject"
        | "GetBucketPolicy" | "GetBucketAcl" => "s3.amazonaws.com",
        "GetAuthorizationToken"
        | "BatchCheckLayerAvailability"
        | "PutImage"
        | "InitiateLayerUpload" => "ecr.amazonaws.com",
        "DescribeStacks" | "CreateChangeSet" | "ExecuteChangeSet" | "DescribeStackEvents" => {
            "cloudformation.amazonaws.com"
        }
        "UpdateFunctionCode20150331v2" | "GetFunction" | "Invoke" | "ListFunctions20150331" => {
            "lambda.amazonaws.com"
        }
        "FilterLogEvents" | "DescribeLogGroups" => "logs.amazonaws.com",
        "GetParameter" | "GetParameters" => "ssm.amazonaws.com",
        "Decrypt" | "GenerateDataKey" => "kms.amazonaws.com",
        "ConsoleLogin" => "signin.amazonaws.com",
        "GetSecretValue" => "secretsmanager.amazonaws.com",
        n if n.starts_with("Describe") => "ec2.amazonaws.com",
        _ => "iam.amazonaws.com",
    }
}

fn is_data_event(api: &str) -> bool {
    matches!(api, "GetObject" | "PutObject" | "ListObjects" | "Invoke")
}

fn is_read_only(api: &str) -> bool {
    ["Get", "List", "Describe", "Filter", "BatchCheck", "Lookup"]
        .iter()
        .any(|p| api.starts_with(p))
        || api == "Decrypt"
}

/// Region an API's events are recorded in (global services in us-east-1).
pub fn region_for(api: &str, preferred: &'static str) -> &'static str {
    match source_of(api) {
        "iam.amazonaws.com" | "signin.amazonaws.com" => "us-east-1",
        "s3.amazonaws.com" if api == "ListBuckets" => "us-east-1",
        _ => preferred,
    }
}

/// A call of `api` by `identity`, with request parameters shaped like the real API's.
#[allow(clippy::too_many_arguments)]
pub fn call(
    rng: &mut Rng,
    pop: &Population,
    time: i64,
    api: &'static str,
    region: &'static str,
    ip: &str,
    ua: Cow<'static, str>,
    identity: Identity,
    account: usize,
    target: &str,
) -> CtRecord {
    let acct = &pop.aws_accounts[account].id;
    let bucket = format!(
        "{}-{}",
        pop.aws_accounts[account].name,
        if target.is_empty() {
            "artifacts"
        } else {
            target
        }
    );
    let host = format!("{bucket}.s3.{region}.amazonaws.com");
    let (request, resources) = match api {
        "GetCallerIdentity" | "ListBuckets" | "GetAuthorizationToken" | "DescribeRegions" => (
            if api == "ListBuckets" {
                Some(r#"{"Host":"s3.amazonaws.com"}"#.to_string())
            } else {
                None
            },
            None,
        ),
        "ListAttachedUserPolicies"
        | "ListGroupsForUser"
        | "GetUser"
        | "ListAccessKeys"
        | "ListUserPolicies" => (Some(format!(r#"{{"userName":"{target}"}}"#)), None),
        "DescribeInstances" => (
            Some(r#"{"instancesSet":{},"filterSet":{}}"#.to_string()),
            None,
        ),
        "GetObject" | "PutObject" => {
            let key = format!("builds/{}/{:08x}.tar.gz", target, rng.u64() as u32);
            (
                Some(format!(
                    r#"{{"bucketName":"{bucket}","Host":"{host}","key":"{key}"}}"#
                )),
                Some(format!(
                    r#"[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::{bucket}/{key}"}},{{"accountId":"{acct}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{bucket}"}}]"#
                )),
            )
        }
        "ListObjects" | "GetBucketLocation" | "GetBucketPolicy" | "GetBucketAcl" => (
            Some(format!(
                r#"{{"bucketName":"{bucket}","Host":"{host}","prefix":""}}"#
            )),
            if api == "ListObjects" {
                Some(format!(
                    r#"[{{"accountId":"{acct}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{bucket}"}}]"#
                ))
            } else {
                None
            },
        ),
        "BatchCheckLayerAvailability" | "PutImage" | "InitiateLayerUpload" => (
            Some(format!(
                r#"{{"repositoryName":"{target}","registryId":"{acct}"}}"#
            )),
            None,
        ),
        "DescribeStacks" | "CreateChangeSet" | "ExecuteChangeSet" | "DescribeStackEvents" => {
            (Some(format!(r#"{{"stackName":"{target}-prod"}}"#)), None)
        }
        "UpdateFunctionCode20150331v2" | "GetFunction" | "Invoke" => (
            Some(format!(
                r#"{{"functionName":"arn:aws:lambda:{region}:{acct}:function:{target}"}}"#
            )),
            None,
        ),
        "FilterLogEvents" => (
            Some(format!(
                r#"{{"logGroupName":"/aws/lambda/{target}","limit":100}}"#
            )),
            None,
        ),
        "GetParameter" => (
            Some(format!(
                r#"{{"name":"/prod/{target}/db-host","withDecryption":false}}"#
            )),
            None,
        ),
        "Decrypt" => (
            Some(r#"{"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#.to_string()),
            None,
        ),
        n if n.starts_with("Describe") => (
            Some(r#"{"filterSet":{},"maxResults":1000}"#.to_string()),
            None,
        ),
        n if n.starts_with("List") => (Some(r#"{"maxItems":100}"#.to_string()), None),
        _ => (None, None),
    };
    CtRecord {
        event_id: rng.guid(),
        request_id: rng.guid(),
        time: time - time.rem_euclid(crate::time::SEC),
        source: source_of(api),
        name: api,
        region,
        ip: ip.to_string(),
        ua,
        identity,
        account,
        read_only: is_read_only(api),
        event_type: "AwsApiCall",
        management: !is_data_event(api),
        error: None,
        request,
        response: None,
        additional: if api == "GetObject" || api == "PutObject" {
            Some(r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0.0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"Zm9vYmFyYmF6cXV4","bytesTransferredOut":4096.0}"#.to_string())
        } else {
            None
        },
        resources,
        console: false,
    }
}

/// STS credentials block with a fresh temporary key; returns (responseElements, key).
fn credentials(
    rng: &mut Rng,
    time: i64,
    role_arn_user: (&str, &str),
    extra: &str,
) -> (String, String) {
    let key = aws_key(rng, "ASIA");
    let (assumed_id, arn) = role_arn_user;
    let resp = format!(
        r#"{{"credentials":{{"accessKeyId":"{key}","sessionToken":"IQoJb3JpZ2luX2VjE{}","expiration":"{}"}},"assumedRoleUser":{{"assumedRoleId":"{assumed_id}","arn":"{arn}"}}{extra}}}"#,
        rng.hex(24),
        aws_expiration(time + HOUR)
    );
    (resp, key)
}

/// `AssumeRoleWithSAML` through the Entra ID SAML provider, session name = `upn`.
/// Returns the record and the temporary access key it issued.
pub fn assume_role_with_saml(
    rng: &mut Rng,
    pop: &Population,
    time: i64,
    upn: &str,
    role: usize,
    ip: &str,
    ua: &'static str,
) -> (CtRecord, String) {
    let r = &pop.saml_roles[role];
    let acct = &pop.aws_accounts[r.account].id;
    let provider_hash = "Tm90QVJlYWxIYXNoRW50cmFJRA==";
    let extra = format!(
        r#","subjectType":"persistent","issuer":"https://sts.windows.net/{}/","audience":"https://signin.aws.amazon.com/saml","nameQualifier":"{provider_hash}","subject":"{upn}""#,
        pop.tenant
    );
    let (resp, key) = credentials(
        rng,
        time,
        (
            &format!("{}:{upn}", r.role_id),
            &format!("arn:aws:sts::{acct}:assumed-role/{}/{upn}", r.name),
        ),
        &extra,
    );
    let req = format!(
        r#"{{"sAMLAssertionID":"_{}","roleSessionName":"{upn}","durationSeconds":3600,"roleArn":"arn:aws:iam::{acct}:role/{}","principalArn":"arn:aws:iam::{acct}:saml-provider/{}"}}"#,
        rng.guid(),
        r.name,
        pop.saml_provider
    );
    let mut rec = call(
        rng,
        pop,
        time,
        "AssumeRoleWithSAML",
        "us-east-1",
        ip,
        Cow::Borrowed(ua),
        Identity::SamlUser {
            upn: upn.to_string(),
            provider_hash: provider_hash.to_string(),
        },
        r.account,
        "",
    );
    rec.request = Some(req);
    rec.response = Some(resp);
    rec.read_only = true;
    (rec, key)
}

/// The identity of calls made with credentials from a SAML role session.
pub fn saml_session_identity(
    pop: &Population,
    role: usize,
    upn: &str,
    key: &str,
    creation: i64,
) -> Identity {
    let r = &pop.saml_roles[role];
    Identity::AssumedRole {
        account: r.account,
        role: r.name.to_string(),
        role_id: r.role_id.clone(),
        session: upn.to_string(),
        key: Some(key.to_string()),
        creation,
        mfa: false,
        web_identity: None,
    }
}

/// A console sign-in record for `identity`.
#[allow(clippy::too_many_arguments)]
pub fn console_login(
    rng: &mut Rng,
    pop: &Population,
    time: i64,
    identity: Identity,
    account: usize,
    ip: &str,
    ua: &'static str,
    mfa: bool,
    saml: bool,
) -> CtRecord {
    let mut rec = call(
        rng,
        pop,
        time,
        "ConsoleLogin",
        "us-east-1",
        ip,
        Cow::Borrowed(ua),
        identity,
        account,
        "",
    );
    rec.event_type = "AwsConsoleSignIn";
    rec.read_only = false;
    rec.request = None;
    rec.response = Some(r#"{"ConsoleLogin":"Success"}"#.to_string());
    let acct = &pop.aws_accounts[account].id;
    rec.additional = Some(if saml {
        format!(
            r#"{{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No","SamlProviderArn":"arn:aws:iam::{acct}:saml-provider/{}"}}"#,
            pop.saml_provider
        )
    } else {
        format!(
            r#"{{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::{acct}:mfa/authenticator","MFAUsed":"{}"}}"#,
            if mfa { "Yes" } else { "No" }
        )
    });
    rec
}

/// `AssumeRoleWithWebIdentity` by a GitHub Actions workflow; returns the record and the key.
pub fn assume_role_web_identity(
    rng: &mut Rng,
    pop: &Population,
    time: i64,
    account: usize,
    repo: &str,
    ip: &str,
) -> (CtRecord, String) {
    let acct = &pop.aws_accounts[account].id;
    let role_id = &pop.ci_role_ids[account];
    let subject = format!("repo:{repo}:ref:refs/heads/main");
    let (resp, key) = credentials(
        rng,
        time,
        (
            &format!("{role_id}:GitHubActions"),
            &format!("arn:aws:sts::{acct}:assumed-role/github-actions-deploy/GitHubActions"),
        ),
        &format!(
            r#","subjectFromWebIdentityToken":"{subject}","provider":"arn:aws:iam::{acct}:oidc-provider/token.actions.githubusercontent.com","audience":"sts.amazonaws.com""#
        ),
    );
    let region = pop.aws_regions[rng.index(2)];
    let mut rec = call(
        rng,
        pop,
        time,
        "AssumeRoleWithWebIdentity",
        region,
        ip,
        Cow::Borrowed(crate::catalog::SDK_JS_UA),
        Identity::WebIdentityUser {
            account,
            provider: "token.actions.githubusercontent.com",
            subject,
        },
        account,
        "",
    );
    rec.request = Some(format!(
        r#"{{"roleArn":"arn:aws:iam::{acct}:role/github-actions-deploy","roleSessionName":"GitHubActions","durationSeconds":3600}}"#
    ));
    rec.response = Some(resp);
    rec.read_only = true;
    (rec, key)
}

/// The identity of calls made by a CI workflow after web-identity federation.
pub fn ci_identity(pop: &Population, account: usize, key: &str, creation: i64) -> Identity {
    Identity::AssumedRole {
        account,
        role: "github-actions-deploy".into(),
        role_id: pop.ci_role_ids[account].clone(),
        session: "GitHubActions".into(),
        key: Some(key.to_string()),
        creation,
        mfa: false,
        web_identity: Some("token.actions.githubusercontent.com"),
    }
}

/// An AWS service assuming a role on behalf of a resource: `sourceIPAddress` is the service
/// name (`ec2.amazonaws.com`), which is not an IP address.
pub fn service_assume_role(rng: &mut Rng, pop: &Population, time: i64, account: usize) -> CtRecord {
    let (svc, role, session) = match rng.below(4) {
        0 | 1 => (
            "ec2.amazonaws.com",
            "app-server-role",
            format!("i-0{}", rng.hex(16)),
        ),
        2 => (
            "lambda.amazonaws.com",
            "payments-api-lambda-role",
            "payments-api".to_string(),
        ),
        _ => (
            "cloudformation.amazonaws.com",
            "cfn-exec-role",
            format!("AWSCloudFormation-{}", rng.hex(8)),
        ),
    };
    let acct = &pop.aws_accounts[account].id;
    let region = pop.aws_regions[rng.index(pop.aws_regions.len())];
    let (resp, _) = credentials(
        rng,
        time,
        (
            &format!("{}:{session}", pop.app_role_ids[account]),
            &format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}"),
        ),
        "",
    );
    let mut rec = call(
        rng,
        pop,
        time,
        "AssumeRole",
        region,
        svc,
        Cow::Borrowed(svc),
        Identity::Service { invoked_by: svc },
        account,
        "",
    );
    rec.request = Some(format!(
        r#"{{"roleArn":"arn:aws:iam::{acct}:role/{role}","roleSessionName":"{session}"}}"#
    ));
    rec.response = Some(resp);
    rec.event_type = "AwsApiCall";
    rec
}

/// Identity of an IAM user acting with a long-term key.
pub fn iam_identity(
    pop: &Population,
    user: usize,
    key: Option<String>,
    console: Option<(i64, bool)>,
) -> Identity {
    let u = &pop.iam_users[user];
    Identity::IamUser {
        account: u.account,
        name: u.name.clone(),
        principal_id: u.principal_id.clone(),
        key,
        console,
    }
}
