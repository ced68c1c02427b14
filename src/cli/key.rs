//! The signing-key flags `generate`, `run` and `ledger append` share, and the one rule for
//! where the key comes from.

use std::path::PathBuf;

use proofgate::sign::{self, DEFAULT_KEY_ENV, KeyLoadError, KeySource, SigningKey};

use super::CliError;

/// `--signing-key-env VAR` / `--signing-key-file FILE`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    /// Read the signing key (PEM or base64 PKCS#8) from this environment variable; its
    /// value is redacted from any log proofgate writes. When neither key flag is given,
    /// `PROOFGATE_SIGNING_KEY` is used if it is set and not empty.
    #[arg(long, value_name = "VAR", conflicts_with = "signing_key_file")]
    pub signing_key_env: Option<String>,
    /// Read the signing key (PEM, base64 or DER PKCS#8) from this file.
    #[arg(long, value_name = "FILE")]
    pub signing_key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// Where the key comes from: the file, the named variable, or `PROOFGATE_SIGNING_KEY`
    /// when it is set and not empty; `None` when there is no key.
    pub fn source(&self, env: impl Fn(&str) -> Option<String>) -> Option<KeySource> {
        match (&self.signing_key_file, &self.signing_key_env) {
            (Some(f), _) => Some(KeySource::File(f.clone())),
            (None, Some(v)) => Some(KeySource::Env(v.clone())),
            (None, None) => env(DEFAULT_KEY_ENV)
                .filter(|v| !v.trim().is_empty())
                .map(|_| KeySource::Env(DEFAULT_KEY_ENV.to_owned())),
        }
    }

    /// The key, if one is given. A key that cannot be read is exit 3, a bad key or a
    /// named variable that is unset is exit 2; messages name the source, never the secret.
    pub fn load(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SigningKey>, CliError> {
        match self.source(&env) {
            None => Ok(None),
            Some(source) => sign::load_signing_key(&source, env)
                .map(Some)
                .map_err(|e| match e {
                    KeyLoadError::Io { .. } => CliError::io(e),
                    other => CliError::usage(other),
                }),
        }
    }
}
