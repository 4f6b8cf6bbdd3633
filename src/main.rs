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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Verify) {
        Command::Verify => verify(),
    }
}

fn verify() -> ExitCode {
    let rows = dpo_oracle::verify::run_all();
    print!("{}", dpo_oracle::verify::render_table(&rows));
    if rows.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
