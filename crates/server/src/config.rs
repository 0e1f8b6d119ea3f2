//! Authentication settings, read once at start-up from flags or `CONCORD_*` variables and
//! turned into the API's token service. Secrets are read from files and never logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use concord_api::Authenticator;
use concord_api::auth::Algorithm;
use concord_api::auth::tokens::{
    OidcConfig, SigningKeys, TokenConfig, TokenService, generate_secret,
};
use concord_store::Store;

#[derive(Args, Debug, Clone)]
pub struct AuthArgs {
    /// Where Concord keeps files of its own (the generated HS256 secret of the embedded default).
    #[arg(long, env = "CONCORD_DATA_DIR", default_value = ".")]
    pub data_dir: PathBuf,

    /// Whether anonymous callers may read PUBLIC data; false requires sign-in for everything.
    #[arg(long, env = "CONCORD_PUBLIC_READ", default_value_t = true, action = clap::ArgAction::Set)]
    pub public_read: bool,

    /// `iss` of the access tokens Concord issues.
    #[arg(long, env = "CONCORD_JWT_ISSUER", default_value = "concord")]
    pub jwt_issuer: String,

    /// `aud` of the access tokens Concord issues and accepts.
    #[arg(long, env = "CONCORD_JWT_AUDIENCE", default_value = "concord-api")]
    pub jwt_audience: String,

    /// Access token lifetime in seconds (at most 900).
    #[arg(long, env = "CONCORD_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: u64,

    /// EdDSA or ES256: sign with configured keys instead of the generated HS256 secret.
    #[arg(long, env = "CONCORD_JWT_ALGORITHM")]
    pub jwt_algorithm: Option<String>,

    /// PKCS#8 PEM file of the current signing key.
    #[arg(long, env = "CONCORD_JWT_SIGNING_KEY")]
    pub jwt_signing_key: Option<PathBuf>,

    /// `kid` of the current signing key.
    #[arg(long, env = "CONCORD_JWT_KID")]
    pub jwt_kid: Option<String>,

    /// Public keys that verify tokens, `kid=FILE` separated by commas: the current key and
    /// the next (or previous) one during a rotation.
    #[arg(long, env = "CONCORD_JWT_VERIFY_KEYS")]
    pub jwt_verify_keys: Option<String>,

    /// `iss` of an external OIDC issuer whose tokens are accepted.
    #[arg(long, env = "CONCORD_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// `aud` the external issuer's tokens must carry.
    #[arg(long, env = "CONCORD_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// JWKS file with the external issuer's public keys (never fetched from a URL).
    #[arg(long, env = "CONCORD_OIDC_JWKS_FILE")]
    pub oidc_jwks_file: Option<PathBuf>,

    /// Dotted path of the email claim.
    #[arg(long, env = "CONCORD_OIDC_EMAIL_CLAIM", default_value = "email")]
    pub oidc_email_claim: String,

    /// Dotted path of the roles claim, such as `realm_access.roles`.
    #[arg(long, env = "CONCORD_OIDC_ROLES_CLAIM", default_value = "")]
    pub oidc_roles_claim: String,

    /// Claim value to role, `value=ROLE` separated by commas (ROLE: ADMIN, COORDINATOR, EDITOR, VIEWER).
    #[arg(long, env = "CONCORD_OIDC_ROLE_MAP", default_value = "")]
    pub oidc_role_map: String,
}

fn pairs(list: &str) -> anyhow::Result<Vec<(String, String)>> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
                .with_context(|| format!("`{p}` is not written name=value"))
        })
        .collect()
}

/// Reads the HS256 secret of the embedded default, generating it on first start.
fn embedded_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("jwt-hs256.secret");
    if let Ok(secret) = std::fs::read(&path) {
        return Ok(secret);
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let secret = generate_secret();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    options
        .open(&path)
        .and_then(|mut f| f.write_all(&secret))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(secret)
}

impl AuthArgs {
    pub fn authenticator(&self, store: Store) -> anyhow::Result<Authenticator> {
        let keys = match &self.jwt_algorithm {
            None => SigningKeys::Hs256 {
                secret: embedded_secret(&self.data_dir)?,
            },
            Some(name) => {
                let algorithm = match name.as_str() {
                    "EdDSA" => Algorithm::EdDSA,
                    "ES256" => Algorithm::ES256,
                    other => bail!("CONCORD_JWT_ALGORITHM must be EdDSA or ES256, not {other}"),
                };
                let signing = self
                    .jwt_signing_key
                    .as_ref()
                    .context("CONCORD_JWT_SIGNING_KEY is required with CONCORD_JWT_ALGORITHM")?;
                let current_kid = self
                    .jwt_kid
                    .clone()
                    .context("CONCORD_JWT_KID is required with CONCORD_JWT_ALGORITHM")?;
                let verifying = pairs(self.jwt_verify_keys.as_deref().unwrap_or_default())?
                    .into_iter()
                    .map(|(kid, file)| {
                        std::fs::read(&file)
                            .with_context(|| format!("cannot read the public key {file}"))
                            .map(|pem| (kid, pem))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                SigningKeys::Asymmetric {
                    algorithm,
                    current_kid,
                    signing_pem: std::fs::read(signing).with_context(|| {
                        format!("cannot read the signing key {}", signing.display())
                    })?,
                    verifying,
                }
            }
        };
        let oidc = match (&self.oidc_issuer, &self.oidc_jwks_file) {
            (Some(issuer), Some(jwks)) => Some(OidcConfig {
                issuer: issuer.clone(),
                audience: self
                    .oidc_audience
                    .clone()
                    .context("CONCORD_OIDC_AUDIENCE is required with CONCORD_OIDC_ISSUER")?,
                jwks_json: std::fs::read_to_string(jwks)
                    .with_context(|| format!("cannot read {}", jwks.display()))?,
                email_claim: self.oidc_email_claim.clone(),
                roles_claim: self.oidc_roles_claim.clone(),
                role_map: pairs(&self.oidc_role_map)?,
            }),
            (None, None) => None,
            _ => bail!("CONCORD_OIDC_ISSUER and CONCORD_OIDC_JWKS_FILE go together"),
        };
        let tokens = TokenService::new(TokenConfig {
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            access_ttl: Duration::from_secs(self.access_token_ttl),
            keys,
            oidc,
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Authenticator::new(
            Arc::new(tokens),
            store,
            self.public_read,
        ))
    }
}
