//! `proofgate manifest`: hash the sources into a manifest with an RFC 9162 Merkle root, or
//! check the tree against a recorded one.

use std::io::{BufReader, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use proofgate::bundle::manifest::{self, Manifest, ManifestDiff, ManifestRequest};
use proofgate::fsutil::{relative_under, write_durable};
use serde::Serialize;

use super::format::Format;
use super::{CliError, CliResult, Global, Outcome, ResultExt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory or file to include, relative to the root (repeatable) [default: the
    /// whole root]. With `--verify`, defaults to the recorded manifest's scope.
    #[arg(long, value_name = "DIR")]
    pub scope: Vec<String>,
    /// Path to leave out, relative to the root (repeatable); `--out` is always left out.
    #[arg(long, value_name = "PATH")]
    pub exclude: Vec<String>,
    /// Also write the manifest JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Compare the tree with this recorded manifest; exit 1 on any difference.
    #[arg(long, value_name = "MANIFEST", conflicts_with = "out")]
    pub verify: Option<PathBuf>,
    /// Output format: `json`, the manifest (or the verification report); `table`, a short
    /// human summary.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Hashing threads [default: one per core].
    #[arg(long, default_value_t = 0, hide = true)]
    pub threads: usize,
}

/// The report `--verify` prints.
#[derive(Debug, Serialize)]
struct VerifyReport<'a> {
    status: &'static str,
    recorded_root_hash: String,
    current_root_hash: String,
    recorded_manifest_consistent: bool,
    file_count: usize,
    #[serde(flatten)]
    diff: &'a ManifestDiff,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let root = &global.root;
    if let Some(recorded_path) = &args.verify {
        let f = std::fs::File::open(recorded_path)
            .io_context(format!("cannot open `{}`", recorded_path.display()))?;
        let recorded =
            Manifest::read(recorded_path, BufReader::new(f)).map_err(CliError::classified)?;
        let mut exclude = recorded.exclude.clone();
        exclude.extend(args.exclude.iter().cloned());
        exclude.extend(relative_under(root, recorded_path));
        let scope = if args.scope.is_empty() {
            recorded.scope.clone()
        } else {
            args.scope.clone()
        };
        let now = manifest::build(&ManifestRequest {
            root: root.clone(),
            scope,
            exclude,
            threads: args.threads,
        })
        .map_err(CliError::classified)?
        .manifest;
        let consistent = recorded.is_self_consistent();
        let diff = recorded.diff(&now);
        let ok = consistent && diff.is_empty() && recorded.root_hash == now.root_hash;
        let report = VerifyReport {
            status: if ok { "MATCH" } else { "DIFFERENT" },
            recorded_root_hash: recorded.root_hash.to_string(),
            current_root_hash: now.root_hash.to_string(),
            recorded_manifest_consistent: consistent,
            file_count: now.file_count,
            diff: &diff,
        };
        let mut out = std::io::stdout().lock();
        match args.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, &report).or_io()?;
                writeln!(out).or_io()?;
            }
            Format::Table => {
                writeln!(out, "status         {}", report.status).or_io()?;
                writeln!(out, "recorded root  {}", report.recorded_root_hash).or_io()?;
                writeln!(out, "current root   {}", report.current_root_hash).or_io()?;
                if !consistent {
                    writeln!(
                        out,
                        "the recorded manifest's root does not match its own file list"
                    )
                    .or_io()?;
                }
                for (label, list) in [
                    ("added", &diff.added),
                    ("removed", &diff.removed),
                    ("changed", &diff.changed),
                ] {
                    for p in list {
                        writeln!(out, "{label:<8} {p}").or_io()?;
                    }
                }
            }
        }
        return Ok(if ok { Outcome::Yes } else { Outcome::No });
    }

    let mut exclude = args.exclude.clone();
    if let Some(out) = &args.out {
        exclude.extend(relative_under(root, out));
    }
    let start = std::time::Instant::now();
    let built = manifest::build(&ManifestRequest {
        root: root.clone(),
        scope: args.scope.clone(),
        exclude,
        threads: args.threads,
    })
    .map_err(CliError::classified)?;
    let elapsed = start.elapsed();
    let m = &built.manifest;
    // Serialised only when it is written somewhere.
    let json = if args.out.is_some() || matches!(args.format, Format::Json) {
        let mut json = serde_json::to_vec_pretty(m).or_io()?;
        json.push(b'\n');
        json
    } else {
        Vec::new()
    };
    if let Some(out) = &args.out {
        write_durable(out, &json)
            .with_context(|| format!("cannot write `{}`", out.display()))
            .or_io()?;
    }
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => stdout.write_all(&json).or_io()?,
        Format::Table => {
            writeln!(stdout, "scope      {}", m.scope.join(", ")).or_io()?;
            writeln!(stdout, "files      {}", m.file_count).or_io()?;
            writeln!(stdout, "bytes      {}", built.bytes).or_io()?;
            writeln!(stdout, "root_hash  {}", m.root_hash).or_io()?;
            writeln!(stdout, "seconds    {:.3}", elapsed.as_secs_f64()).or_io()?;
        }
    }
    Ok(Outcome::Yes)
}
