//! `dpo-oracle`: runs the crate's self-verification (the default) and its other jobs.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Verified-math reference implementation and test oracle for DPO.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check every claim of the derivation chain on built-in problems (the default).
    Verify,
    /// Regenerate the golden fixtures (certified test vectors) into DIR.
    Fixtures {
        /// Output folder (only its fixture files are replaced).
        #[arg(default_value = "fixtures")]
        dir: std::path::PathBuf,
    },
    /// Compare a candidate implementation's outputs (JSON: file name → tcId → outputs) with the
    /// fixtures; exits non-zero on any failure.
    Check {
        /// The candidate's outputs.
        candidate: std::path::PathBuf,
        /// The fixtures folder (by default the one that ships with this crate).
        #[arg(long, default_value = dpo_oracle::fixtures::BUNDLED_DIR)]
        fixtures: std::path::PathBuf,
    },
    /// RLHF against DPO on an exact toy problem: writes frontier.csv and frontier.svg, prints
    /// the summary.
    Frontier(dpo_oracle::frontier::cli::FrontierArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Verify) {
        Command::Verify => verify(),
        Command::Fixtures { dir } => fixtures(&dir),
        Command::Check {
            candidate,
            fixtures,
        } => check(&candidate, &fixtures),
        Command::Frontier(args) => dpo_oracle::frontier::cli::main(&args),
    }
}

fn verify() -> ExitCode {
    let rows = dpo_oracle::verify::run_all();
    print!("{}", dpo_oracle::verify::render_table(&rows));
    if !rows.iter().all(|r| r.passed()) {
        return ExitCode::FAILURE;
    }
    regenerate_repository_fixtures()
}

/// Run from this crate's own repository (where `fixtures/` is the folder the crate ships,
/// [`dpo_oracle::fixtures::BUNDLED_DIR`]), the main job also regenerates `fixtures/` and says
/// whether any file changed; anywhere else it writes nothing.
fn regenerate_repository_fixtures() -> ExitCode {
    let dir = std::path::Path::new("fixtures");
    if !dpo_oracle::fixtures::is_bundled_dir(dir) {
        return ExitCode::SUCCESS;
    }
    let before = snapshot(dir);
    match dpo_oracle::fixtures::generate::write_all(dir) {
        Ok(summary) => {
            let tests: usize = summary.iter().map(|s| s.1).sum();
            let changed = before != snapshot(dir);
            println!(
                "fixtures/: {} files, {tests} tests regenerated; {}",
                summary.len(),
                if changed {
                    "some files changed (see git diff)"
                } else {
                    "byte-identical to the files there before"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The `.json` files directly under `dir` and their bytes, in name order.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    files.sort();
    files
}

fn fixtures(dir: &std::path::Path) -> ExitCode {
    match dpo_oracle::fixtures::generate::write_all(dir) {
        Ok(summary) => {
            for (file, tests, bytes) in &summary {
                println!("{file:<32} {tests:>5} tests {bytes:>9} bytes");
            }
            let tests: usize = summary.iter().map(|s| s.1).sum();
            let bytes: usize = summary.iter().map(|s| s.2).sum();
            println!("{:<32} {tests:>5} tests {bytes:>9} bytes", "total");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(candidate: &std::path::Path, fixtures: &std::path::Path) -> ExitCode {
    match dpo_oracle::fixtures::check::check_files(candidate, fixtures) {
        Ok(report) => {
            print!("{}", report.render());
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
