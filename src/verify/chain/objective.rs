//! Steps 2–3: the KL-constrained objective (C-obj) and its optimal policy with the partition function (C-opt).

use crate::autodiff::with_tape;
use crate::divergence::kl;
use crate::objective::objective;
use crate::partition::{log_partition, optimal_policy};
use crate::policy::{Policy, SequencePolicy};
use crate::prec::{rel_error, COMPOSITE_REL};
use crate::verify::ClaimCheck;

use super::{random_policy_tables, rows, scale, Case};

pub(super) fn objective_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut a1, mut opt_value, mut gap, mut stationary, mut logz]: [Vec<f64>; 5] =
        Default::default();
    let mut normalised = Vec::new();
    for case in cases {
        let p = &case.problem;
        let (beta, s) = (p.beta(), scale(p));
        let opt = optimal_policy(p);
        let mean_log_z = opt.log_z.mean().expect("prompts");
        let j_opt = objective(&rows(&opt.log_pi), p);
        opt_value.push(rel_error(j_opt, beta * mean_log_z, s));
        for table in random_policy_tables(case) {
            let j = objective(&rows(&table), p);
            let kls: Vec<f64> = (0..p.prompts())
                .map(|x| kl(&table.row(x).to_vec(), &opt.log_pi.row(x).to_vec()))
                .collect();
            let mean_kl = kls.iter().sum::<f64>() / kls.len() as f64;
            // A.1: J(pi) = -beta E[KL(pi || pi_r) - log Z].
            a1.push(rel_error(j, -beta * (mean_kl - mean_log_z), s));
            gap.push(rel_error(j_opt - j, beta * mean_kl, s));
            gap.push(if j_opt - j >= -COMPOSITE_REL * s {
                0.0
            } else {
                f64::INFINITY
            });
        }
        for x in 0..p.prompts() {
            let (l, r) = (p.log_ref_row(x).to_vec(), p.reward().row(x).to_vec());
            let lz = opt.log_z[x];
            // Closed forms: a constant row c has log Z = c / beta; shifting by c adds c / beta.
            let c = r[0];
            logz.push(rel_error(
                log_partition(&l, &vec![c; l.len()], beta),
                c / beta,
                s / beta,
            ));
            let shifted: Vec<f64> = r.iter().map(|v| v + 1e4).collect();
            logz.push(rel_error(
                log_partition(&l, &shifted, beta),
                lz + 1e4 / beta,
                1e4 / beta,
            ));
            let direct: f64 = l.iter().zip(&r).map(|(a, b)| (a + b / beta).exp()).sum();
            if direct.is_finite() && direct > 0.0 {
                logz.push(rel_error(lz, direct.ln(), s / beta));
            }
            let total: f64 = opt.log_pi.row(x).iter().map(|v| v.exp()).sum();
            normalised.push((total - 1.0).abs());
            stationary.extend(simplex_gradient(
                &opt.log_pi.row(x).to_vec(),
                &l,
                &r,
                beta,
                s,
            ));
        }
    }
    let mut chain_rule = Vec::new();
    for seed in 0..3u64 {
        for &(vocab, max_len) in &[(2, 1), (2, 3), (3, 2)] {
            let pi = SequencePolicy::random(2, vocab, max_len, 1.5, seed).expect("valid");
            let rho = SequencePolicy::random(2, vocab, max_len, 1.5, seed + 50).expect("valid");
            let (a, b) = (pi.log_prob_table(), rho.log_prob_table());
            for x in 0..2 {
                let direct = kl(&a.row(x).to_vec(), &b.row(x).to_vec());
                let by_tokens = pi.sequence_kl(&rho, x).expect("same shape");
                chain_rule.push(rel_error(by_tokens, direct, 1.0));
            }
        }
    }
    vec![
        ClaimCheck::new(
            "C-obj-1",
            "A.1: J(pi) = -beta E_x[KL(pi||pi_r) - log Z(x)] for random pi (3 policy kinds)",
            a1,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-obj-2",
            "sequence KL(pi||rho) over enumerated responses = sum of prefix-weighted token KLs",
            chain_rule,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-opt-1",
            "log Z(x) by logsumexp: closed forms, shift law at r+1e4, direct sum",
            logz,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-opt-2",
            "pi_r(.|x) = pi_ref exp(r/beta) / Z sums to 1",
            normalised,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-opt-3",
            "J(pi_r) = beta E_x log Z(x)",
            opt_value,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-opt-4",
            "J(pi_r) - J(pi) = beta E_x KL(pi||pi_r) >= 0 for random pi (Gibbs)",
            gap,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-opt-5",
            "the gradient of J on the simplex (tangential part, tape) vanishes at pi_r",
            stationary,
            COMPOSITE_REL,
        ),
    ]
}

/// The tangential part $g - \bar g$ of $\nabla_\pi J_x$ (reverse tape, $\pi$ as the variables)
/// at the given policy, relative to the scale of the rewards.
fn simplex_gradient(
    log_pi: &[f64],
    log_ref: &[f64],
    reward: &[f64],
    beta: f64,
    s: f64,
) -> Vec<f64> {
    let g = with_tape(|t| {
        let probs: Vec<_> = log_pi.iter().map(|l| t.var(l.exp())).collect();
        let logs: Vec<_> = probs.iter().map(|p| p.ln()).collect();
        crate::objective::objective_row(&logs, log_ref, reward, beta)
            .backward()
            .wrt_slice(&probs)
    });
    let mean = g.iter().sum::<f64>() / g.len() as f64;
    g.iter().map(|v| (v - mean).abs() / s).collect()
}
