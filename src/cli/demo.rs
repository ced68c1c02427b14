//! `proofgate demo`: the whole pipeline offline on an embedded example.

use std::path::PathBuf;

use super::{CliResult, Global, Outcome, ResultExt};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run in this (new or empty) directory and keep it [default: a temporary
    /// directory, removed afterwards].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(args: Args, _global: &Global) -> CliResult {
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).io_context(format!("could not create `{}`", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("proofgate-demo-")
                .tempdir()
                .io_context("could not make a temporary directory")?;
            tmp.path().to_owned()
        }
    };
    let mut out = std::io::stdout().lock();
    let ok = proofgate::demo::run(&dir, chrono::Utc::now(), &mut out).or_io()?;
    Ok(if ok { Outcome::Yes } else { Outcome::No })
}
