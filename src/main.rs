//! `dpo-oracle`: runs the crate's self-verification (the default) and its other jobs.
//!
//! Exit status: 0 when the job passed, 1 when its verdict is a failure (a claim, a test of the
//! candidate, a fixtures folder differing from a regeneration), 2 when it could not be done
//! (bad input, a refused or failed write, standard output closed or full).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dpo_oracle::fixtures::{check, store, BUNDLED_DIR};

/// Verified-math reference implementation and test oracle for DPO.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Check every claim of the derivation chain on built-in problems, then compare the
    /// crate's fixtures folder with a regeneration (the default; writes nothing).
    Verify,
    /// Regenerate the golden fixtures (certified test vectors) into DIR.
    Fixtures {
        /// Output folder (only its fixture files are replaced, and only those dpo-oracle wrote).
        #[arg(default_value = "fixtures")]
        dir: PathBuf,
        /// Write nothing: compare DIR with a regeneration and list the files that differ.
        #[arg(long)]
        check: bool,
    },
    /// Compare a candidate implementation's outputs (JSON: file name → tcId → outputs) with the
    /// fixtures; exits 1 on any failure or when nothing was compared, 2 on bad input.
    Check {
        /// The candidate's outputs.
        candidate: PathBuf,
        /// The fixtures folder (by default the one that ships with this crate).
        #[arg(long, default_value = BUNDLED_DIR)]
        fixtures: PathBuf,
    },
    /// RLHF against DPO on an exact toy problem: writes frontier.csv and frontier.svg, prints
    /// the summary.
    Frontier(dpo_oracle::frontier::cli::FrontierArgs),
}

/// How a job ended, short of passing.
enum Stop {
    /// The verdict is a failure (exit 1).
    Failed,
    /// The job could not be done (exit 2).
    Error(String),
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Error(format!("cannot write to standard output: {e}"))
    }
}

impl Stop {
    fn message(&self) -> &str {
        match self {
            Stop::Failed => "failed",
            Stop::Error(m) => m,
        }
    }
}

type Job = Result<(), Stop>;

fn main() -> ExitCode {
    let mut out = std::io::stdout().lock();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to standard output, usage errors to standard error; a failed
        // write is an error, as for every other output.
        Err(e) if e.use_stderr() => {
            let _ = write!(std::io::stderr(), "{}", e.render());
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
        Err(e) => {
            return match write!(out, "{}", e.render()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::from(e.exit_code().clamp(0, 255) as u8),
                Err(w) => {
                    let _ = writeln!(std::io::stderr(), "error: {}", Stop::from(w).message());
                    ExitCode::from(2)
                }
            };
        }
    };
    let job = match cli.command.unwrap_or(Command::Verify) {
        Command::Verify => verify(&mut out),
        Command::Fixtures { dir, check: true } => fixtures_check(&mut out, &dir),
        Command::Fixtures { dir, check: false } => fixtures(&mut out, &dir),
        Command::Check {
            candidate,
            fixtures,
        } => check(&mut out, &candidate, &fixtures),
        // The experiment prints its own summary and chooses its exit status (1: a point above
        // the frontier, 2: bad input).
        Command::Frontier(args) => {
            drop(out);
            return dpo_oracle::frontier::cli::main(&args);
        }
    };
    let job = job.and_then(|()| out.flush().map_err(Stop::from));
    match job {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stop::Failed) => ExitCode::FAILURE,
        Err(Stop::Error(message)) => {
            // Nothing more can be done if standard error is closed too.
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(2)
        }
    }
}

fn error(e: impl std::fmt::Display) -> Stop {
    Stop::Error(e.to_string())
}

/// The claims, then the crate's own fixtures folder compared with a regeneration (never
/// written: `dpo-oracle fixtures DIR` regenerates deliberately).
fn verify(out: &mut impl Write) -> Job {
    let rows = dpo_oracle::verify::run_all();
    write!(out, "{}", dpo_oracle::verify::render_table(&rows))?;
    let claims = rows.iter().all(|r| r.passed());
    let shown = if dpo_oracle::fixtures::is_bundled_dir(Path::new("fixtures")) {
        PathBuf::from("fixtures/")
    } else {
        PathBuf::from(BUNDLED_DIR)
    };
    let folder = match store::compare(Path::new(BUNDLED_DIR)) {
        Ok(mut diff) => {
            diff.dir = shown.display().to_string();
            write!(out, "{diff}")?;
            diff.identical()
        }
        Err(e) => {
            writeln!(
                out,
                "{}: cannot compare with a regeneration: {e}\nto regenerate it deliberately: dpo-oracle fixtures {}",
                shown.display(),
                shown.display()
            )?;
            false
        }
    };
    if claims && folder {
        Ok(())
    } else {
        Err(Stop::Failed)
    }
}

fn fixtures(out: &mut impl Write, dir: &Path) -> Job {
    let (summary, written) = store::write(dir).map_err(error)?;
    for (file, tests, bytes) in &summary {
        writeln!(out, "{file:<32} {tests:>5} tests {bytes:>9} bytes")?;
    }
    let tests: usize = summary.iter().map(|s| s.1).sum();
    let bytes: usize = summary.iter().map(|s| s.2).sum();
    writeln!(out, "{:<32} {tests:>5} tests {bytes:>9} bytes", "total")?;
    writeln!(
        out,
        "{}: {} files created, {} replaced, {} unchanged",
        dir.display(),
        written.created.len(),
        written.replaced.len(),
        written.unchanged.len()
    )?;
    Ok(())
}

fn fixtures_check(out: &mut impl Write, dir: &Path) -> Job {
    let diff = store::compare(dir).map_err(error)?;
    write!(out, "{diff}")?;
    if diff.identical() {
        Ok(())
    } else {
        Err(Stop::Failed)
    }
}

fn check(out: &mut impl Write, candidate: &Path, fixtures: &Path) -> Job {
    let report = check::check_files(candidate, fixtures).map_err(error)?;
    write!(out, "{}", report.render())?;
    if report.passed() {
        Ok(())
    } else {
        Err(Stop::Failed)
    }
}
