//! The optimal policy π_r and the partition function Z(x) (Eq. 4), in the log domain.

mod common;

use common::{beta, problem, scale};
use dpo_oracle::partition::{log_partition, optimal_log_policy, optimal_policy};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL};
use proptest::prelude::*;

// claim: C-opt-1
#[test]
fn log_partition_closed_forms() {
    // One response: Z = π_ref · e^{r/β} = e^{r/β}.
    assert_eq!(log_partition(&[0.0], &[2.0], 0.5), 4.0);
    // Two equally likely responses with rewards 0 and β ln 3: Z = (1 + 3)/2 = 2.
    let beta = 0.05;
    let z = log_partition(&[0.5f64.ln(); 2], &[0.0, beta * 3f64.ln()], beta);
    assert!(rel_error(z, 2f64.ln(), 1.0) <= 8.0 * f64::EPSILON);
}

// claim: C-opt-1
#[test]
fn log_partition_is_finite_far_beyond_exp_range() {
    // r/β = 2e5: e^{r/β} overflows, log Z does not. With rewards (1e4, 1e4 - β ln 3) and
    // π_ref = (1/2, 1/2): Z = e^{2e5}(1 + 1/3)/2, log Z = 2e5 + ln(2/3).
    let beta = 0.05;
    let r = [1e4, 1e4 - beta * 3f64.ln()];
    let z = log_partition(&[0.5f64.ln(); 2], &r, beta);
    assert!(rel_error(z, 2e5 + (2.0f64 / 3.0).ln(), 1.0) <= 2e5 * f64::EPSILON);
    let lp = optimal_log_policy(&[0.5f64.ln(); 2], &r, beta);
    assert!(rel_error(lp[0].exp(), 0.75, 1.0) <= 1e-10);
    // And -1e4: every term underflows, log Z = -2e5 + ln(2/3) is still exact.
    let r = [-1e4, -1e4 - beta * 3f64.ln()];
    let z = log_partition(&[0.5f64.ln(); 2], &r, beta);
    assert!(rel_error(z, -2e5 + (2.0f64 / 3.0).ln(), 1.0) <= 2e5 * f64::EPSILON);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    // claim: C-opt-1
    #[test]
    fn log_partition_shift_law_and_direct_sum(p in problem(5.0), c in -1e4..1e4f64) {
        let beta = p.beta();
        for x in 0..p.prompts() {
            let (l, r) = (p.log_ref_row(x).to_vec(), p.reward().row(x).to_vec());
            let z = log_partition(&l, &r, beta);
            // log Z(r + c) = log Z(r) + c/β (the shifted terms overflow exp for |c|/β > 709).
            let shifted: Vec<f64> = r.iter().map(|v| v + c).collect();
            let scale = (c / beta).abs().max(z.abs()).max(1.0);
            prop_assert!(rel_error(log_partition(&l, &shifted, beta), z + c / beta, scale) <= COMPOSITE_REL);
            let direct: f64 = l.iter().zip(&r).map(|(a, b)| (a + b / beta).exp()).sum();
            if direct.is_finite() && direct > 1e-300 {
                prop_assert!(rel_error(z, direct.ln(), z.abs().max(1.0)) <= COMPOSITE_REL);
            }
        }
    }

    // claim: C-opt-2
    #[test]
    fn optimal_policy_is_a_distribution_proportional_to_ref_times_exp(p in problem(5.0)) {
        let opt = optimal_policy(&p);
        let beta = p.beta();
        for x in 0..p.prompts() {
            let row = opt.log_pi.row(x);
            let total: f64 = row.iter().map(|v| v.exp()).sum();
            prop_assert!((total - 1.0).abs() <= COMPOSITE_REL);
            // Ratios: log π_r(a) - log π_r(b) = log π_ref(a) - log π_ref(b) + (r_a - r_b)/β.
            let (l, r) = (p.log_ref_row(x), p.reward().row(x));
            for a in 0..row.len() {
                let want = l[a] - l[0] + (r[a] - r[0]) / beta;
                prop_assert!(rel_error(row[a] - row[0], want, scale(&p) / beta) <= COMPOSITE_REL);
            }
        }
    }

    // claim: C-opt-2
    #[test]
    fn large_beta_tends_to_reference_small_beta_to_argmax(b in beta()) {
        // r = (1, 0, 0) and π_ref uniform: π_r(0) = e^{1/β}/(e^{1/β} + 2) in closed form.
        let lp = optimal_log_policy(&[(1.0f64 / 3.0).ln(); 3], &[1.0, 0.0, 0.0], b);
        let want = 1.0 / (1.0 + 2.0 * (-1.0 / b).exp());
        prop_assert!(rel_error(lp[0].exp(), want, want) <= COMPOSITE_REL);
    }
}

// claim: C-opt-2
#[test]
fn optimal_policy_at_extreme_beta() {
    // π_ref = (1/2, 1/2), r = (1, 1/2): π_r(0) = σ((r_0 − r_1)/β) in closed form.
    let log_ref = [0.5f64.ln(); 2];
    // β → 0: the argmax. (r_0 − r_1)/β = 5000, so log π_r(1) = −5000 − ln(1 + e^{−5000}) = −5000.
    let lp = optimal_log_policy(&log_ref, &[1.0, 0.5], 1e-4);
    assert_eq!(lp[0], 0.0);
    assert!(rel_error(lp[1], -5000.0, 1.0) <= 5000.0 * f64::EPSILON);
    // β → ∞: the reference. π_r(0) = σ(5e-7) = 1/2 + 1.25e-7 − O(1e-20).
    let lp = optimal_log_policy(&log_ref, &[1.0, 0.5], 1e6);
    let want = 1.0 / (1.0 + (-5e-7f64).exp());
    assert!(rel_error(lp[0].exp(), want, 1.0) <= 4.0 * f64::EPSILON);
    // The deviation from the reference: subtracting 1/2 leaves an absolute rounding of ~1e-16,
    // i.e. ~1e-9 relative to 1.25e-7, and the O(β^{-3}) term is ~1e-20: allow 1e-8.
    assert!(rel_error(lp[0].exp() - 0.5, 1.25e-7, 1.25e-7) <= 1e-8);
}
