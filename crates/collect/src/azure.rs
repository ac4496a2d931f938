//! Entra ID credentials for the Graph and Log Analytics collectors, built with
//! `azure_identity` from a source's `AzureAuth`: client secret, client certificate (PKCS#12),
//! client assertion file (a federated token re-read on each request, as workload identity
//! writes it), or the developer tools credential (Azure CLI / azd). The token requests go
//! through a `reqwest` client that has the source's extra CA roots, to the configured
//! authority host (which `azure_identity` requires to be https).
//!
//! Secrets are read here and handed to `azure_identity`'s `Secret`; errors carry the
//! credential's message, which names no secret.

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{
    ClientMethodOptions, ClientOptions, ExponentialRetryOptions, RetryOptions, Transport,
};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientCertificateCredential, ClientCertificateCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, DeveloperToolsCredential,
};

use crate::config::{AzureAuth, HttpConfig};
use crate::{secret, CollectError};

/// A credential and the scope to ask tokens for.
#[derive(Debug, Clone)]
pub struct Credential {
    source: String,
    inner: Arc<dyn TokenCredential>,
    /// The secrets this credential was built with, cut out of any error text (a proxy or
    /// a misbehaving endpoint may echo the request it refused).
    secrets: Vec<secret::SecretText>,
}

impl Credential {
    /// A bearer token for `scope` (cached and refreshed by `azure_identity`).
    pub async fn token(&self, scope: &str) -> Result<String, CollectError> {
        match self.inner.get_token(&[scope], None).await {
            Ok(t) => Ok(t.token.secret().to_string()),
            Err(e) => Err(CollectError::Auth {
                source_name: self.source.clone(),
                message: self.scrub(first_line(&e.to_string())),
            }),
        }
    }

    /// `text` with every secret (as is and form-encoded) replaced by `[redacted]`.
    fn scrub(&self, mut text: String) -> String {
        for s in &self.secrets {
            let plain = s.expose();
            let encoded: String = url::form_urlencoded::byte_serialize(plain.as_bytes()).collect();
            for form in [plain, encoded.as_str()] {
                if !form.is_empty() {
                    text = text.replace(form, "[redacted]");
                }
            }
        }
        text
    }
}

/// `azure_identity` errors end with a troubleshooting link and can be long; keep the
/// substance.
fn first_line(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text);
    line.chars().take(400).collect()
}

/// Reads a client assertion from a file on every token request (the file is rotated by
/// whoever federates the identity).
#[derive(Debug)]
struct AssertionFile {
    path: PathBuf,
}

#[async_trait::async_trait]
impl ClientAssertion for AssertionFile {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let text = tokio::fs::read_to_string(&self.path).await.map_err(|e| {
            azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                format!(
                    "cannot read client assertion file {}: {e}",
                    self.path.display()
                ),
            )
        })?;
        Ok(text.trim().to_string())
    }
}

/// Builds the credential of a source.
pub fn credential(
    source: &str,
    auth: &AzureAuth,
    http: &HttpConfig,
) -> Result<Credential, CollectError> {
    let auth_err = |message: String| CollectError::Auth {
        source_name: source.to_string(),
        message,
    };
    let client_options = || -> Result<ClientOptions, CollectError> {
        let client = crate::http::client(source, http, auth.ca_file.as_deref())?;
        // The token requests retry as the APIs' requests do ([http] retries and backoff),
        // not with the SDK's own defaults (8 retries over up to a minute).
        let span = |d: std::time::Duration| {
            azure_core::time::Duration::try_from(d).unwrap_or(azure_core::time::Duration::MAX)
        };
        let retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: span(http.backoff.0),
            max_retries: http.retries,
            max_total_elapsed: span(http.max_backoff.0.saturating_mul(http.retries.max(1))),
            max_delay: span(http.max_backoff.0),
        });
        let mut options = ClientOptions {
            transport: Some(Transport::new(Arc::new(client))),
            retry,
            ..ClientOptions::default()
        };
        if let Some(host) = &auth.authority_host {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host.trim_end_matches('/').to_string();
            options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
        }
        Ok(options)
    };
    let mut secrets = Vec::new();
    let tenant = auth.tenant_id.trim();
    let client_id = auth.client_id.trim().to_string();
    let built: azure_core::Result<Arc<dyn TokenCredential>> = if auth.credential.is_some() {
        DeveloperToolsCredential::new(None).map(|c| c as Arc<dyn TokenCredential>)
    } else if let Some(path) = &auth.client_certificate_file {
        let bytes = std::fs::read(path).map_err(|e| {
            auth_err(format!(
                "cannot read client certificate {}: {e}",
                path.display()
            ))
        })?;
        let password = match (
            &auth.client_certificate_password_env,
            &auth.client_certificate_password_file,
        ) {
            (Some(var), _) => Some(secret::from_env(source, var)?),
            (None, Some(path)) => Some(secret::from_file(source, path)?),
            (None, None) => None,
        };
        secrets.extend(password.clone());
        let password = password.map(|p| Secret::new(p.expose().to_string()));

        ClientCertificateCredential::new(
            tenant.to_string(),
            client_id,
            bytes.into(),
            Some(ClientCertificateCredentialOptions {
                client_options: client_options()?,
                password,
            }),
        )
        .map(|c| c as Arc<dyn TokenCredential>)
    } else if let Some(path) = &auth.client_assertion_file {
        ClientAssertionCredential::new(
            tenant.to_string(),
            client_id,
            AssertionFile { path: path.clone() },
            Some(ClientAssertionCredentialOptions {
                client_options: client_options()?,
            }),
        )
        .map(|c| c as Arc<dyn TokenCredential>)
    } else {
        let secret = match (&auth.client_secret_env, &auth.client_secret_file) {
            (Some(var), _) => secret::from_env(source, var)?,
            (None, Some(path)) => secret::from_file(source, path)?,
            (None, None) => return Err(auth_err("no credential configured".into())),
        };
        secrets.push(secret.clone());
        ClientSecretCredential::new(
            tenant,
            client_id,
            Secret::new(secret.expose().to_string()),
            Some(ClientSecretCredentialOptions {
                client_options: client_options()?,
            }),
        )
        .map(|c| c as Arc<dyn TokenCredential>)
    };
    let inner = built.map_err(|e| auth_err(first_line(&e.to_string())))?;
    Ok(Credential {
        source: source.to_string(),
        inner,
        secrets,
    })
}

/// An Entra ID-protected REST API of one source: its HTTP client, credential, retry policy
/// and rate limit, and the stop token its waits watch.
pub struct AzureApi {
    source: String,
    client: reqwest::Client,
    credential: Credential,
    policy: crate::http::RetryPolicy,
    limiter: crate::http::RateLimiter,
    stop: tokio_util::sync::CancellationToken,
}

impl AzureApi {
    pub fn new(
        source: &str,
        auth: &AzureAuth,
        http: &HttpConfig,
        rate: crate::config::RateLimit,
        stop: tokio_util::sync::CancellationToken,
    ) -> Result<AzureApi, CollectError> {
        Ok(AzureApi {
            client: crate::http::client(source, http, auth.ca_file.as_deref())?,
            credential: credential(source, auth, http)?,
            policy: crate::http::RetryPolicy::from(http),
            limiter: crate::http::RateLimiter::new(rate),
            stop,
            source: source.to_string(),
        })
    }

    /// Sends a request with a bearer token for `{endpoint}/.default` (retried, rate-limited;
    /// see [`crate::http::send`]) and returns the body.
    pub async fn call(
        &mut self,
        endpoint: &str,
        method: reqwest::Method,
        url: String,
        json_body: Option<serde_json::Value>,
    ) -> Result<Vec<u8>, CollectError> {
        let scope = format!("{}/.default", endpoint.trim_end_matches('/'));
        let token = tokio::select! {
            t = self.credential.token(&scope) => t?,
            _ = self.stop.cancelled() => return Err(CollectError::Stopped),
        };
        let spec = crate::http::RequestSpec {
            method,
            url,
            bearer: Some(token),
            json_body,
        };
        crate::http::send(
            &self.source,
            &self.client,
            &spec,
            &self.policy,
            &mut self.limiter,
            &self.stop,
        )
        .await
    }
}
