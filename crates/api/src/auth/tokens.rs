//! Access tokens: short-lived signed JWTs, checked on every request without a database round
//! trip, so that a stolen token is only useful for minutes and revocation can live on the
//! (opaque, hashed) refresh tokens instead.
//!
//! Two kinds of token are accepted:
//! - ours, minted by [`TokenService::issue_access_token`], typed `at+jwt` (RFC 9068) and signed
//!   with the one configured algorithm;
//! - when configured, those of one external OIDC issuer (Keycloak, ...), checked against keys
//!   taken from a JWKS document given in configuration.
//!
//! Verification trusts nothing in a token before its signature is checked, except to *choose*
//! among verifiers that configuration already built: the unverified `iss` picks ours or the
//! OIDC one, and `kid` picks a key within it. Nothing a token names (`jku`, `x5u`, an embedded
//! `jwk`, `x5c`) is ever fetched or used: verification does no I/O at all.
//!
//! Each verifier pins its algorithms: ours accepts only the configured algorithm, an OIDC key
//! only the algorithm its JWK declares (or implies). That shuts out `alg: none` and the
//! HS256-with-a-public-key confusion whatever the header says.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Longest access-token lifetime we will mint: a leaked token must expire quickly, since
/// access tokens are not looked up (and so cannot be revoked) per request.
pub const MAX_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// Clock skew tolerated between us, an OIDC issuer and the callers' clocks.
pub const LEEWAY_SECS: u64 = 30;

/// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output; anything shorter
/// (a password typed into a config file) invites offline guessing from one captured token.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// Tokens are parsed (unverified) to route them; this bounds the work an anonymous caller can
/// make us do. Keycloak tokens with many roles stay well below it.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Random bytes in a refresh token or API key: 256 bits, so guessing is hopeless and a plain
/// (unsalted) SHA-256 is enough to store them.
const RANDOM_TOKEN_BYTES: usize = 32;

/// Our role codes, least to most privileged; OIDC role mapping may only target these, and when
/// several match, the most privileged wins (the user holds all of them).
const ROLE_CODES: [&str; 4] = ["VIEWER", "EDITOR", "COORDINATOR", "ADMIN"];

/// Which key signs access tokens.
#[derive(Clone)]
pub enum SigningKeys {
    /// Only for the zero-configuration embedded default: a generated secret persisted in the
    /// data directory (never a constant in code), since nobody else needs to verify our tokens.
    Hs256 { secret: Vec<u8> },
    /// For deployments that configure keys: EdDSA (Ed25519) or ES256 (P-256), chosen by `kid`
    /// so keys can rotate without logging everybody out. The current key signs; every listed
    /// public key (the current one, the next one, the previous one while its tokens live)
    /// verifies.
    Asymmetric {
        algorithm: Algorithm,
        current_kid: String,
        /// PKCS#8 PEM private key of `current_kid`.
        signing_pem: Vec<u8>,
        /// `(kid, SPKI PEM public key)`; must include `current_kid`.
        verifying: Vec<(String, Vec<u8>)>,
    },
}

impl fmt::Debug for SigningKeys {
    /// Hand-written so that secrets and private keys never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningKeys::Hs256 { .. } => f
                .debug_struct("Hs256")
                .field("secret", &"[redacted]")
                .finish(),
            SigningKeys::Asymmetric {
                algorithm,
                current_kid,
                verifying,
                ..
            } => f
                .debug_struct("Asymmetric")
                .field("algorithm", algorithm)
                .field("current_kid", current_kid)
                .field("signing_pem", &"[redacted]")
                .field(
                    "verifying_kids",
                    &verifying.iter().map(|(kid, _)| kid).collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// An external OIDC issuer (Keycloak, ...) whose tokens are accepted.
///
/// Its keys come from `jwks_json`, a JWKS document given in configuration: a URL named inside a
/// token is never fetched, so a forged token cannot point us at the forger's keys. Rotating the
/// issuer's keys therefore means updating the configuration.
///
/// Issuers differ in how they type access tokens, so the header `typ` may be `JWT` (Keycloak),
/// `at+jwt` (RFC 9068) or absent; anything else (a logout token, ...) is refused. Keycloak also
/// signs ID tokens with the same key, so a body `typ` other than `Bearer` is refused, and since
/// people are matched by email, `email_verified: false` is refused too.
///
/// Keycloak puts its client roles under `resource_access.<client>.roles` and realm roles under
/// `realm_access.roles`; its access tokens only carry the client id in `aud` once an audience
/// mapper is set up for the client.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// Compared exactly with the token's `iss`.
    pub issuer: String,
    /// Must appear in the token's `aud`.
    pub audience: String,
    /// `{"keys": [...]}`. Keys for encryption, symmetric keys and keys of other algorithms than
    /// RS256, ES256 and EdDSA are skipped; a key without `alg` gets the one its type implies.
    pub jwks_json: String,
    /// Dotted path of the claim holding the email; empty means [`OidcConfig::DEFAULT_EMAIL_CLAIM`].
    pub email_claim: String,
    /// Dotted path of the claim holding the roles (a string or an array of strings), e.g.
    /// `realm_access.roles`; empty means no roles are read.
    pub roles_claim: String,
    /// `(claim value, our role code)`; codes are ADMIN, COORDINATOR, EDITOR or VIEWER.
    pub role_map: Vec<(String, String)>,
}

impl OidcConfig {
    pub const DEFAULT_EMAIL_CLAIM: &'static str = "email";
}

#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// Our `iss`; also how our tokens are told apart from the OIDC issuer's.
    pub issuer: String,
    pub audience: String,
    /// Capped at [`MAX_ACCESS_TTL`].
    pub access_ttl: Duration,
    pub keys: SigningKeys,
    pub oidc: Option<OidcConfig>,
}

/// Why a token (or the configuration) was refused. Messages name no key material and echo no
/// token content, so they are safe to log and to return.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm not accepted")]
    UnsupportedAlgorithm,
    #[error("token signed with an unknown key")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer not accepted")]
    WrongIssuer,
    #[error("token audience not accepted")]
    WrongAudience,
    #[error("token type not accepted")]
    WrongType,
    #[error("token claims are invalid")]
    InvalidClaims,
    #[error("token configuration: {0}")]
    Config(String),
}

/// Who a verified token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSubject {
    /// One of our users, by id (the `sub` claim), from our own access token.
    User { user_id: i64 },
    /// A person known to the external issuer: to be matched to a local user by email (as the
    /// issuer spells it; compare case-insensitively). `role` is our role code from the mapped
    /// claim, `None` when no mapping matched.
    External { email: String, role: Option<String> },
}

/// Mints and verifies access tokens. Keys are parsed once here, not per request.
pub struct TokenService {
    issuer: String,
    audience: String,
    access_ttl: Duration,
    own: OwnKeys,
    oidc: Option<OidcVerifier>,
    /// Union of every verifier's algorithms: anything else is refused before routing.
    accepted_algorithms: Vec<Algorithm>,
}

enum OwnKeys {
    Hs256 {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    Asymmetric {
        algorithm: Algorithm,
        current_kid: String,
        encoding: EncodingKey,
        verifying: HashMap<String, DecodingKey>,
    },
}

struct OidcVerifier {
    issuer: String,
    audience: String,
    /// kid -> the one algorithm that key may verify, and the key.
    keys: HashMap<String, (Algorithm, DecodingKey)>,
    email_path: Vec<String>,
    roles_path: Vec<String>,
    role_map: Vec<(String, String)>,
}

impl fmt::Debug for TokenService {
    /// Hand-written because the keys must not be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TokenService");
        s.field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_ttl", &self.access_ttl);
        match &self.own {
            OwnKeys::Hs256 { .. } => s.field("algorithm", &Algorithm::HS256),
            OwnKeys::Asymmetric {
                algorithm,
                current_kid,
                verifying,
                ..
            } => s
                .field("algorithm", algorithm)
                .field("current_kid", current_kid)
                .field("verifying_kids", &sorted_kids(verifying.keys())),
        };
        if let Some(oidc) = &self.oidc {
            s.field("oidc_issuer", &oidc.issuer)
                .field("oidc_kids", &sorted_kids(oidc.keys.keys()));
        }
        s.finish()
    }
}

fn sorted_kids<'a>(kids: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut kids: Vec<_> = kids.collect();
    kids.sort();
    kids
}

/// What we sign. `aud` is a single string: we are the only audience of our own tokens.
#[derive(Serialize)]
struct AccessClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
}

/// The few header fields read before verification, to pick a verifier.
struct UnverifiedHeader {
    alg: Algorithm,
    typ: Option<String>,
    kid: Option<String>,
}

impl TokenService {
    /// Refuses configurations that would make tokens weak or unverifiable, so that a mistake
    /// stops the server at start-up rather than surfacing as refused logins.
    pub fn new(config: TokenConfig) -> Result<Self, TokenError> {
        // jsonwebtoken picks its crypto backend from crate features and panics at use if it
        // cannot decide (both backends enabled somewhere in the build). Installing ours up front
        // keeps token verification panic-free; if a backend is already installed, it stays.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();

        if config.issuer.trim().is_empty() {
            return Err(config_error("issuer is empty"));
        }
        if config.audience.trim().is_empty() {
            return Err(config_error("audience is empty"));
        }
        let mut access_ttl = Duration::from_secs(config.access_ttl.as_secs());
        if access_ttl.is_zero() {
            return Err(config_error(
                "access token lifetime must be at least one second",
            ));
        }
        if access_ttl > MAX_ACCESS_TTL {
            tracing::warn!(
                configured_secs = config.access_ttl.as_secs(),
                max_secs = MAX_ACCESS_TTL.as_secs(),
                "access token lifetime capped"
            );
            access_ttl = MAX_ACCESS_TTL;
        }

        let own = OwnKeys::new(config.keys)?;
        let oidc = match config.oidc {
            Some(oidc) => {
                if oidc.issuer == config.issuer {
                    return Err(config_error(
                        "the OIDC issuer must differ from our own issuer",
                    ));
                }
                Some(OidcVerifier::new(oidc)?)
            }
            None => None,
        };

        let mut accepted_algorithms = vec![own.algorithm()];
        if let Some(oidc) = &oidc {
            for (alg, _) in oidc.keys.values() {
                if !accepted_algorithms.contains(alg) {
                    accepted_algorithms.push(*alg);
                }
            }
        }

        Ok(TokenService {
            issuer: config.issuer,
            audience: config.audience,
            access_ttl,
            own,
            oidc,
            accepted_algorithms,
        })
    }

    /// Returns the token and its lifetime in seconds (the OAuth `expires_in`).
    pub fn issue_access_token(&self, user_id: i64) -> Result<(String, u64), TokenError> {
        let now = now_secs()?;
        let ttl = self.access_ttl.as_secs();
        let claims = AccessClaims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: user_id.to_string(),
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            jti: random_b64(16),
        };
        let mut header = Header::new(self.own.algorithm());
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        let key = match &self.own {
            OwnKeys::Hs256 { encoding, .. } => encoding,
            OwnKeys::Asymmetric {
                current_kid,
                encoding,
                ..
            } => {
                header.kid = Some(current_kid.clone());
                encoding
            }
        };
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
            tracing::error!(error = %e, "signing an access token failed");
            config_error("signing failed")
        })?;
        Ok((token, ttl))
    }

    /// Never panics and never does I/O, whatever `token` holds.
    pub fn verify(&self, token: &str) -> Result<TokenSubject, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header = parse_header(&decode_json_object(header_b64)?)?;
        if !self.accepted_algorithms.contains(&header.alg) {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        // Unverified: only used to choose between verifiers configured in advance. The chosen
        // verifier checks `iss` again once the signature holds.
        let payload = decode_json_object(payload_b64)?;
        let issuer = match payload.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            _ => return Err(TokenError::InvalidClaims),
        };
        if issuer == self.issuer {
            self.verify_own(token, &header)
        } else {
            match &self.oidc {
                Some(oidc) if issuer == oidc.issuer => oidc.verify(token, &header),
                _ => Err(TokenError::WrongIssuer),
            }
        }
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    fn verify_own(
        &self,
        token: &str,
        header: &UnverifiedHeader,
    ) -> Result<TokenSubject, TokenError> {
        if header.alg != self.own.algorithm() {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        // RFC 9068 typing keeps an ID token or some other JWT signed by the same key from
        // passing as an access token.
        if !header.typ.as_deref().is_some_and(is_access_token_typ) {
            return Err(TokenError::WrongType);
        }
        let key = match (&self.own, header.kid.as_deref()) {
            (OwnKeys::Hs256 { decoding, .. }, None) => decoding,
            // We never put a kid on HS256 tokens, so one carrying a kid is not ours.
            (OwnKeys::Hs256 { .. }, Some(_)) => return Err(TokenError::UnknownKey),
            (OwnKeys::Asymmetric { verifying, .. }, Some(kid)) => {
                verifying.get(kid).ok_or(TokenError::UnknownKey)?
            }
            (OwnKeys::Asymmetric { .. }, None) => return Err(TokenError::UnknownKey),
        };
        let mut validation = base_validation(header.alg, &self.issuer, &self.audience);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = decode_claims(token, key, &validation)?;

        let user_id = match claims.get("sub") {
            Some(Value::String(sub)) => parse_user_id(sub)?,
            _ => return Err(TokenError::InvalidClaims),
        };
        if !matches!(claims.get("jti"), Some(Value::String(jti)) if !jti.is_empty())
            || !claims.get("iat").is_some_and(Value::is_number)
        {
            return Err(TokenError::InvalidClaims);
        }
        Ok(TokenSubject::User { user_id })
    }
}

const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 7515 §4.1.9: `typ` compares case-insensitively and may omit the `application/` prefix.
fn is_access_token_typ(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ == ACCESS_TOKEN_TYP || typ == "application/at+jwt"
}

impl OwnKeys {
    fn new(keys: SigningKeys) -> Result<Self, TokenError> {
        match keys {
            SigningKeys::Hs256 { secret } => {
                if secret.len() < MIN_HS256_SECRET_BYTES {
                    return Err(config_error(&format!(
                        "the HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes"
                    )));
                }
                Ok(OwnKeys::Hs256 {
                    encoding: EncodingKey::from_secret(&secret),
                    decoding: DecodingKey::from_secret(&secret),
                })
            }
            SigningKeys::Asymmetric {
                algorithm,
                current_kid,
                signing_pem,
                verifying,
            } => {
                if !matches!(algorithm, Algorithm::EdDSA | Algorithm::ES256) {
                    return Err(config_error("signing keys must be EdDSA or ES256"));
                }
                if current_kid.is_empty() {
                    return Err(config_error("current_kid is empty"));
                }
                let encoding = match algorithm {
                    Algorithm::EdDSA => EncodingKey::from_ed_pem(&signing_pem),
                    _ => EncodingKey::from_ec_pem(&signing_pem),
                }
                .map_err(|_| {
                    config_error(&format!(
                        "the signing key of kid {current_kid:?} is not a PKCS#8 {algorithm:?} private key"
                    ))
                })?;

                let mut keys = HashMap::new();
                for (kid, pem) in verifying {
                    if kid.is_empty() {
                        return Err(config_error("a verifying key has an empty kid"));
                    }
                    let key = public_key_from_pem(algorithm, &pem).ok_or_else(|| {
                        config_error(&format!(
                            "the verifying key of kid {kid:?} is not a {algorithm:?} public key"
                        ))
                    })?;
                    if keys.insert(kid.clone(), key).is_some() {
                        return Err(config_error(&format!("kid {kid:?} is listed twice")));
                    }
                }
                let Some(current_public) = keys.get(&current_kid) else {
                    return Err(config_error(&format!(
                        "current_kid {current_kid:?} is not among the verifying keys"
                    )));
                };
                // A private key that does not match its published public key would mint tokens
                // nobody accepts; find out now.
                let probe = b"concord signing key check";
                let matches = jsonwebtoken::crypto::sign(probe, &encoding, algorithm)
                    .and_then(|sig| {
                        jsonwebtoken::crypto::verify(&sig, probe, current_public, algorithm)
                    })
                    .unwrap_or(false);
                if !matches {
                    return Err(config_error(&format!(
                        "the signing key does not match the public key of kid {current_kid:?}"
                    )));
                }
                Ok(OwnKeys::Asymmetric {
                    algorithm,
                    current_kid,
                    encoding,
                    verifying: keys,
                })
            }
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            OwnKeys::Hs256 { .. } => Algorithm::HS256,
            OwnKeys::Asymmetric { algorithm, .. } => *algorithm,
        }
    }
}

/// Checks the raw key length as well as the PEM: jsonwebtoken slices an Ed25519 key to 32 bytes
/// when verifying and would panic on a shorter one.
fn public_key_from_pem(algorithm: Algorithm, pem: &[u8]) -> Option<DecodingKey> {
    let key = match algorithm {
        Algorithm::EdDSA => DecodingKey::from_ed_pem(pem).ok()?,
        Algorithm::ES256 => DecodingKey::from_ec_pem(pem).ok()?,
        _ => return None,
    };
    let raw = key.try_get_as_bytes().ok()?;
    let well_formed = match algorithm {
        Algorithm::EdDSA => raw.len() == 32,
        // Uncompressed P-256 point; this also turns away P-384 keys, whose PEM looks alike.
        _ => raw.len() == 65 && raw[0] == 4,
    };
    // Building a verifier parses the point; a dummy signature must fail to verify, not error.
    let usable = well_formed
        && jsonwebtoken::crypto::verify("AAAA", b"probe", &key, algorithm).is_ok_and(|ok| !ok);
    usable.then_some(key)
}

impl OidcVerifier {
    fn new(config: OidcConfig) -> Result<Self, TokenError> {
        if config.issuer.trim().is_empty() {
            return Err(config_error("the OIDC issuer is empty"));
        }
        if config.audience.trim().is_empty() {
            return Err(config_error("the OIDC audience is empty"));
        }
        for (value, role) in &config.role_map {
            if !ROLE_CODES.contains(&role.as_str()) {
                return Err(config_error(&format!(
                    "OIDC role {value:?} maps to {role:?}, which is not one of {ROLE_CODES:?}"
                )));
            }
        }
        let email_claim = if config.email_claim.trim().is_empty() {
            OidcConfig::DEFAULT_EMAIL_CLAIM
        } else {
            config.email_claim.trim()
        };
        let email_path = claim_path(email_claim)
            .ok_or_else(|| config_error("the OIDC email claim path is invalid"))?;
        let roles_path = if config.roles_claim.trim().is_empty() {
            Vec::new()
        } else {
            claim_path(config.roles_claim.trim())
                .ok_or_else(|| config_error("the OIDC roles claim path is invalid"))?
        };

        let jwks: Value = serde_json::from_str(&config.jwks_json)
            .map_err(|_| config_error("the OIDC JWKS is not valid JSON"))?;
        let Some(entries) = jwks.get("keys").and_then(Value::as_array) else {
            return Err(config_error("the OIDC JWKS has no \"keys\" array"));
        };
        let mut keys = HashMap::new();
        for (index, entry) in entries.iter().enumerate() {
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
                tracing::warn!(index, "OIDC JWKS entry skipped: not a JWK");
                continue;
            };
            let Some(kid) = jwk.common.key_id.clone().filter(|kid| !kid.is_empty()) else {
                tracing::warn!(index, "OIDC JWKS entry skipped: no kid");
                continue;
            };
            match jwk_verifier(&jwk) {
                Ok(verifier) => {
                    if keys.insert(kid.clone(), verifier).is_some() {
                        return Err(config_error(&format!(
                            "kid {kid:?} appears twice in the OIDC JWKS"
                        )));
                    }
                }
                Err(reason) => tracing::warn!(%kid, reason, "OIDC JWKS key skipped"),
            }
        }
        if keys.is_empty() {
            return Err(config_error(
                "the OIDC JWKS has no usable RS256, ES256 or EdDSA signing key",
            ));
        }
        Ok(OidcVerifier {
            issuer: config.issuer,
            audience: config.audience,
            keys,
            email_path,
            roles_path,
            role_map: config.role_map,
        })
    }

    fn verify(&self, token: &str, header: &UnverifiedHeader) -> Result<TokenSubject, TokenError> {
        // Issuers type their access tokens "JWT" (Keycloak), "at+jwt" (RFC 9068) or not at all;
        // anything else is another kind of JWT (logout token, ...).
        if let Some(typ) = header.typ.as_deref()
            && !typ.eq_ignore_ascii_case("JWT")
            && !is_access_token_typ(typ)
        {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let (alg, key) = self.keys.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != *alg {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let mut validation = base_validation(*alg, &self.issuer, &self.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = decode_claims(token, key, &validation)?;

        // Keycloak signs ID tokens with the same key and, for a client named as audience, the
        // same `aud`; its body `typ` tells them apart ("Bearer" for access tokens).
        match claims.get("typ") {
            None => {}
            Some(Value::String(typ)) if typ.eq_ignore_ascii_case("Bearer") => {}
            Some(_) => return Err(TokenError::WrongType),
        }
        let email = match lookup(&claims, &self.email_path) {
            Some(Value::String(email)) if plausible_email(email) => email.clone(),
            _ => return Err(TokenError::InvalidClaims),
        };
        // Users are matched by email: an address the issuer says it has not verified could be
        // anyone's. Issuers that do not send the claim are trusted to verify addresses.
        // Some issuers send the flag as the string "true".
        let verified = |v: &Value| v == &Value::Bool(true) || v.as_str() == Some("true");
        if claims.get("email_verified").is_some_and(|v| !verified(v)) {
            return Err(TokenError::InvalidClaims);
        }
        Ok(TokenSubject::External {
            email,
            role: self.map_role(&claims),
        })
    }

    fn map_role(&self, claims: &Map<String, Value>) -> Option<String> {
        if self.roles_path.is_empty() {
            return None;
        }
        let held: Vec<&str> = match lookup(claims, &self.roles_path)? {
            Value::String(role) => vec![role.as_str()],
            Value::Array(roles) => roles.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        self.role_map
            .iter()
            .filter(|(value, _)| held.contains(&value.as_str()))
            .filter_map(|(_, role)| ROLE_CODES.iter().position(|code| code == role))
            .max()
            .map(|rank| ROLE_CODES[rank].to_owned())
    }
}

/// Turns one JWK into a key pinned to one algorithm, or says why it is skipped. Symmetric
/// keys are never taken: an issuer's JWKS is public, so an HMAC key from it would let anyone
/// sign.
fn jwk_verifier(jwk: &Jwk) -> Result<(Algorithm, DecodingKey), &'static str> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return Err("not a signature key");
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return Err("key_ops exclude verify");
    }
    let declared = jwk
        .common
        .key_algorithm
        .map(|alg| Algorithm::try_from(alg).map_err(|_| "unsupported alg"))
        .transpose()?;
    let (alg, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(params) => {
            let n = b64(&params.n).ok_or("bad RSA modulus")?;
            let e = b64(&params.e).ok_or("bad RSA exponent")?;
            let n_len = n.iter().skip_while(|b| **b == 0).count();
            if !(256..=512).contains(&n_len) {
                return Err("RSA keys must be 2048 to 4096 bits");
            }
            if e.is_empty() || e.len() > 8 {
                return Err("bad RSA exponent");
            }
            (
                Algorithm::RS256,
                DecodingKey::from_rsa_raw_components(&n, &e),
            )
        }
        AlgorithmParameters::EllipticCurve(params) => {
            if params.curve != EllipticCurve::P256 {
                return Err("only P-256 EC keys are accepted");
            }
            let x = b64(&params.x).ok_or("bad EC x")?;
            let y = b64(&params.y).ok_or("bad EC y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("bad P-256 point");
            }
            let key = DecodingKey::from_ec_components(&params.x, &params.y)
                .map_err(|_| "bad P-256 point")?;
            if !jsonwebtoken::crypto::verify("AAAA", b"probe", &key, Algorithm::ES256)
                .is_ok_and(|ok| !ok)
            {
                return Err("bad P-256 point");
            }
            (Algorithm::ES256, key)
        }
        AlgorithmParameters::OctetKeyPair(params) => {
            if params.curve != EllipticCurve::Ed25519 {
                return Err("only Ed25519 OKP keys are accepted");
            }
            // Checked here because jsonwebtoken would panic on a short key at verification.
            if b64(&params.x).is_none_or(|x| x.len() != 32) {
                return Err("bad Ed25519 key");
            }
            let key = DecodingKey::from_ed_components(&params.x).map_err(|_| "bad Ed25519 key")?;
            if !jsonwebtoken::crypto::verify("AAAA", b"probe", &key, Algorithm::EdDSA)
                .is_ok_and(|ok| !ok)
            {
                return Err("bad Ed25519 key");
            }
            (Algorithm::EdDSA, key)
        }
        _ => return Err("unsupported key type"),
    };
    match declared {
        None => Ok((alg, key)),
        Some(declared) if declared == alg => Ok((alg, key)),
        Some(_) => Err("alg does not match the key type, or is not RS256, ES256 or EdDSA"),
    }
}

fn base_validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation
}

/// Signature first, then claims: jsonwebtoken checks them in that order.
fn decode_claims(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<Map<String, Value>, TokenError> {
    jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
        .map(|data| data.claims)
        .map_err(map_jwt_error)
}

fn map_jwt_error(error: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match error.kind() {
        K::InvalidSignature => TokenError::BadSignature,
        K::ExpiredSignature => TokenError::Expired,
        K::ImmatureSignature => TokenError::NotYetValid,
        K::InvalidIssuer => TokenError::WrongIssuer,
        K::InvalidAudience => TokenError::WrongAudience,
        K::MissingRequiredClaim(claim) if claim == "aud" => TokenError::WrongAudience,
        K::MissingRequiredClaim(claim) if claim == "iss" => TokenError::WrongIssuer,
        K::MissingRequiredClaim(_) | K::InvalidClaimFormat(_) | K::InvalidSubject => {
            TokenError::InvalidClaims
        }
        K::InvalidAlgorithm
        | K::UnsupportedAlgorithm
        | K::MissingAlgorithm
        | K::InvalidAlgorithmName => TokenError::UnsupportedAlgorithm,
        K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => TokenError::Malformed,
        // Key errors: start-up checks make these unreachable, so one means misconfiguration.
        _ => {
            tracing::error!(error = %error, "a verification key could not be used");
            config_error("a verification key could not be used")
        }
    }
}

fn parse_header(header: &Map<String, Value>) -> Result<UnverifiedHeader, TokenError> {
    // We understand no extension, and RFC 7515 §4.1.11 says to refuse what we do not understand.
    if header.contains_key("crit") {
        return Err(TokenError::Malformed);
    }
    let alg = match header.get("alg") {
        // "none" and every name jsonwebtoken does not know end here.
        Some(Value::String(alg)) => {
            Algorithm::from_str(alg).map_err(|_| TokenError::UnsupportedAlgorithm)?
        }
        _ => return Err(TokenError::Malformed),
    };
    Ok(UnverifiedHeader {
        alg,
        typ: optional_string(header, "typ")?,
        kid: optional_string(header, "kid")?,
    })
}

fn optional_string(object: &Map<String, Value>, name: &str) -> Result<Option<String>, TokenError> {
    match object.get(name) {
        None => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(TokenError::Malformed),
    }
}

fn decode_json_object(part: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(TokenError::Malformed),
    }
}

/// Only the canonical decimal form: the `sub` we mint, nothing an attacker could make alias it.
fn parse_user_id(sub: &str) -> Result<i64, TokenError> {
    match sub.parse::<i64>() {
        Ok(id) if id.to_string() == sub => Ok(id),
        _ => Err(TokenError::InvalidClaims),
    }
}

fn claim_path(dotted: &str) -> Option<Vec<String>> {
    let path: Vec<String> = dotted.split('.').map(str::to_owned).collect();
    (!path.iter().any(String::is_empty)).then_some(path)
}

fn lookup<'a>(claims: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |value, segment| value.get(segment))
}

fn plausible_email(email: &str) -> bool {
    email.len() <= 320
        && email.contains('@')
        && !email.starts_with('@')
        && !email.ends_with('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn b64(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value).ok()
}

fn config_error(message: &str) -> TokenError {
    TokenError::Config(message.to_owned())
}

fn now_secs() -> Result<u64, TokenError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| config_error("the system clock is before 1970"))
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Generates a fresh random HS256 secret (64 bytes from the OS RNG), for the embedded default
/// to persist in its data directory on first start.
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 64];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// An opaque refresh token or API key: `prefix` (e.g. `crt_`, `ck_`) then 32 random bytes in
/// base64url, so it is URL-safe and its kind is recognisable (by people and secret scanners).
/// Store only [`hash_token`] of it.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", random_b64(RANDOM_TOKEN_BYTES))
}

/// Lowercase hex SHA-256 of the whole token (prefix included). No salt is needed: the token
/// holds 256 random bits, so a leaked hash cannot be reversed by guessing.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    //! The keys under `testdata/` (`test-*.pem`) were generated with openssl for these tests
    //! only; they protect nothing and must never be used outside tests.

    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use serde_json::json;

    const ED_CURRENT_PRIVATE: &[u8] = include_bytes!("testdata/test-ed25519-current-private.pem");
    const ED_CURRENT_PUBLIC: &[u8] = include_bytes!("testdata/test-ed25519-current-public.pem");
    const ED_NEXT_PRIVATE: &[u8] = include_bytes!("testdata/test-ed25519-next-private.pem");
    const ED_NEXT_PUBLIC: &[u8] = include_bytes!("testdata/test-ed25519-next-public.pem");
    const ES256_PRIVATE: &[u8] = include_bytes!("testdata/test-es256-private.pem");
    const ES256_PUBLIC: &[u8] = include_bytes!("testdata/test-es256-public.pem");
    const OIDC_RSA_PRIVATE: &[u8] = include_bytes!("testdata/test-oidc-rsa-private.pem");
    const OIDC_RSA_PUBLIC: &[u8] = include_bytes!("testdata/test-oidc-rsa-public.pem");

    const ISSUER: &str = "https://concord.test";
    const AUDIENCE: &str = "concord-api";
    const KC_ISSUER: &str = "https://keycloak.test/realms/relief";
    const KC_AUDIENCE: &str = "concord";
    const HS_SECRET: &[u8] = b"test-only secret, 32+ bytes long, never used in production";

    fn now() -> u64 {
        now_secs().unwrap()
    }

    fn config(keys: SigningKeys) -> TokenConfig {
        TokenConfig {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            access_ttl: Duration::from_secs(600),
            keys,
            oidc: None,
        }
    }

    fn ed_keys(current_kid: &str, signing: &[u8], verifying: &[(&str, &[u8])]) -> SigningKeys {
        SigningKeys::Asymmetric {
            algorithm: Algorithm::EdDSA,
            current_kid: current_kid.into(),
            signing_pem: signing.to_vec(),
            verifying: verifying
                .iter()
                .map(|(kid, pem)| (kid.to_string(), pem.to_vec()))
                .collect(),
        }
    }

    /// A configured service plus the raw key that signs for it, to forge variants with.
    struct Fixture {
        name: &'static str,
        service: TokenService,
        alg: Algorithm,
        key: EncodingKey,
        kid: Option<&'static str>,
        /// Public key bytes, for the algorithm-confusion attack.
        public_pem: Option<&'static [u8]>,
    }

    impl Fixture {
        fn header(&self) -> Header {
            let mut header = Header::new(self.alg);
            header.typ = Some("at+jwt".into());
            header.kid = self.kid.map(str::to_owned);
            header
        }

        fn sign(&self, header: &Header, claims: &Value) -> String {
            jsonwebtoken::encode(header, claims, &self.key).unwrap()
        }

        fn sign_claims(&self, claims: &Value) -> String {
            self.sign(&self.header(), claims)
        }

        fn verify(&self, token: &str) -> Result<TokenSubject, TokenError> {
            self.service.verify(token)
        }
    }

    fn good_claims() -> Value {
        let now = now();
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "42", "iat": now, "nbf": now,
            "exp": now + 300, "jti": "test-jti",
        })
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn hs256() -> Fixture {
        Fixture {
            name: "HS256",
            service: TokenService::new(config(SigningKeys::Hs256 {
                secret: HS_SECRET.to_vec(),
            }))
            .unwrap(),
            alg: Algorithm::HS256,
            key: EncodingKey::from_secret(HS_SECRET),
            kid: None,
            public_pem: None,
        }
    }

    fn eddsa() -> Fixture {
        Fixture {
            name: "EdDSA",
            service: TokenService::new(config(ed_keys(
                "ed-1",
                ED_CURRENT_PRIVATE,
                &[("ed-1", ED_CURRENT_PUBLIC)],
            )))
            .unwrap(),
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_pem(ED_CURRENT_PRIVATE).unwrap(),
            kid: Some("ed-1"),
            public_pem: Some(ED_CURRENT_PUBLIC),
        }
    }

    fn es256() -> Fixture {
        Fixture {
            name: "ES256",
            service: TokenService::new(config(SigningKeys::Asymmetric {
                algorithm: Algorithm::ES256,
                current_kid: "ec-1".into(),
                signing_pem: ES256_PRIVATE.to_vec(),
                verifying: vec![("ec-1".into(), ES256_PUBLIC.to_vec())],
            }))
            .unwrap(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_pem(ES256_PRIVATE).unwrap(),
            kid: Some("ec-1"),
            public_pem: Some(ES256_PUBLIC),
        }
    }

    fn all() -> [Fixture; 3] {
        [hs256(), eddsa(), es256()]
    }

    fn b64_json(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn unverified_header(token: &str) -> Map<String, Value> {
        decode_json_object(token.split('.').next().unwrap()).unwrap()
    }

    #[test]
    fn round_trip() {
        for f in all() {
            let (token, expires_in) = f.service.issue_access_token(42).unwrap();
            assert_eq!(expires_in, 600, "{}", f.name);
            assert_eq!(
                f.verify(&token),
                Ok(TokenSubject::User { user_id: 42 }),
                "{}",
                f.name
            );
            let header = unverified_header(&token);
            assert_eq!(header["typ"], "at+jwt", "{}", f.name);
            assert_eq!(
                header.get("kid").and_then(Value::as_str),
                f.kid,
                "{}",
                f.name
            );
            let claims = decode_json_object(token.split('.').nth(1).unwrap()).unwrap();
            for claim in ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"] {
                assert!(claims.contains_key(claim), "{}: {claim}", f.name);
            }
            assert_eq!(claims["sub"], "42");
            assert_eq!(
                claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
                600
            );
            // Hand-signed tokens with the same rules pass too: the forgeries below differ
            // from this one by only the attribute under test.
            assert_eq!(
                f.verify(&f.sign_claims(&good_claims())),
                Ok(TokenSubject::User { user_id: 42 })
            );
        }
        let es = es256();
        let (a, _) = es.service.issue_access_token(7).unwrap();
        let (b, _) = es.service.issue_access_token(7).unwrap();
        assert_ne!(a, b, "jti makes every token unique");
    }

    #[test]
    fn refuses_alg_none() {
        for f in all() {
            for alg in ["none", "None", "NONE", ""] {
                let header = json!({"alg": alg, "typ": "at+jwt", "kid": f.kid});
                let token = format!("{}.{}.", b64_json(&header), b64_json(&good_claims()));
                assert_eq!(
                    f.verify(&token),
                    Err(TokenError::UnsupportedAlgorithm),
                    "{}: {alg}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn refuses_hs256_signed_with_the_public_key() {
        for f in [eddsa(), es256()] {
            let public = f.public_pem.unwrap();
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some("at+jwt".into());
            header.kid = f.kid.map(str::to_owned);
            let token =
                jsonwebtoken::encode(&header, &good_claims(), &EncodingKey::from_secret(public))
                    .unwrap();
            assert_eq!(
                f.verify(&token),
                Err(TokenError::UnsupportedAlgorithm),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn refuses_an_algorithm_other_than_the_configured_one() {
        // An EdDSA token (valid key, valid claims) is not accepted by an HS256 or ES256 service.
        let ed = eddsa();
        let token = ed.sign_claims(&good_claims());
        assert_eq!(
            hs256().verify(&token),
            Err(TokenError::UnsupportedAlgorithm)
        );
        assert_eq!(
            es256().verify(&token),
            Err(TokenError::UnsupportedAlgorithm)
        );
        // HS512 with the right secret is still not HS256.
        let hs = hs256();
        let mut header = hs.header();
        header.alg = Algorithm::HS512;
        let token = hs.sign(&header, &good_claims());
        assert_eq!(hs.verify(&token), Err(TokenError::UnsupportedAlgorithm));
    }

    #[test]
    fn refuses_expired() {
        for f in all() {
            let now = now();
            let claims = with(good_claims(), "exp", json!(now - LEEWAY_SECS - 60));
            let claims = with(claims, "iat", json!(now - 1000));
            let claims = with(claims, "nbf", json!(now - 1000));
            assert_eq!(
                f.verify(&f.sign_claims(&claims)),
                Err(TokenError::Expired),
                "{}",
                f.name
            );
            // Within the leeway, clock skew is forgiven.
            let claims = with(good_claims(), "exp", json!(now - 10));
            assert!(f.verify(&f.sign_claims(&claims)).is_ok(), "{}", f.name);
        }
    }

    #[test]
    fn refuses_not_yet_valid() {
        for f in all() {
            let now = now();
            let claims = with(good_claims(), "nbf", json!(now + LEEWAY_SECS + 60));
            assert_eq!(
                f.verify(&f.sign_claims(&claims)),
                Err(TokenError::NotYetValid),
                "{}",
                f.name
            );
            let claims = with(good_claims(), "nbf", json!(now + 10));
            assert!(f.verify(&f.sign_claims(&claims)).is_ok(), "{}", f.name);
        }
    }

    #[test]
    fn refuses_wrong_audience() {
        for f in all() {
            for aud in [json!("someone-else"), json!(["someone-else"])] {
                let claims = with(good_claims(), "aud", aud);
                assert_eq!(
                    f.verify(&f.sign_claims(&claims)),
                    Err(TokenError::WrongAudience),
                    "{}",
                    f.name
                );
            }
            let mut claims = good_claims();
            claims.as_object_mut().unwrap().remove("aud");
            assert_eq!(
                f.verify(&f.sign_claims(&claims)),
                Err(TokenError::WrongAudience),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn refuses_wrong_issuer() {
        for f in all() {
            let claims = with(good_claims(), "iss", json!("https://evil.test"));
            assert_eq!(
                f.verify(&f.sign_claims(&claims)),
                Err(TokenError::WrongIssuer),
                "{}",
                f.name
            );
            let claims = with(good_claims(), "iss", json!([ISSUER]));
            assert_eq!(
                f.verify(&f.sign_claims(&claims)),
                Err(TokenError::InvalidClaims),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn refuses_wrong_type() {
        for f in all() {
            for typ in [Some("JWT"), Some("at+jwt+x"), Some("id_token"), None] {
                let mut header = f.header();
                header.typ = typ.map(str::to_owned);
                assert_eq!(
                    f.verify(&f.sign(&header, &good_claims())),
                    Err(TokenError::WrongType),
                    "{}: {typ:?}",
                    f.name
                );
            }
            let mut header = f.header();
            header.typ = Some("application/AT+JWT".into());
            assert!(f.verify(&f.sign(&header, &good_claims())).is_ok());
        }
    }

    #[test]
    fn refuses_tampered_payload_and_signature() {
        for f in all() {
            let (token, _) = f.service.issue_access_token(42).unwrap();
            let parts: Vec<&str> = token.split('.').collect();
            let mut claims: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            claims["sub"] = json!("1");
            let forged = format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2]);
            assert_eq!(
                f.verify(&forged),
                Err(TokenError::BadSignature),
                "{}",
                f.name
            );

            // Swapping in another token's signature fails too.
            let (other, _) = f.service.issue_access_token(43).unwrap();
            let other_sig = other.rsplit('.').next().unwrap();
            let forged = format!("{}.{}.{}", parts[0], parts[1], other_sig);
            assert_eq!(
                f.verify(&forged),
                Err(TokenError::BadSignature),
                "{}",
                f.name
            );
        }
        // Signed with a different HS256 secret.
        let hs = hs256();
        let other = EncodingKey::from_secret(b"another secret, also 32+ bytes long!!");
        let token = jsonwebtoken::encode(&hs.header(), &good_claims(), &other).unwrap();
        assert_eq!(hs.verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn refuses_unknown_or_missing_kid() {
        for f in [eddsa(), es256()] {
            for kid in [Some("no-such-key"), Some(""), None] {
                let mut header = f.header();
                header.kid = kid.map(str::to_owned);
                assert_eq!(
                    f.verify(&f.sign(&header, &good_claims())),
                    Err(TokenError::UnknownKey),
                    "{}: {kid:?}",
                    f.name
                );
            }
        }
        // We never put a kid on HS256 tokens.
        let hs = hs256();
        let mut header = hs.header();
        header.kid = Some("anything".into());
        assert_eq!(
            hs.verify(&hs.sign(&header, &good_claims())),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn key_rotation() {
        let next_signer = EncodingKey::from_ed_pem(ED_NEXT_PRIVATE).unwrap();
        let mut next_header = Header::new(Algorithm::EdDSA);
        next_header.typ = Some("at+jwt".into());
        next_header.kid = Some("ed-2".into());
        let next_token = jsonwebtoken::encode(&next_header, &good_claims(), &next_signer).unwrap();

        // Before the next key is published, its tokens are refused.
        let before = eddsa();
        let (old_token, _) = before.service.issue_access_token(42).unwrap();
        assert_eq!(before.verify(&next_token), Err(TokenError::UnknownKey));

        // Step 1: publish the next key alongside the current one; the current key still signs.
        let published = TokenService::new(config(ed_keys(
            "ed-1",
            ED_CURRENT_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC), ("ed-2", ED_NEXT_PUBLIC)],
        )))
        .unwrap();
        let user = Ok(TokenSubject::User { user_id: 42 });
        assert_eq!(published.verify(&next_token), user);
        assert_eq!(published.verify(&old_token), user);

        // Step 2: switch signing to the next key, keep the old one until its tokens expire.
        let switched = TokenService::new(config(ed_keys(
            "ed-2",
            ED_NEXT_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC), ("ed-2", ED_NEXT_PUBLIC)],
        )))
        .unwrap();
        let (new_token, _) = switched.issue_access_token(42).unwrap();
        assert_eq!(unverified_header(&new_token)["kid"], "ed-2");
        assert_eq!(switched.verify(&old_token), user);
        assert_eq!(published.verify(&new_token), user);

        // Step 3: remove the old key; its tokens now fail.
        let retired = TokenService::new(config(ed_keys(
            "ed-2",
            ED_NEXT_PRIVATE,
            &[("ed-2", ED_NEXT_PUBLIC)],
        )))
        .unwrap();
        assert_eq!(retired.verify(&new_token), user);
        assert_eq!(retired.verify(&old_token), Err(TokenError::UnknownKey));

        // A token signed by one key but naming the other's kid does not verify.
        let mut lying = next_header.clone();
        lying.kid = Some("ed-1".into());
        let token = jsonwebtoken::encode(&lying, &good_claims(), &next_signer).unwrap();
        assert_eq!(published.verify(&token), Err(TokenError::BadSignature));
    }

    #[test]
    fn refuses_bad_claims() {
        for f in all() {
            for (claim, value) in [
                ("sub", json!("not-a-number")),
                ("sub", json!("042")),
                ("sub", json!("+42")),
                ("sub", json!(42)),
                ("exp", json!("soon")),
                ("jti", json!("")),
            ] {
                let claims = with(good_claims(), claim, value.clone());
                assert_eq!(
                    f.verify(&f.sign_claims(&claims)),
                    Err(TokenError::InvalidClaims),
                    "{}: {claim}={value}",
                    f.name
                );
            }
            for claim in ["sub", "exp", "nbf", "jti", "iat"] {
                let mut claims = good_claims();
                claims.as_object_mut().unwrap().remove(claim);
                assert_eq!(
                    f.verify(&f.sign_claims(&claims)),
                    Err(TokenError::InvalidClaims),
                    "{}: without {claim}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn refuses_malformed_input_without_panicking() {
        let f = eddsa();
        let good_header = b64_json(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-1"}));
        let good_payload = b64_json(&good_claims());
        let cases = [
            String::new(),
            ".".into(),
            "..".into(),
            "...".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            "not a token".into(),
            "%%%.%%%.%%%".into(),
            format!("{good_header}.{good_payload}.%%%"),
            format!("{good_header}.{good_payload}"),
            format!("{}.{good_payload}.AAAA", b64_json(&json!(["alg", "EdDSA"]))),
            format!("{}.{good_payload}.AAAA", b64_json(&json!({"alg": 5}))),
            format!(
                "{}.{good_payload}.AAAA",
                b64_json(&json!({"typ": "at+jwt"}))
            ),
            format!(
                "{}.{good_payload}.AAAA",
                b64_json(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": 1}))
            ),
            format!(
                "{}.{good_payload}.AAAA",
                b64_json(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-1", "crit": ["exp"]}))
            ),
            format!("{good_header}.{}.AAAA", b64_json(&json!("string payload"))),
            format!("{good_header}.{}.AAAA", URL_SAFE_NO_PAD.encode(b"\xff\xfe")),
            format!("{good_header}=.{good_payload}.AAAA"),
            format!(
                "{good_header}.{good_payload}.{}",
                "A".repeat(MAX_TOKEN_BYTES)
            ),
        ];
        for token in &cases {
            assert_eq!(f.verify(token), Err(TokenError::Malformed), "{token:?}");
        }
        // A bad signature of the wrong length on an otherwise good token.
        let token = format!("{good_header}.{good_payload}.AAAA");
        assert_eq!(f.verify(&token), Err(TokenError::BadSignature));

        // Every one-character mutation of a valid token is refused, and none panics.
        for fixture in all() {
            let (token, _) = fixture.service.issue_access_token(42).unwrap();
            let bytes = token.as_bytes();
            for (i, &original) in bytes.iter().enumerate() {
                for replacement in [b'A', b'_', b'.', b'0'] {
                    if original == replacement {
                        continue;
                    }
                    let mut mutated = bytes.to_vec();
                    mutated[i] = replacement;
                    let mutated = String::from_utf8(mutated).unwrap();
                    assert!(fixture.verify(&mutated).is_err(), "{}: {i}", fixture.name);
                }
            }
            assert!(fixture.verify(&token[..token.len() - 1]).is_err());
            assert!(fixture.verify(&format!("{token}A")).is_err());
            assert!(fixture.verify(&format!("{token}.")).is_err());
        }
    }

    #[test]
    fn refuses_bad_configuration() {
        let bad = |keys: SigningKeys| match TokenService::new(config(keys)) {
            Err(TokenError::Config(message)) => message,
            other => panic!("expected a configuration error, got {other:?}"),
        };
        bad(SigningKeys::Hs256 {
            secret: vec![7; MIN_HS256_SECRET_BYTES - 1],
        });
        for algorithm in [Algorithm::RS256, Algorithm::HS256, Algorithm::ES384] {
            bad(SigningKeys::Asymmetric {
                algorithm,
                current_kid: "ed-1".into(),
                signing_pem: ED_CURRENT_PRIVATE.to_vec(),
                verifying: vec![("ed-1".into(), ED_CURRENT_PUBLIC.to_vec())],
            });
        }
        let message = bad(ed_keys(
            "ed-3",
            ED_CURRENT_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC)],
        ));
        assert!(message.contains("ed-3"), "{message}");
        // The private key is not the one published under current_kid.
        bad(ed_keys(
            "ed-1",
            ED_NEXT_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC)],
        ));
        // Keys of the wrong type or not keys at all; the message names no key material.
        let message = bad(ed_keys(
            "ed-1",
            ES256_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC)],
        ));
        assert!(
            !message.contains("PRIVATE") && !message.contains("MC4"),
            "{message}"
        );
        bad(ed_keys(
            "ed-1",
            ED_CURRENT_PRIVATE,
            &[("ed-1", ES256_PUBLIC)],
        ));
        bad(ed_keys(
            "ed-1",
            ED_CURRENT_PUBLIC,
            &[("ed-1", ED_CURRENT_PUBLIC)],
        ));
        bad(ed_keys("ed-1", b"garbage", &[("ed-1", ED_CURRENT_PUBLIC)]));
        bad(ed_keys(
            "ed-1",
            ED_CURRENT_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC), ("ed-1", ED_NEXT_PUBLIC)],
        ));
        bad(ed_keys(
            "ed-1",
            ED_CURRENT_PRIVATE,
            &[("ed-1", ED_CURRENT_PUBLIC), ("", ED_NEXT_PUBLIC)],
        ));

        let mut zero_ttl = config(SigningKeys::Hs256 {
            secret: HS_SECRET.to_vec(),
        });
        zero_ttl.access_ttl = Duration::from_millis(500);
        assert!(matches!(
            TokenService::new(zero_ttl),
            Err(TokenError::Config(_))
        ));
    }

    #[test]
    fn caps_access_ttl_at_fifteen_minutes() {
        let mut long = config(SigningKeys::Hs256 {
            secret: HS_SECRET.to_vec(),
        });
        long.access_ttl = Duration::from_secs(24 * 3600);
        let service = TokenService::new(long).unwrap();
        assert_eq!(service.access_ttl(), MAX_ACCESS_TTL);
        let (_, expires_in) = service.issue_access_token(1).unwrap();
        assert_eq!(expires_in, 15 * 60);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let keys = SigningKeys::Hs256 {
            secret: HS_SECRET.to_vec(),
        };
        let printed = format!("{keys:?} {:?}", hs256().service);
        assert!(!printed.contains("test-only secret"), "{printed}");
        assert!(!printed.contains("116, 101, 115, 116"), "{printed}");
        let printed = format!(
            "{:?} {:?}",
            ed_keys("ed-1", ED_CURRENT_PRIVATE, &[("ed-1", ED_CURRENT_PUBLIC)]),
            eddsa().service
        );
        assert!(!printed.contains("PRIVATE"), "{printed}");
        assert!(printed.contains("ed-1"), "{printed}");
    }

    // ---- OIDC -------------------------------------------------------------------------------

    fn jwk_json(public: DecodingKey, alg: Option<Algorithm>, kid: &str) -> Value {
        let mut jwk = Jwk::from_decoding_key(&public, alg).unwrap();
        jwk.common.key_id = Some(kid.into());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        serde_json::to_value(jwk).unwrap()
    }

    /// Keycloak-like: an RS256 key, an EdDSA key without `alg` (inferred), an encryption key
    /// and a symmetric key, the last two to be skipped.
    fn kc_jwks() -> String {
        let rsa = jwk_json(
            DecodingKey::from_rsa_pem(OIDC_RSA_PUBLIC).unwrap(),
            Some(Algorithm::RS256),
            "kc-rsa",
        );
        let ed = jwk_json(
            DecodingKey::from_ed_pem(ED_NEXT_PUBLIC).unwrap(),
            None,
            "kc-ed",
        );
        let mut enc = rsa.clone();
        enc["kid"] = json!("kc-enc");
        enc["use"] = json!("enc");
        enc["alg"] = json!("RSA-OAEP");
        let oct = json!({"kty": "oct", "kid": "kc-oct", "alg": "HS256", "k": "c2VjcmV0"});
        let set = json!({"keys": [rsa, ed, enc, oct]});
        // Parses as a standard JWKS too.
        serde_json::from_value::<JwkSet>(set.clone()).unwrap();
        set.to_string()
    }

    fn oidc_config(jwks_json: String) -> OidcConfig {
        OidcConfig {
            issuer: KC_ISSUER.into(),
            audience: KC_AUDIENCE.into(),
            jwks_json,
            email_claim: String::new(),
            roles_claim: "realm_access.roles".into(),
            role_map: vec![
                ("concord-viewer".into(), "VIEWER".into()),
                ("concord-admin".into(), "ADMIN".into()),
                ("coordinator".into(), "COORDINATOR".into()),
            ],
        }
    }

    fn oidc_service() -> TokenService {
        let mut config = config(SigningKeys::Hs256 {
            secret: HS_SECRET.to_vec(),
        });
        config.oidc = Some(oidc_config(kc_jwks()));
        TokenService::new(config).unwrap()
    }

    fn kc_claims(roles: &[&str]) -> Value {
        let now = now();
        json!({
            "iss": KC_ISSUER, "aud": [KC_AUDIENCE, "account"], "sub": "f1e2d3c4",
            "typ": "Bearer", "azp": "concord-web", "iat": now, "exp": now + 300,
            "email": "ana@relief.test", "email_verified": true,
            "realm_access": {"roles": roles},
        })
    }

    fn kc_header(alg: Algorithm, kid: &str) -> Header {
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        header
    }

    fn kc_rsa_sign(header: &Header, claims: &Value) -> String {
        let key = EncodingKey::from_rsa_pem(OIDC_RSA_PRIVATE).unwrap();
        jsonwebtoken::encode(header, claims, &key).unwrap()
    }

    fn external(role: Option<&str>) -> Result<TokenSubject, TokenError> {
        Ok(TokenSubject::External {
            email: "ana@relief.test".into(),
            role: role.map(str::to_owned),
        })
    }

    #[test]
    fn oidc_round_trip_maps_roles_from_a_nested_claim() {
        let service = oidc_service();
        let header = kc_header(Algorithm::RS256, "kc-rsa");
        let token = kc_rsa_sign(&header, &kc_claims(&["offline_access", "coordinator"]));
        assert_eq!(service.verify(&token), external(Some("COORDINATOR")));

        // Several matches: the most privileged wins, whatever the map's order.
        let token = kc_rsa_sign(
            &header,
            &kc_claims(&["concord-viewer", "concord-admin", "coordinator"]),
        );
        assert_eq!(service.verify(&token), external(Some("ADMIN")));

        // No match, or no roles claim: a known person without a role.
        let token = kc_rsa_sign(&header, &kc_claims(&["offline_access"]));
        assert_eq!(service.verify(&token), external(None));
        let mut claims = kc_claims(&[]);
        claims.as_object_mut().unwrap().remove("realm_access");
        assert_eq!(
            service.verify(&kc_rsa_sign(&header, &claims)),
            external(None)
        );

        // The EdDSA key (alg inferred from the JWK), typed at+jwt; a single string aud.
        let ed = EncodingKey::from_ed_pem(ED_NEXT_PRIVATE).unwrap();
        let mut header = kc_header(Algorithm::EdDSA, "kc-ed");
        header.typ = Some("at+jwt".into());
        let claims = with(kc_claims(&["concord-viewer"]), "aud", json!(KC_AUDIENCE));
        let token = jsonwebtoken::encode(&header, &claims, &ed).unwrap();
        assert_eq!(service.verify(&token), external(Some("VIEWER")));

        // No typ at all, and no body typ / email_verified (other issuers): accepted.
        let mut header = kc_header(Algorithm::RS256, "kc-rsa");
        header.typ = None;
        let mut claims = kc_claims(&[]);
        claims.as_object_mut().unwrap().remove("typ");
        claims.as_object_mut().unwrap().remove("email_verified");
        assert_eq!(
            service.verify(&kc_rsa_sign(&header, &claims)),
            external(None)
        );

        // Our own tokens still verify next to the OIDC issuer.
        let (ours, _) = service.issue_access_token(5).unwrap();
        assert_eq!(service.verify(&ours), Ok(TokenSubject::User { user_id: 5 }));
    }

    #[test]
    fn oidc_custom_claim_paths() {
        let mut config = config(SigningKeys::Hs256 {
            secret: HS_SECRET.to_vec(),
        });
        let mut oidc = oidc_config(kc_jwks());
        oidc.email_claim = "preferred_email".into();
        oidc.roles_claim = "resource_access.concord.roles".into();
        config.oidc = Some(oidc);
        let service = TokenService::new(config).unwrap();
        let mut claims = kc_claims(&[]);
        claims["preferred_email"] = json!("bo@relief.test");
        claims["resource_access"] = json!({"concord": {"roles": "concord-admin"}});
        let token = kc_rsa_sign(&kc_header(Algorithm::RS256, "kc-rsa"), &claims);
        assert_eq!(
            service.verify(&token),
            Ok(TokenSubject::External {
                email: "bo@relief.test".into(),
                role: Some("ADMIN".into()),
            })
        );
    }

    #[test]
    fn oidc_refuses_an_unconfigured_issuer() {
        let header = kc_header(Algorithm::RS256, "kc-rsa");
        let claims = with(
            kc_claims(&["coordinator"]),
            "iss",
            json!("https://other-keycloak.test/realms/relief"),
        );
        // Even signed with a key we trust for the configured issuer.
        assert_eq!(
            oidc_service().verify(&kc_rsa_sign(&header, &claims)),
            Err(TokenError::WrongIssuer)
        );
        // And a service without OIDC refuses the configured issuer's tokens.
        let token = kc_rsa_sign(&header, &kc_claims(&["coordinator"]));
        assert_eq!(
            hs256().verify(&token),
            Err(TokenError::UnsupportedAlgorithm)
        );
        let ed = EncodingKey::from_ed_pem(ED_CURRENT_PRIVATE).unwrap();
        let token =
            jsonwebtoken::encode(&kc_header(Algorithm::EdDSA, "ed-1"), &kc_claims(&[]), &ed)
                .unwrap();
        assert_eq!(eddsa().verify(&token), Err(TokenError::WrongIssuer));
    }

    #[test]
    fn oidc_ignores_key_urls_in_the_header() {
        let service = oidc_service();
        let urls = |header: &mut Header| {
            header.jku = Some("https://attacker.test/jwks.json".into());
            header.x5u = Some("https://attacker.test/cert.pem".into());
        };

        // Signed with the configured key: verifies; the URLs play no part.
        let mut header = kc_header(Algorithm::RS256, "kc-rsa");
        urls(&mut header);
        assert_eq!(
            service.verify(&kc_rsa_sign(&header, &kc_claims(&["coordinator"]))),
            external(Some("COORDINATOR"))
        );

        // The attacker's own key under the attacker's kid: unknown, nothing fetched.
        let attacker = EncodingKey::from_ed_pem(ED_CURRENT_PRIVATE).unwrap();
        let mut header = kc_header(Algorithm::EdDSA, "attacker-key");
        urls(&mut header);
        let token =
            jsonwebtoken::encode(&header, &kc_claims(&["concord-admin"]), &attacker).unwrap();
        assert_eq!(service.verify(&token), Err(TokenError::UnknownKey));

        // The attacker's key under a configured kid, with the key itself embedded in the header.
        let mut header = kc_header(Algorithm::EdDSA, "kc-ed");
        urls(&mut header);
        header.jwk = Some(
            Jwk::from_decoding_key(
                &DecodingKey::from_ed_pem(ED_CURRENT_PUBLIC).unwrap(),
                Some(Algorithm::EdDSA),
            )
            .unwrap(),
        );
        let token =
            jsonwebtoken::encode(&header, &kc_claims(&["concord-admin"]), &attacker).unwrap();
        assert_eq!(service.verify(&token), Err(TokenError::BadSignature));

        // An algorithm the named key is not for.
        let mut header = kc_header(Algorithm::EdDSA, "kc-rsa");
        urls(&mut header);
        let token = jsonwebtoken::encode(&header, &kc_claims(&[]), &attacker).unwrap();
        assert_eq!(
            service.verify(&token),
            Err(TokenError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn oidc_refuses_hs256_and_skipped_keys() {
        let service = oidc_service();
        // HS256 is accepted for our own tokens here, but never for the OIDC issuer: not with
        // the public key as secret, not with the JWKS' symmetric key (which was skipped).
        let mut header = kc_header(Algorithm::HS256, "kc-rsa");
        let token = jsonwebtoken::encode(
            &header,
            &kc_claims(&[]),
            &EncodingKey::from_secret(OIDC_RSA_PUBLIC),
        )
        .unwrap();
        assert_eq!(
            service.verify(&token),
            Err(TokenError::UnsupportedAlgorithm)
        );
        header.kid = Some("kc-oct".into());
        let token = jsonwebtoken::encode(
            &header,
            &kc_claims(&[]),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(service.verify(&token), Err(TokenError::UnknownKey));
        // The encryption key is not a verification key.
        let token = kc_rsa_sign(&kc_header(Algorithm::RS256, "kc-enc"), &kc_claims(&[]));
        assert_eq!(service.verify(&token), Err(TokenError::UnknownKey));
        let mut header = kc_header(Algorithm::RS256, "kc-rsa");
        header.kid = None;
        assert_eq!(
            service.verify(&kc_rsa_sign(&header, &kc_claims(&[]))),
            Err(TokenError::UnknownKey)
        );
        // alg none with the issuer's claims.
        let token = format!(
            "{}.{}.",
            b64_json(&json!({"alg": "none", "kid": "kc-rsa"})),
            b64_json(&kc_claims(&["concord-admin"]))
        );
        assert_eq!(
            service.verify(&token),
            Err(TokenError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn oidc_refuses_bad_tokens() {
        let service = oidc_service();
        let header = kc_header(Algorithm::RS256, "kc-rsa");
        let now = now();
        let cases = [
            (
                with(kc_claims(&[]), "exp", json!(now - LEEWAY_SECS - 60)),
                TokenError::Expired,
            ),
            (
                with(kc_claims(&[]), "nbf", json!(now + LEEWAY_SECS + 60)),
                TokenError::NotYetValid,
            ),
            (
                with(kc_claims(&[]), "aud", json!("account")),
                TokenError::WrongAudience,
            ),
            (
                with(kc_claims(&[]), "typ", json!("ID")),
                TokenError::WrongType,
            ),
            (
                with(kc_claims(&[]), "typ", json!("Refresh")),
                TokenError::WrongType,
            ),
            (
                with(kc_claims(&[]), "email", json!("not an email")),
                TokenError::InvalidClaims,
            ),
            (
                with(kc_claims(&[]), "email", json!(["ana@relief.test"])),
                TokenError::InvalidClaims,
            ),
            (
                with(kc_claims(&[]), "email_verified", json!(false)),
                TokenError::InvalidClaims,
            ),
            (
                with(kc_claims(&[]), "email_verified", json!("false")),
                TokenError::InvalidClaims,
            ),
        ];
        for (claims, expected) in cases {
            assert_eq!(
                service.verify(&kc_rsa_sign(&header, &claims)),
                Err(expected.clone()),
                "{claims}"
            );
        }
        for claim in ["exp", "email"] {
            let mut claims = kc_claims(&[]);
            claims.as_object_mut().unwrap().remove(claim);
            assert_eq!(
                service.verify(&kc_rsa_sign(&header, &claims)),
                Err(TokenError::InvalidClaims),
                "without {claim}"
            );
        }
        let mut wrong_typ = header.clone();
        wrong_typ.typ = Some("logout+jwt".into());
        assert_eq!(
            service.verify(&kc_rsa_sign(&wrong_typ, &kc_claims(&[]))),
            Err(TokenError::WrongType)
        );
        // Tampered: promote oneself, keep the signature.
        let token = kc_rsa_sign(&header, &kc_claims(&["concord-viewer"]));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64_json(&kc_claims(&["concord-admin"])),
            parts[2]
        );
        assert_eq!(service.verify(&forged), Err(TokenError::BadSignature));
    }

    #[test]
    fn oidc_refuses_bad_configuration() {
        let bad = |oidc: OidcConfig| {
            let mut config = config(SigningKeys::Hs256 {
                secret: HS_SECRET.to_vec(),
            });
            config.oidc = Some(oidc);
            assert!(
                matches!(TokenService::new(config), Err(TokenError::Config(_))),
                "expected a configuration error"
            );
        };
        bad(oidc_config("not json".into()));
        bad(oidc_config("{}".into()));
        bad(oidc_config(r#"{"keys": []}"#.into()));
        bad(oidc_config(
            r#"{"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}"#
                .into(),
        ));
        // Short Ed25519 key (jsonwebtoken would panic on it at verification time).
        bad(oidc_config(
            r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": "AAAA"}]}"#.into(),
        ));
        // A declared alg that does not fit the key.
        let mut jwks: Value = serde_json::from_str(&kc_jwks()).unwrap();
        let mut rsa = jwks["keys"][0].clone();
        rsa["alg"] = json!("ES256");
        jwks["keys"] = json!([rsa]);
        bad(oidc_config(jwks.to_string()));
        // Duplicate kid.
        let mut jwks: Value = serde_json::from_str(&kc_jwks()).unwrap();
        let first = jwks["keys"][0].clone();
        jwks["keys"].as_array_mut().unwrap().push(first);
        bad(oidc_config(jwks.to_string()));
        // Role mapped to something that is not one of our roles.
        let mut oidc = oidc_config(kc_jwks());
        oidc.role_map.push(("root".into(), "SUPERUSER".into()));
        bad(oidc);
        // Same issuer as ours: tokens could not be told apart.
        let mut oidc = oidc_config(kc_jwks());
        oidc.issuer = ISSUER.into();
        bad(oidc);
        let mut oidc = oidc_config(kc_jwks());
        oidc.roles_claim = "realm_access..roles".into();
        bad(oidc);
    }

    // ---- opaque tokens ----------------------------------------------------------------------

    #[test]
    fn random_tokens_and_hashes() {
        let a = random_token("crt_");
        let b = random_token("crt_");
        assert_ne!(a, b);
        assert!(a.starts_with("crt_"));
        assert_eq!(a.len(), 4 + 43);
        assert!(
            a[4..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert!(random_token("ck_").starts_with("ck_"));

        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));

        let secret = generate_secret();
        assert!(secret.len() >= MIN_HS256_SECRET_BYTES);
        assert_ne!(secret, generate_secret());
        TokenService::new(config(SigningKeys::Hs256 { secret })).unwrap();
    }
}
