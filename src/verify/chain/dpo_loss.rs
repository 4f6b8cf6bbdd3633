//! Step 7: the DPO loss and its gradient (C-dpo, C-grad), and the listwise Plackett–Luce loss.

use ndarray::Array2;

use crate::autodiff::with_tape;
use crate::dpo::{dpo_gradient_closed_form, dpo_loss, pair_loss, Pair};
use crate::numdiff;
use crate::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use crate::prec::{rel_error, COMPOSITE_REL, FINITE_DIFFERENCE_REL};
use crate::preference::bradley_terry_log_prob;
use crate::scalar::{Dual, Real};
use crate::utilisation::sample_preferences;
use crate::verify::ClaimCheck;

use super::{max_rel_error, Case, BETAS};

/// The three gradient routes for one policy: (closed form vs tape, duals vs tape, finite
/// differences vs tape).
///
/// Errors are measured against the scale of the terms the gradient sums,
/// $\max_k\sum_i w_i\beta\\,\sigma(-\beta h_i)\\,(|\partial_k\log\pi(y_w)| + |\partial_k\log\pi(y_l)|)$:
/// the routes add the same terms in different orders (the tape cancels a tie's two equal and
/// opposite adjoints only after adding them to others), so they agree to a few ulps of that
/// sum, not of the total, which can be far smaller. Finite differences are held to the larger
/// of that scale and $|\mathcal L|$, since their rounding is $\approx u|\mathcal L|/h$.
pub fn gradient_route_errors<P: Policy>(
    policy: &P,
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> [f64; 3] {
    let theta = policy.params();
    let tape = with_tape(|t| {
        let vars: Vec<_> = theta.iter().map(|&v| t.var(v)).collect();
        dpo_loss(policy, &vars, log_ref, pairs, beta)
            .expect("built-in inputs are valid")
            .backward()
            .wrt_slice(&vars)
    });
    let closed = dpo_gradient_closed_form(policy, theta, log_ref, pairs, beta)
        .expect("built-in inputs are valid");
    let duals: Vec<f64> = (0..theta.len())
        .map(|j| {
            let d: Vec<Dual> = theta
                .iter()
                .enumerate()
                .map(|(i, &v)| Dual::new(v, f64::from(u8::from(i == j))))
                .collect();
            dpo_loss(policy, &d, log_ref, pairs, beta)
                .expect("built-in inputs are valid")
                .deriv()
        })
        .collect();
    let fd: Vec<f64> = numdiff::gradient(
        |t| dpo_loss(policy, t, log_ref, pairs, beta).expect("built-in inputs are valid"),
        theta,
        numdiff::DEFAULT_REL_STEP,
    )
    .iter()
    .map(|e| e.derivative)
    .collect();
    let log_pi: Vec<Vec<f64>> = (0..policy.prompts())
        .map(|x| policy.log_probs(theta, x))
        .collect();
    let mut terms = vec![0.0; theta.len()];
    for p in pairs {
        let (x, w, l) = (p.prompt, p.chosen, p.rejected);
        let z = beta * ((log_pi[x][w] - log_ref[[x, w]]) - (log_pi[x][l] - log_ref[[x, l]]));
        let c = (p.weight * beta * (-z).sigmoid()).abs();
        let (s_w, s_l) = (policy.score(theta, x, w), policy.score(theta, x, l));
        for ((t, a), b) in terms.iter_mut().zip(s_w).zip(s_l) {
            *t += c * (a.abs() + b.abs());
        }
    }
    let scale = terms.iter().fold(f64::MIN_POSITIVE, |m, &t| m.max(t));
    let loss = dpo_loss(policy, theta, log_ref, pairs, beta)
        .expect("built-in inputs are valid")
        .abs();
    [
        max_rel_error(&closed, &tape, scale),
        max_rel_error(&duals, &tape, scale),
        max_rel_error(&fd, &tape, scale.max(loss)),
    ]
}

/// The chain's Eq. 7 on a policy against the loss module's sigmoid loss on the batch of the
/// policy's log-probabilities: (value error, gradient error). The module's per-log-probability
/// gradient is carried to $\theta$ by the closed-form scores,
/// $\nabla_\theta\mathcal L = \sum_i g^w_i\nabla\log\pi(y_{w,i}) + g^l_i\nabla\log\pi(y_{l,i})$.
/// `pairs` must have equal weights (the module takes the batch mean).
pub fn loss_module_errors<P: Policy>(
    policy: &P,
    log_ref: &Array2<f64>,
    pairs: &[Pair],
    beta: f64,
) -> [f64; 2] {
    let theta = policy.params();
    let lp = policy.log_prob_table();
    let column = |f: &dyn Fn(&Pair) -> f64| pairs.iter().map(f).collect::<Vec<f64>>();
    let pc = column(&|q| lp[[q.prompt, q.chosen]]);
    let pr = column(&|q| lp[[q.prompt, q.rejected]]);
    let rc = column(&|q| log_ref[[q.prompt, q.chosen]]);
    let rr = column(&|q| log_ref[[q.prompt, q.rejected]]);
    let spec = crate::loss::LossSpec::new(crate::loss::LossType::Sigmoid, beta);
    let Ok(out) = crate::loss::compute(&spec, &crate::loss::PairLogps::new(&pc, &pr, &rc, &rr))
    else {
        return [f64::INFINITY; 2];
    };
    let mut grad = vec![0.0; theta.len()];
    for (i, q) in pairs.iter().enumerate() {
        let s_w = policy.score(theta, q.prompt, q.chosen);
        let s_l = policy.score(theta, q.prompt, q.rejected);
        for ((g, a), b) in grad.iter_mut().zip(s_w).zip(s_l) {
            *g += out.grad_policy_chosen[i] * a + out.grad_policy_rejected[i] * b;
        }
    }
    let chain = dpo_loss(policy, theta, log_ref, pairs, beta).expect("valid pairs");
    let closed =
        dpo_gradient_closed_form(policy, theta, log_ref, pairs, beta).expect("valid pairs");
    [
        rel_error(out.loss, chain, 1.0),
        max_rel_error(
            &grad,
            &closed,
            f64::MIN_POSITIVE.max(beta / pairs.len() as f64),
        ),
    ]
}

pub(super) fn dpo_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut closed, mut duals, mut fd, mut nll, mut values, mut module]: [Vec<f64>; 6] =
        Default::default();
    for case in cases {
        let p = &case.problem;
        let beta = p.beta();
        let pairs = sample_preferences(p, 6, case.seed + 11);
        let (xs, ys) = (p.prompts(), p.responses());
        let s = case.seed + 23;
        let mut record = |e: [f64; 3]| {
            closed.push(e[0]);
            duals.push(e[1]);
            fd.push(e[2]);
        };
        record(gradient_route_errors(
            &TabularPolicy::random(xs, ys, 1.0, s).expect("built-in inputs are valid"),
            p.log_ref(),
            &pairs,
            beta,
        ));
        record(gradient_route_errors(
            &LogLinearPolicy::random(xs, ys, 3, s).expect("built-in inputs are valid"),
            p.log_ref(),
            &pairs,
            beta,
        ));
        record(gradient_route_errors(
            &SequencePolicy::random(xs, case.vocab, case.max_len, 1.0, s)
                .expect("built-in inputs are valid"),
            p.log_ref(),
            &pairs,
            beta,
        ));
        module.extend(loss_module_errors(
            &LogLinearPolicy::random(xs, ys, 3, s).expect("built-in inputs are valid"),
            p.log_ref(),
            &pairs,
            beta,
        ));
        // Eq. 7 = Eq. 2 at the implicit reward: the DPO loss is the reward-model NLL of
        // r_hat = beta log pi/pi_ref.
        let policy = TabularPolicy::random(xs, ys, 1.0, s).expect("built-in inputs are valid");
        let lp = policy.log_prob_table();
        let loss = dpo_loss(&policy, policy.params(), p.log_ref(), &pairs, beta)
            .expect("built-in inputs are valid");
        let r_hat = (&lp - p.log_ref()) * beta;
        let nll_value: f64 = pairs
            .iter()
            .map(|q| {
                -q.weight
                    * bradley_terry_log_prob(
                        r_hat[[q.prompt, q.chosen]],
                        r_hat[[q.prompt, q.rejected]],
                    )
            })
            .sum();
        nll.push(rel_error(loss, nll_value, 1.0));
        // At pi = pi_ref every margin is 0 and the loss is ln 2.
        let reference = TabularPolicy::new(p.log_ref()).expect("built-in inputs are valid");
        let at_ref = dpo_loss(&reference, reference.params(), p.log_ref(), &pairs, beta)
            .expect("built-in inputs are valid");
        values.push(rel_error(at_ref, std::f64::consts::LN_2, 1.0));
    }
    // Closed forms of -log sigma(z) = ln(1 + e^{-z}): moderate z directly, and the extremes
    // |z| = 1e4 where the naive form overflows.
    for &z in &[-30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0] {
        let loss = pair_loss((z, 0.0), (0.0, 0.0), 1.0);
        values.push(rel_error(loss, (-z).exp().ln_1p(), 1e-300));
    }
    values.push(rel_error(pair_loss((-1e4, 0.0), (0.0, 0.0), 1.0), 1e4, 1.0));
    values.push(pair_loss((1e4, 0.0), (0.0, 0.0), 1.0).abs());
    values.push(rel_error(
        pair_loss((-200.0, 0.0), (0.0, 0.0), 50.0),
        1e4,
        1.0,
    ));
    vec![
        ClaimCheck::new(
            "C-dpo-1",
            "Eq. 7 pair loss -log sigma(beta h): closed forms, |beta h| = 1e4, ln 2 at pi_ref",
            values,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-dpo-2",
            "Eq. 7 = Eq. 2 at the implicit reward beta log pi/pi_ref",
            nll,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-dpo-3",
            "chain's Eq. 7 on a policy = loss module's sigmoid loss on its log-probs (value, grad)",
            module,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-grad-1",
            "DPO gradient: paper's closed form (sigma(r_l - r_w) weights) = reverse tape",
            closed,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-grad-2",
            "DPO gradient: forward duals = reverse tape",
            duals,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-grad-3",
            "DPO gradient: Richardson finite differences = reverse tape",
            fd,
            FINITE_DIFFERENCE_REL,
        ),
    ]
}

/// The Plackett–Luce DPO loss's closed-form gradient against the reverse tape, and the
/// gradient's sum (0 by shift invariance), both in units of $\beta K$: each entry is $\beta$
/// times a sum of terms of size at most 1, and the tape's $-1 + \sum e^{o_m - S_k}$ form cancels
/// when one reward dominates its suffix (the closed form does not), so errors are measured
/// against the size of those terms rather than the entry. Infinite if either route fails.
pub fn plackett_luce_gradient_errors(
    beta: f64,
    policy: &[f64],
    reference: &[f64],
    ranking: &[usize],
) -> [f64; 2] {
    use crate::loss::plackett_luce::{plackett_luce_loss, plackett_luce_loss_and_grad};
    let Ok((_, closed)) = plackett_luce_loss_and_grad(beta, policy, reference, ranking) else {
        return [f64::INFINITY; 2];
    };
    let tape = with_tape(|t| {
        let p: Vec<_> = policy.iter().map(|&x| t.var(x)).collect();
        let r: Vec<_> = reference.iter().map(|&x| t.var(x)).collect();
        plackett_luce_loss(beta, &p, &r, ranking)
            .map(|l| l.backward().wrt_slice(&p))
            .unwrap_or_default()
    });
    let unit = beta * policy.len() as f64;
    let tape_error = if tape.len() == closed.len() {
        closed
            .iter()
            .zip(&tape)
            .fold(0.0f64, |m, (c, t)| m.max((c - t).abs()))
            / unit
    } else {
        f64::INFINITY
    };
    [tape_error, closed.iter().sum::<f64>().abs() / unit]
}

/// The Plackett–Luce DPO loss (A.3): ties give $\log K!$, a shift of every policy
/// log-probability leaves the loss unchanged, and the closed-form gradient equals the tape and
/// sums to 0.
pub(super) fn listwise_checks() -> Vec<ClaimCheck> {
    use crate::loss::plackett_luce::plackett_luce_loss_and_grad;
    use crate::verify::losses::OwnedBatch;
    let mut values = Vec::new();
    let mut factorial = 1.0f64;
    for k in 2..=7usize {
        factorial *= k as f64;
        let policy: Vec<f64> = (0..k).map(|i| -2.0 - 5.0 * i as f64).collect();
        let ranking: Vec<usize> = (0..k).collect();
        let loss = plackett_luce_loss_and_grad(0.5, &policy, &policy, &ranking).map(|r| r.0);
        values.push(loss.map_or(f64::INFINITY, |l| rel_error(l, factorial.ln(), 1.0)));
    }
    let (mut tape_errors, mut sums) = (Vec::new(), Vec::new());
    for seed in 0..12u64 {
        let k = 2 + seed as usize % 5;
        let b = OwnedBatch::sample(k, 200 + seed);
        let [policy, _, reference, _] = &b.logps;
        let ranking: Vec<usize> = (0..k).map(|i| (i * 3 + seed as usize) % k).collect();
        let ranking = if k % 3 == 0 {
            (0..k).rev().collect()
        } else {
            ranking
        };
        for beta in BETAS {
            let shifted: Vec<f64> = policy.iter().map(|x| x - 40.0).collect();
            let (Ok((l0, _)), Ok((l1, _))) = (
                plackett_luce_loss_and_grad(beta, policy, reference, &ranking),
                plackett_luce_loss_and_grad(beta, &shifted, reference, &ranking),
            ) else {
                values.push(f64::INFINITY);
                continue;
            };
            values.push((l0 - l1).abs() / (1.0 + l0 + beta * 40.0 * k as f64));
            let [tape, sum] = plackett_luce_gradient_errors(beta, policy, reference, &ranking);
            tape_errors.push(tape);
            sums.push(sum);
        }
    }
    tape_errors.extend(sums);
    vec![
        ClaimCheck::new(
            "C-dpo-4",
            "Plackett-Luce DPO loss: K ties give ln K!; shifting every policy log-prob changes nothing",
            values,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-grad-4",
            "Plackett-Luce DPO loss: closed-form gradient = reverse tape, and sums to 0",
            tape_errors,
            COMPOSITE_REL,
        ),
    ]
}
