//! Step 1: policies over enumerable responses (C-pol).

use crate::autodiff::with_tape;
use crate::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use crate::prec::{rel_error, COMPOSITE_REL};
use crate::verify::ClaimCheck;

use super::max_rel_error;

/// Errors of the closed-form score against the tape, for one policy.
fn score_errors<P: Policy>(policy: &P) -> Vec<f64> {
    let theta = policy.params();
    let mut errors = Vec::new();
    for x in 0..policy.prompts() {
        for y in 0..policy.responses() {
            let tape = with_tape(|t| {
                let vars: Vec<_> = theta.iter().map(|&v| t.var(v)).collect();
                policy.log_probs(&vars, x)[y].backward().wrt_slice(&vars)
            });
            errors.push(max_rel_error(&policy.score(theta, x, y), &tape, 1.0));
        }
    }
    errors
}

fn normalisation_errors<P: Policy>(policy: &P) -> Vec<f64> {
    (0..policy.prompts())
        .map(|x| {
            let total: f64 = policy
                .log_probs(policy.params(), x)
                .iter()
                .map(|l| l.exp())
                .sum();
            (total - 1.0).abs()
        })
        .collect()
}

pub(super) fn policy_checks() -> Vec<ClaimCheck> {
    let mut norm = Vec::new();
    let mut score = Vec::new();
    let mut tokens = Vec::new();
    for seed in 0..3 {
        let tab = TabularPolicy::random(3, 5, 2.0, seed).expect("built-in inputs are valid");
        let lin = LogLinearPolicy::random(3, 6, 4, seed).expect("built-in inputs are valid");
        let seq = SequencePolicy::random(2, 2 + seed as usize % 2, 3, 2.0, seed)
            .expect("built-in inputs are valid");
        norm.extend(normalisation_errors(&tab));
        norm.extend(normalisation_errors(&lin));
        norm.extend(normalisation_errors(&seq));
        score.extend(score_errors(&tab));
        score.extend(score_errors(&lin));
        score.extend(score_errors(&seq));
        tokens.extend(sequence_token_errors(&seq));
    }
    vec![
        ClaimCheck::new(
            "C-pol-1",
            "every policy's pi(.|x) sums to 1 over its enumerated responses",
            norm,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pol-2",
            "closed-form score grad log pi(y|x) equals the reverse tape (three policies)",
            score,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pol-3",
            "sequence log pi(y|x) = sum of per-token log-probs (product of token probs)",
            tokens,
            COMPOSITE_REL,
        ),
    ]
}

/// The sequence policy's $\pi(y|x)$ against the product of per-token probabilities, each
/// $e^{\theta_t}/\sum_{t\'} e^{\theta_{t\'}}$ computed directly.
fn sequence_token_errors(seq: &SequencePolicy) -> Vec<f64> {
    let theta = seq.params();
    let width = theta.len() / seq.prompts();
    let vocab1 = (width as f64).sqrt().round() as usize;
    let prob = |x: usize, c: usize, t: usize| {
        let row = &theta[x * width + c * vocab1..x * width + (c + 1) * vocab1];
        row[t].exp() / row.iter().map(|v| v.exp()).sum::<f64>()
    };
    let mut errors = Vec::new();
    for x in 0..seq.prompts() {
        let lp = seq.log_probs(theta, x);
        for (y, l) in lp.iter().enumerate() {
            let tokens = seq.tokens(y);
            let mut p = 1.0;
            let mut c = 0;
            for &t in tokens {
                p *= prob(x, c, t);
                c = t;
            }
            if tokens.len() < seq.max_len() {
                p *= prob(x, c, crate::policy::sequence::END);
            }
            errors.push(rel_error(l.exp(), p, p));
        }
    }
    errors
}
