//! `dpo-oracle frontier`: its arguments and what it does with them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::progress::Stderr;
use super::report::output;
use super::{run_with_progress, FrontierError, FrontierOptions};
use crate::prec::FRONTIER_ROUNDING;

/// The command's arguments; unset ones keep the defaults of [`FrontierOptions::standard`] (or
/// [`FrontierOptions::quick`] with `--quick`).
#[derive(Debug, Clone, Args)]
pub struct FrontierArgs {
    /// Output folder for frontier.csv and frontier.svg (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Smaller run (2 replicates, 3 β, shorter training).
    #[arg(long)]
    pub quick: bool,
    /// Seed of the problem; replicate k uses seed + k.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of replicates.
    #[arg(long)]
    pub seeds: Option<usize>,
    /// Preference pairs per prompt (N).
    #[arg(long)]
    pub pairs: Option<usize>,
    /// The β sweep, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub betas: Option<Vec<f64>>,
    /// Number of prompts.
    #[arg(long)]
    pub prompts: Option<usize>,
    /// Content tokens V.
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Length bound L.
    #[arg(long)]
    pub max_len: Option<usize>,
}

impl FrontierArgs {
    /// The options these arguments select.
    pub fn options(&self) -> FrontierOptions {
        let mut o = if self.quick {
            FrontierOptions::quick(self.seed)
        } else {
            FrontierOptions::standard(self.seed)
        };
        o.seeds = self.seeds.unwrap_or(o.seeds);
        o.pairs_per_prompt = self.pairs.unwrap_or(o.pairs_per_prompt);
        o.betas = self.betas.clone().unwrap_or(o.betas);
        o.prompts = self.prompts.unwrap_or(o.prompts);
        o.vocab = self.vocab.unwrap_or(o.vocab);
        o.max_len = self.max_len.unwrap_or(o.max_len);
        o
    }
}

/// Validates the options and the output folder (before any work), runs, checks claim
/// C-front-1 on every point, writes the files and prints the summary.
///
/// # Errors
/// Bad options, an output folder that cannot take the files, or a writing failure.
pub fn execute(args: &FrontierArgs) -> Result<bool, FrontierError> {
    let options = args.options();
    options.validate()?;
    output::check(&args.out).map_err(FrontierError::Output)?;
    let report = run_with_progress(&options, &mut Stderr::default())?;
    let excess = report.check_frontier();
    let written = output::write(&args.out, &report).map_err(FrontierError::Output)?;
    print!("{}", report.summary_text());
    for path in written {
        println!("wrote {}", path.display());
    }
    let holds = excess <= FRONTIER_ROUNDING;
    println!(
        "C-front-1 (every point on or below the optimal frontier): worst excess {excess:.3e}, tolerance {FRONTIER_ROUNDING:.0e}: {}",
        if holds { "pass" } else { "FAIL" }
    );
    Ok(holds)
}

/// [`execute`] as a process exit code: 0 when the claim holds, 1 when it fails, 2 on an error.
pub fn main(args: &FrontierArgs) -> ExitCode {
    match execute(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
