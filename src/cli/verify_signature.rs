//! `proofgate verify-signature`: check one DSSE envelope against public keys.

use std::path::PathBuf;

use anyhow::anyhow;
use proofgate::sign::dsse::{self, Envelope};
use proofgate::sign::intoto::{PAYLOAD_TYPE, Statement};
use proofgate::sign::{PublicKey, SignError};

use super::{CliError, CliResult, Global, Outcome, ResultExt as _};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line for a person, on stdout.
    Table,
    /// One JSON object on stdout.
    Json,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("keys").required(true).multiple(true)))]
pub struct Args {
    /// The envelope (`proof-<ID>.dsse.json`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A trusted public key: base64 or hex of the raw 32 bytes, or PEM SPKI text.
    /// Repeatable.
    #[arg(long = "public-key", value_name = "KEY", group = "keys")]
    pub public_key: Vec<String>,
    /// A file holding a trusted public key (same encodings). Repeatable.
    #[arg(long = "public-key-file", value_name = "FILE", group = "keys")]
    pub public_key_file: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(serde::Serialize)]
struct Report {
    file: String,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    predicate_type: Option<String>,
    subjects: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let mut keys = Vec::new();
    for k in &args.public_key {
        keys.push(PublicKey::parse(k).usage_context("bad `--public-key`")?);
    }
    for f in &args.public_key_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow!("cannot read public key file `{}`: {e}", f.display()))
            .or_usage()?;
        keys.push(
            PublicKey::parse(&text)
                .usage_context(format!("bad public key in `{}`", f.display()))?,
        );
    }
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow!("cannot read `{}`: {e}", args.file.display()))
        .or_usage()?;
    let env = Envelope::from_json(&bytes)
        .map_err(|e| anyhow!("`{}`: {e}", args.file.display()))
        .or_usage()?;

    let mut report = Report {
        file: args.file.display().to_string(),
        valid: false,
        key_id: None,
        payload_type: Some(env.payload_type.clone()),
        predicate_type: None,
        subjects: Vec::new(),
        error: None,
    };
    match dsse::verify(&env, &keys) {
        Ok(v) => {
            report.key_id = Some(v.key_id.to_string());
            if v.payload_type == PAYLOAD_TYPE {
                match Statement::<serde_json::Value>::from_json(&v.payload) {
                    Ok(st) => {
                        report.valid = true;
                        report.predicate_type = Some(st.predicate_type.clone());
                        report.subjects = st
                            .subject
                            .iter()
                            .filter_map(|s| serde_json::to_value(s).ok())
                            .collect();
                    }
                    Err(e) => {
                        report.error = Some(format!("signed payload is not a valid statement: {e}"))
                    }
                }
            } else {
                report.valid = true;
            }
        }
        Err(e @ (SignError::BadBase64 { .. } | SignError::BadEnvelope(_))) => {
            return Err(CliError::usage(anyhow!("`{}`: {e}", args.file.display())));
        }
        Err(e) => report.error = Some(e.to_string()),
    }

    match args.format {
        Format::Json => {
            let s = serde_json::to_string_pretty(&report).or_io()?;
            println!("{s}");
        }
        Format::Table => {
            if report.valid {
                let subjects: Vec<String> = report
                    .subjects
                    .iter()
                    .filter_map(|s| s.get("name").and_then(|n| n.as_str()).map(str::to_owned))
                    .collect();
                println!(
                    "valid: `{}` signed by key {} ({}{})",
                    report.file,
                    report.key_id.as_deref().unwrap_or("?"),
                    report.payload_type.as_deref().unwrap_or("?"),
                    if subjects.is_empty() {
                        String::new()
                    } else {
                        format!("; subject {}", subjects.join(", "))
                    }
                );
            } else {
                println!(
                    "INVALID: `{}`: {}",
                    report.file,
                    report.error.as_deref().unwrap_or("not verified")
                );
            }
        }
    }
    Ok(if report.valid {
        Outcome::Yes
    } else {
        Outcome::No
    })
}
