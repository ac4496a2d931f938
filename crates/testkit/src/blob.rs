//! Azure Storage blob requests: the logical record and its two shapes, the Log Analytics
//! `StorageBlobLogs` row and the diagnostic (resource log) record of categories
//! StorageRead / StorageWrite / StorageDelete.

use std::net::IpAddr;

use crate::json::{push_ip, J};
use crate::population::Population;
use crate::rng::{Guid, Rng};
use crate::time::{push_rfc3339, Frac};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AuthKind {
    OAuth,
    Sas,
    AccountKey,
}

impl AuthKind {
    pub fn name(self) -> &'static str {
        match self {
            AuthKind::OAuth => "OAuth",
            AuthKind::Sas => "SAS",
            AuthKind::AccountKey => "AccountKey",
        }
    }
}

/// The OAuth principal behind a request.
pub struct Requester {
    pub object_id: Guid,
    pub upn: String,
    pub app_id: &'static str,
    pub tenant: Guid,
}

pub struct BlobOp {
    pub time: i64,
    pub account: usize,
    pub operation: &'static str,
    pub auth: AuthKind,
    pub requester: Option<Requester>,
    pub ip: IpAddr,
    pub port: u16,
    pub correlation: Guid,
    pub client_request: Guid,
    pub container: &'static str,
    /// Blob path inside the container; empty for container-level operations.
    pub blob: String,
    pub ua: &'static str,
    pub status: u16,
    pub duration_ms: u32,
    pub server_ms: u32,
    pub response_bytes: u64,
    pub token_hash: Option<String>,
}

impl BlobOp {
    pub fn category(&self) -> &'static str {
        match self.operation {
            "PutBlob" | "PutBlock" | "PutBlockList" | "SetBlobMetadata" | "CopyBlob" => {
                "StorageWrite"
            }
            "DeleteBlob" => "StorageDelete",
            _ => "StorageRead",
        }
    }

    fn status_text(&self) -> &'static str {
        match self.status {
            200..=299 => "Success",
            403 => "AuthorizationPermissionMismatch",
            404 => "BlobNotFound",
            _ => "ClientOtherError",
        }
    }

    fn object_key(&self, pop: &Population) -> String {
        let acct = pop.storage[self.account].name;
        if self.blob.is_empty() {
            format!("/{acct}/{}", self.container)
        } else {
            format!("/{acct}/{}/{}", self.container, self.blob)
        }
    }

    fn uri(&self, pop: &Population) -> String {
        let acct = pop.storage[self.account].name;
        match self.operation {
            "ListBlobs" => format!(
                "https://{acct}.blob.core.windows.net:443/{}?restype=container&comp=list&maxresults=5000",
                self.container
            ),
            "GetContainerProperties" => {
                format!("https://{acct}.blob.core.windows.net:443/{}?restype=container", self.container)
            }
            _ => format!("https://{acct}.blob.core.windows.net:443/{}/{}", self.container, self.blob),
        }
    }

    /// `ip:port`, or `[v6]:port`.
    pub fn caller(&self) -> String {
        let mut v = Vec::with_capacity(48);
        if self.ip.is_ipv6() {
            v.push(b'[');
            push_ip(&mut v, &self.ip);
            v.push(b']');
        } else {
            push_ip(&mut v, &self.ip);
        }
        v.push(b':');
        crate::json::push_u64(&mut v, u64::from(self.port));
        String::from_utf8(v).unwrap_or_default()
    }

    fn action(&self) -> &'static str {
        match self.category() {
            "StorageWrite" => {
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"
            }
            "StorageDelete" => {
                "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
            }
            _ => "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        }
    }
}

fn resource_id(pop: &Population, account: usize) -> String {
    let mut s = String::from("/subscriptions/");
    s.push_str(&pop.subscription.to_string());
    s.push_str("/resourceGroups/rg-data-prod/providers/Microsoft.Storage/storageAccounts/");
    s.push_str(pop.storage[account].name);
    s
}

fn time_value(j: &mut J, t: i64) {
    let mut v = Vec::with_capacity(32);
    v.push(b'"');
    push_rfc3339(&mut v, t, Frac::Ticks);
    v.push(b'"');
    j.raw(&v);
}

fn authorization(j: &mut J, b: &BlobOp) {
    j.begin_arr();
    if let Some(r) = &b.requester {
        j.begin_obj();
        j.ks("action", b.action());
        j.ks("roleAssignmentId", "9b1c4e2a-7d3f-4a8b-b5c6-d7e8f9a0b1c2");
        j.ks(
            "roleDefinitionId",
            if b.category() == "StorageRead" {
                "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
            } else {
                "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
            },
        );
        j.key("principals");
        j.begin_arr();
        j.begin_obj();
        j.kg("id", r.object_id);
        j.ks("type", "User");
        j.end_obj();
        j.end_arr();
        j.ks("denyAssignmentId", "");
        j.ks("type", "RBAC");
        j.ks("result", if b.status == 403 { "Denied" } else { "Granted" });
        j.ks("reason", "Policy");
        j.end_obj();
    }
    j.end_arr();
}

fn token_issuer(r: &Requester) -> String {
    format!("https://sts.windows.net/{}/", r.tenant)
}

/// A diagnostic (resource log) record as archived to storage or streamed through Event Hubs.
pub fn diag(j: &mut J, b: &BlobOp, pop: &Population) {
    j.begin_obj();
    j.key("time");
    time_value(j, b.time);
    j.ks(
        "resourceId",
        &format!("{}/blobServices/default", resource_id(pop, b.account)),
    );
    j.ks("category", b.category());
    j.ks("operationName", b.operation);
    j.ks("operationVersion", "2023-11-03");
    j.ks("schemaVersion", "1.0");
    j.ku("statusCode", u64::from(b.status));
    j.ks("statusText", b.status_text());
    j.ku("durationMs", u64::from(b.duration_ms));
    j.ks("callerIpAddress", &b.caller());
    j.kg("correlationId", b.correlation);
    j.key("identity");
    j.begin_obj();
    j.ks("type", b.auth.name());
    if let Some(h) = &b.token_hash {
        j.ks("tokenHash", h);
    }
    if let Some(r) = &b.requester {
        j.key("authorization");
        authorization(j, b);
        j.key("requester");
        j.begin_obj();
        j.ks("appId", r.app_id);
        j.ks("audience", "https://storage.azure.com/");
        j.kg("objectId", r.object_id);
        j.kg("tenantId", r.tenant);
        j.ks("tokenIssuer", &token_issuer(r));
        j.ks("upn", &r.upn);
        j.end_obj();
    }
    j.end_obj();
    j.ks("location", pop.storage[b.account].location);
    j.key("properties");
    j.begin_obj();
    j.ks("accountName", pop.storage[b.account].name);
    j.ks("userAgentHeader", b.ua);
    j.kg("clientRequestId", b.client_request);
    j.ks("etag", "0x8DCF1A2B3C4D5E6");
    j.ku("serverLatencyMs", u64::from(b.server_ms));
    j.ks("serviceType", "blob");
    j.ku("operationCount", 0);
    j.ku("requestHeaderSize", 1_200 + u64::from(b.port % 700));
    j.ku("requestBodySize", 0);
    j.ku("responseHeaderSize", 380);
    j.ku("responseBodySize", b.response_bytes);
    j.ku("contentLengthHeader", 0);
    j.ks("requestMd5", "");
    j.ks("serverMd5", "");
    j.ks("lastModifiedTime", "10/28/2026 9:14:07 AM");
    j.ks("conditionsUsed", "");
    j.ks("objectKey", &b.object_key(pop));
    j.ks(
        "metricResponseType",
        if b.status < 300 {
            "Success"
        } else {
            "AuthorizationError"
        },
    );
    j.ks("accessTier", "Hot");
    j.ks("tlsVersion", "TLS 1.2");
    j.end_obj();
    j.ks("uri", &b.uri(pop));
    j.ks("protocol", "HTTPS");
    j.ks(
        "resourceType",
        "Microsoft.Storage/storageAccounts/blobServices",
    );
    j.end_obj();
}

/// How a Log Analytics row is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LaMode {
    /// `{"Column": value, ...}`
    Object,
    /// `[value, ...]` (query API rows)
    Array,
    /// `[{"name","type"}, ...]` (query API column list; the record is ignored)
    Columns,
}

/// A `StorageBlobLogs` row (or the column list) in `mode`.
pub fn la(j: &mut J, tmp: &mut J, b: &BlobOp, pop: &Population, mode: LaMode) {
    let col = |j: &mut J, name: &str, ty: &str, f: &mut dyn FnMut(&mut J)| match mode {
        LaMode::Object => {
            j.key(name);
            f(j);
        }
        LaMode::Array => f(j),
        LaMode::Columns => {
            j.begin_obj();
            j.ks("name", name);
            j.ks("type", ty);
            j.end_obj();
        }
    };
    let r = b.requester.as_ref();
    if mode == LaMode::Object {
        j.begin_obj();
    } else {
        j.begin_arr();
    }
    col(j, "TenantId", "string", &mut |j| j.guid(pop.workspace));
    col(j, "TimeGenerated", "datetime", &mut |j| {
        time_value(j, b.time)
    });
    col(j, "AccountName", "string", &mut |j| {
        j.str(pop.storage[b.account].name)
    });
    col(j, "Location", "string", &mut |j| {
        j.str(pop.storage[b.account].location)
    });
    col(j, "Protocol", "string", &mut |j| j.str("HTTPS"));
    col(j, "OperationName", "string", &mut |j| j.str(b.operation));
    col(j, "AuthenticationType", "string", &mut |j| {
        j.str(b.auth.name())
    });
    col(j, "StatusCode", "string", &mut |j| {
        j.str(&b.status.to_string())
    });
    col(j, "StatusText", "string", &mut |j| j.str(b.status_text()));
    col(j, "DurationMs", "real", &mut |j| {
        j.u64(u64::from(b.duration_ms))
    });
    col(j, "ServerLatencyMs", "real", &mut |j| {
        j.u64(u64::from(b.server_ms))
    });
    col(j, "Uri", "string", &mut |j| j.str(&b.uri(pop)));
    col(j, "CallerIpAddress", "string", &mut |j| j.str(&b.caller()));
    col(j, "CorrelationId", "string", &mut |j| j.guid(b.correlation));
    col(j, "SchemaVersion", "string", &mut |j| j.str("1.0"));
    col(j, "OperationVersion", "string", &mut |j| {
        j.str("2023-11-03")
    });
    col(j, "AuthenticationHash", "string", &mut |j| {
        j.str(b.token_hash.as_deref().unwrap_or(""))
    });
    col(j, "RequesterObjectId", "string", &mut |j| match r {
        Some(r) => j.guid(r.object_id),
        None => j.str(""),
    });
    col(j, "RequesterTenantId", "string", &mut |j| match r {
        Some(r) => j.guid(r.tenant),
        None => j.str(""),
    });
    col(j, "RequesterAppId", "string", &mut |j| {
        j.str(r.map_or("", |r| r.app_id))
    });
    col(j, "RequesterAudience", "string", &mut |j| {
        j.str(if r.is_some() {
            "https://storage.azure.com/"
        } else {
            ""
        })
    });
    col(j, "RequesterTokenIssuer", "string", &mut |j| {
        j.str(&r.map(token_issuer).unwrap_or_default())
    });
    col(j, "RequesterUpn", "string", &mut |j| {
        j.str(r.map_or("", |r| r.upn.as_str()))
    });
    col(j, "AuthorizationDetails", "dynamic", &mut |j| {
        if mode == LaMode::Array {
            tmp.clear();
            authorization(tmp, b);
            j.str_of_json(&tmp.buf);
        } else {
            authorization(j, b);
        }
    });
    col(j, "UserAgentHeader", "string", &mut |j| j.str(b.ua));
    col(j, "ReferrerHeader", "string", &mut |j| j.str(""));
    col(j, "ClientRequestId", "string", &mut |j| {
        j.guid(b.client_request)
    });
    col(j, "Etag", "string", &mut |j| j.str("0x8DCF1A2B3C4D5E6"));
    col(j, "ServiceType", "string", &mut |j| j.str("blob"));
    col(j, "OperationCount", "int", &mut |j| j.u64(0));
    col(j, "RequestHeaderSize", "long", &mut |j| {
        j.u64(1_200 + u64::from(b.port % 700))
    });
    col(j, "RequestBodySize", "long", &mut |j| j.u64(0));
    col(j, "ResponseHeaderSize", "long", &mut |j| j.u64(380));
    col(j, "ResponseBodySize", "long", &mut |j| {
        j.u64(b.response_bytes)
    });
    col(j, "ContentLengthHeader", "long", &mut |j| j.u64(0));
    col(j, "RequestMd5", "string", &mut |j| j.str(""));
    col(j, "ResponseMd5", "string", &mut |j| j.str(""));
    col(j, "LastModifiedTime", "datetime", &mut |j| {
        j.str("2026-10-28T09:14:07.0000000Z")
    });
    col(j, "ObjectKey", "string", &mut |j| j.str(&b.object_key(pop)));
    col(j, "AccessTier", "string", &mut |j| j.str("Hot"));
    col(j, "TlsVersion", "string", &mut |j| j.str("TLS 1.2"));
    col(j, "Category", "string", &mut |j| j.str(b.category()));
    col(j, "MetricResponseType", "string", &mut |j| {
        j.str(if b.status < 300 {
            "Success"
        } else {
            "AuthorizationError"
        })
    });
    col(j, "SourceSystem", "string", &mut |j| j.str("Azure"));
    col(j, "_ResourceId", "string", &mut |j| {
        j.str(&resource_id(pop, b.account).to_lowercase())
    });
    col(j, "Type", "string", &mut |j| j.str("StorageBlobLogs"));
    if mode == LaMode::Object {
        j.end_obj();
    } else {
        j.end_arr();
    }
}

/// A blob request with fresh ids and plausible sizes.
#[allow(clippy::too_many_arguments)]
pub fn make(
    rng: &mut Rng,
    t: i64,
    account: usize,
    op: &'static str,
    auth: AuthKind,
    ip: IpAddr,
    container: &'static str,
    ua: &'static str,
) -> BlobOp {
    let blob = match op {
        "ListBlobs" | "GetContainerProperties" => String::new(),
        _ => format!(
            "{}/{}/{:06x}.{}",
            ["reports", "exports", "archive", "team"][rng.index(4)],
            2024 + rng.below(3),
            rng.below(1 << 24),
            ["xlsx", "pdf", "csv", "docx", "bak"][rng.index(5)]
        ),
    };
    BlobOp {
        time: t,
        account,
        operation: op,
        auth,
        requester: None,
        ip,
        port: 49_152 + rng.below(16_000) as u16,
        correlation: rng.guid(),
        client_request: rng.guid(),
        container,
        blob,
        ua,
        status: if op == "GetBlobProperties" && rng.chance(0.05) {
            404
        } else if op == "PutBlob" {
            201
        } else {
            200
        },
        duration_ms: 3 + rng.below(120) as u32,
        server_ms: 2 + rng.below(40) as u32,
        response_bytes: if op == "GetBlob" {
            1_024 + rng.below(4_000_000)
        } else {
            200 + rng.below(4_000)
        },
        token_hash: None,
    }
}
