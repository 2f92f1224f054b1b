//! SigV4-signed calls to the few AWS APIs dockui needs: the JSON 1.1 protocol (CodeBuild, CloudWatch Logs:
//! `POST /` with `X-Amz-Target`) and S3 object PUT/HEAD. The official `aws-sigv4` signer with the project's
//! reqwest client (rustls), instead of the SDK crates (docs/codebuild.md has the measured cost of both).

use super::aws::{AwsEnv, Service};
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use std::path::Path;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The endpoint did not answer (DNS, connect, TLS, timeout).
    #[error("{service} endpoint {endpoint} not reachable: {reason}")]
    Unreachable {
        service: &'static str,
        endpoint: String,
        reason: String,
    },
    /// The service answered with an error (`__type`/`Code` and message).
    #[error("{service} {operation}: {code}: {message} (HTTP {status})")]
    Api {
        service: &'static str,
        operation: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

impl AwsError {
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct AwsClient {
    pub env: AwsEnv,
    http: reqwest::Client,
}

impl std::fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClient").field("env", &self.env).finish()
    }
}

/// Connect and first-byte bound; uploads and long polls have their own, larger, overall timeouts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl AwsClient {
    pub fn new(env: AwsEnv) -> Result<AwsClient, AwsError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("dockui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AwsError::Other(format!("cannot set up the HTTP client: {e}")))?;
        Ok(AwsClient { env, http })
    }

    /// Signed headers for one request. The payload hash is part of the signature.
    fn signed_headers(
        &self,
        service: Service,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: SignableBody<'_>,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let identity = aws_credential_types::Credentials::new(
            &self.env.credentials.access_key_id,
            &self.env.credentials.secret_access_key,
            self.env.credentials.session_token.clone(),
            None,
            "dockui",
        )
        .into();
        let mut settings = SigningSettings::default();
        if service == Service::S3 {
            // S3 wants the payload hash in x-amz-content-sha256, and its keys are not path-normalised.
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.uri_path_normalization_mode =
                aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
            settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
        }
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.env.region)
            .name(service.signing_name())
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| AwsError::Other(format!("cannot sign the request: {e}")))?
            .into();
        let signable = SignableRequest::new(method, url, headers.iter().copied(), body)
            .map_err(|e| AwsError::Other(format!("cannot sign the request to {url}: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| AwsError::Other(format!("cannot sign the request to {url}: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    fn unreachable(&self, service: Service, e: &reqwest::Error) -> AwsError {
        // reqwest's Display is vague ("error sending request"); the cause is in the source chain.
        let mut reason = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            reason = format!("{reason}: {s}");
            src = s.source();
        }
        AwsError::Unreachable {
            service: service.signing_name(),
            endpoint: self.env.endpoint(service),
            reason,
        }
    }

    /// One JSON 1.1 call: `target` is e.g. `CodeBuild_20161006.StartBuild`.
    pub async fn json(
        &self,
        service: Service,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let url = format!("{}/", self.env.endpoint(service));
        let payload = serde_json::to_vec(body).map_err(|e| AwsError::Other(e.to_string()))?;
        let content_type = "application/x-amz-json-1.1";
        let base = [("content-type", content_type), ("x-amz-target", target)];
        let signed =
            self.signed_headers(service, "POST", &url, &base, SignableBody::Bytes(&payload))?;
        let mut req = self
            .http
            .post(&url)
            .timeout(CALL_TIMEOUT)
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .body(payload);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.unreachable(service, &e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.unreachable(service, &e))?;
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        if !status.is_success() {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            // Authentication errors may come as XML even from JSON services.
            let text = String::from_utf8_lossy(&bytes);
            if let (Some(code), message) = (xml_tag(&text, "Code"), xml_tag(&text, "Message")) {
                return Err(AwsError::Api {
                    service: service.signing_name(),
                    operation,
                    status: status.as_u16(),
                    code,
                    message: message.unwrap_or_default(),
                });
            }
            let code = v["__type"]
                .as_str()
                .or(v["code"].as_str())
                .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
            let message = v["message"]
                .as_str()
                .or(v["Message"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(AwsError::Api {
                service: service.signing_name(),
                operation,
                status: status.as_u16(),
                code,
                message,
            });
        }
        if bytes.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            AwsError::Other(format!(
                "{} {operation}: the answer is not JSON: {e}",
                service.signing_name()
            ))
        })
    }

    /// PUT a local file as an S3 object (streamed; its SHA-256 signed), up to S3's 5 GB single-PUT limit.
    pub async fn s3_put_file(&self, bucket: &str, key: &str, file: &Path) -> Result<(), AwsError> {
        use sha2::Digest;
        let meta = std::fs::metadata(file)
            .map_err(|e| AwsError::Other(format!("cannot read {}: {e}", file.display())))?;
        const SINGLE_PUT_MAX: u64 = 5 * 1024 * 1024 * 1024;
        if meta.len() > SINGLE_PUT_MAX {
            return Err(AwsError::Other(format!(
                "the packed context is {} MB, over S3's 5 GB single upload: exclude data and models with \
                 .dockerignore",
                meta.len() / 1_000_000
            )));
        }
        let path = file.to_path_buf();
        let sha = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut f = std::fs::File::open(&path)?;
            let mut h = sha2::Sha256::new();
            std::io::copy(&mut f, &mut h)?;
            Ok(format!("{:x}", h.finalize()))
        })
        .await
        .map_err(|e| AwsError::Other(e.to_string()))?
        .map_err(|e| AwsError::Other(format!("cannot read {}: {e}", file.display())))?;
        let url = self.env.s3_object_url(bucket, key);
        let length = meta.len().to_string();
        // Only the content type is signed: the length header is set by the client for the stream.
        let base = [("content-type", "application/zip")];
        let signed = self.signed_headers(
            Service::S3,
            "PUT",
            &url,
            &base,
            SignableBody::Precomputed(sha),
        )?;
        let f = tokio::fs::File::open(file)
            .await
            .map_err(|e| AwsError::Other(format!("cannot read {}: {e}", file.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f));
        let mut req = self
            .http
            .put(&url)
            .header("content-type", "application/zip")
            .header("content-length", length)
            .body(body);
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.unreachable(Service::S3, &e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let text = resp.text().await.unwrap_or_default();
        Err(AwsError::Api {
            service: "s3",
            operation: "PutObject".into(),
            status: status.as_u16(),
            code: xml_tag(&text, "Code").unwrap_or_else(|| status.to_string()),
            message: xml_tag(&text, "Message").unwrap_or_else(|| format!("s3://{bucket}/{key}")),
        })
    }
}

/// The text of the first `<tag>...</tag>` in an XML error body.
fn xml_tag(text: &str, tag: &str) -> Option<String> {
    text.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|r| r.split(&format!("</{tag}>")).next())
        .map(str::to_string)
}
