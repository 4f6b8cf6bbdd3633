//! `frontier.csv`: one row per point, `method,beta,n,seed,step,kl,reward,rm_accuracy`, empty
//! where a field does not apply; numbers in Rust's shortest round-trip form, so the same
//! options give the same bytes.

use std::fmt::Write as _;

use super::{FrontierReport, Point};

/// First line of every CSV this crate writes (how [`super::output`] recognises its files).
pub const HEADER_MARK: &str = "# dpo-oracle frontier";

fn cell<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn row(out: &mut String, p: &Point) {
    let _ = writeln!(
        out,
        "{},{},{},{},{},{},{},{}",
        p.method,
        cell(p.beta),
        cell(p.n),
        cell(p.seed),
        p.step,
        p.kl,
        p.reward,
        cell(p.rm_accuracy)
    );
}

impl FrontierReport {
    /// The CSV text.
    pub fn to_csv(&self) -> String {
        let o = &self.options;
        let mut out = format!(
            "{HEADER_MARK}: seed {}, {} replicates, {} prompts, vocab {}, max_len {}, {} responses per prompt, {} pairs per prompt\n",
            o.seed,
            o.seeds,
            o.prompts,
            o.vocab,
            o.max_len,
            self.problem.responses(),
            o.pairs_per_prompt
        );
        out.push_str("method,beta,n,seed,step,kl,reward,rm_accuracy\n");
        for p in self.optimal.iter().chain(&self.points) {
            row(&mut out, p);
        }
        out
    }
}
