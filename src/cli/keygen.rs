//! `proofgate keygen`: make an ed25519 signing key.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proofgate::sign::SigningKey;

use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

/// How the private key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyFormat {
    /// PEM (`-----BEGIN PRIVATE KEY-----`), as OpenSSL writes it.
    Pem,
    /// One line of base64 PKCS#8 DER (for a CI secret).
    Base64,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the private key (PKCS#8, mode 0600) to FILE; without it the private key
    /// goes to stdout and the public key and key id to stderr.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Encoding of the private key.
    #[arg(long, value_enum, default_value = "pem")]
    pub format: KeyFormat,
    /// Overwrite FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let (key, der) = SigningKey::generate().or_io()?;
    let text = match args.format {
        KeyFormat::Pem => pem("PRIVATE KEY", &der),
        KeyFormat::Base64 => format!("{}\n", STANDARD.encode(&der)),
    };
    let public = format!(
        "public-key: {}\nkey-id: {}\n",
        key.public_key().to_base64(),
        key.key_id()
    );
    match &args.out {
        Some(path) => {
            write_private(path, text.as_bytes(), args.force)?;
            print!("{public}");
            eprintln!("wrote private key to `{}` (mode 0600)", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .io_context("cannot write the key to stdout")?;
            eprint!("{public}");
        }
    }
    Ok(Outcome::Yes)
}

pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// Creates `path` with mode 0600 (never wider, even for a moment); refuses to replace
/// an existing file unless `force`.
pub(super) fn write_private(
    path: &std::path::Path,
    bytes: &[u8],
    force: bool,
) -> Result<(), CliError> {
    if path.exists() && !force {
        return Err(CliError::usage(anyhow!(
            "`{}` exists; pass `--force` to overwrite it",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // tempfile creates its files with mode 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".proofgate-key-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in `{}`", dir.display()))
        .or_io()?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write `{}`", path.display()))
        .or_io()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot set the mode of `{}`", path.display()))
            .or_io()?;
    }
    let persisted = if force {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write `{}`", path.display()))
        .or_io()
}
