//! Step 9: the utilisation recipe (C-util).

use crate::prec::{FISHER_RATIO_BAND, GOODNESS_OF_FIT_ALPHA, RATE_EXPONENT_BAND};
use crate::problem::Problem;
use crate::utilisation::{error_rate, goodness_of_fit, sample_preferences};
use crate::verify::ClaimCheck;

use super::BETAS;

/// The utilisation problem: 2 prompts, 4 responses, rewards in [-0.5, 0.5].
///
/// The rate checks use β = 1: the learnt logits are the Bradley–Terry estimates divided by β,
/// so their error is $O(1/(\beta\sqrt{n}))$ and the asymptotic regime needs
/// $n \gg 1/(\beta^2 \min_{a,b}\pi_{\text{ref}}(a)\pi_{\text{ref}}(b))$ pairs per prompt.
pub fn utilisation_problem(beta: f64, seed: u64) -> Problem {
    Problem::random(2, 4, 0.5, beta, seed).expect("valid")
}

/// Pairs per prompt at which the rate checks run the recipe.
pub const RATE_SIZES: [usize; 4] = [1000, 4000, 16000, 64000];

/// Seeded replications of the recipe at each size.
pub const RATE_REPLICATIONS: u64 = 64;

pub(super) fn utilisation_checks() -> Vec<ClaimCheck> {
    let mut fit = Vec::new();
    let mut control = Vec::new();
    for (seed, &beta) in BETAS.iter().enumerate() {
        // The labels depend on r* only; β changes nothing in the test, but must not break it.
        let seed = seed as u64;
        let p = utilisation_problem(beta, seed);
        let pairs = sample_preferences(&p, 4000, seed + 1);
        // Error 1 - p: the claim holds when p >= alpha, i.e. error <= 1 - alpha.
        fit.push(1.0 - goodness_of_fit(&p, &pairs).p_value);
        let wrong = p.with_reward(p.reward() * 0.0).expect("finite");
        control.push(goodness_of_fit(&wrong, &pairs).p_value);
    }
    let (rate, constant) = error_rate(
        &utilisation_problem(1.0, 5),
        &RATE_SIZES,
        RATE_REPLICATIONS,
        99,
    )
    .map_or((f64::INFINITY, f64::INFINITY), |r| {
        let worst = r
            .mse_ratio
            .iter()
            .fold(0.0_f64, |m, q| m.max((q - 1.0).abs()));
        ((r.exponent + 0.5).abs(), worst)
    });
    vec![
        ClaimCheck::new(
            "C-util-1",
            "sampled BT labels pass Pearson chi^2 vs BT at alpha = 0.01 (error = 1 - p)",
            fit,
            1.0 - GOODNESS_OF_FIT_ALPHA,
        ),
        ClaimCheck::new(
            "C-util-2",
            "chi^2 test rejects labels from a different reward (error = p-value)",
            control,
            GOODNESS_OF_FIT_ALPHA,
        ),
        ClaimCheck::new(
            "C-util-3",
            "learnt policy's RMS TV to pi_{r*} ~ n^{-1/2}: |fitted exponent + 1/2|",
            [rate],
            RATE_EXPONENT_BAND,
        ),
        ClaimCheck::new(
            "C-util-4",
            "mean squared error of the learnt policy / tr(J H^-1 J^T)/N (Fisher): |ratio - 1|",
            [constant],
            FISHER_RATIO_BAND,
        ),
    ]
}
