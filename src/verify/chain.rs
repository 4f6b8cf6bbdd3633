//! Claims of the derivation chain (`proofs/`), checked on built-in problems: three seeds,
//! three response-set sizes (the toy sequence policy's 3, 7 and 15 responses), reference
//! policies both tabular and autoregressive, and $\beta \in \{0.05, 0.1, 1, 5\}$.

use ndarray::{Array1, Array2};

use super::ClaimCheck;
use crate::autodiff::with_tape;
use crate::divergence::kl;
use crate::dpo::{dpo_gradient_closed_form, dpo_loss, pair_loss, policy_form_log_prob, Pair};
use crate::numdiff;
use crate::objective::objective;
use crate::partition::{log_partition, optimal_policy};
use crate::policy::{LogLinearPolicy, Policy, SequencePolicy, TabularPolicy};
use crate::population::{minimise_tabular, population_pairs, worst_total_variation};
use crate::prec::{
    rel_error, COMPOSITE_REL, FINITE_DIFFERENCE_REL, FISHER_RATIO_BAND, GOODNESS_OF_FIT_ALPHA,
    POPULATION_TV, RATE_EXPONENT_BAND, READ_BACK_CLASS,
};
use crate::preference::{bradley_terry_log_prob, plackett_luce_log_prob};
use crate::problem::{random_reward, Problem, ProblemError};
use crate::reward::{class_distance, implicit_reward, projection, reparameterised_reward, shift};
use crate::scalar::{Dual, Real};
use crate::utilisation::{error_rate, goodness_of_fit, sample_preferences};

/// The values of $\beta$ every claim is checked at (the paper's sentiment sweep).
pub const BETAS: [f64; 4] = [0.05, 0.1, 1.0, 5.0];

/// A built-in problem with the shape of a toy sequence policy (`vocab`, `max_len`).
#[derive(Debug, Clone)]
pub struct Case {
    /// The problem $(\pi_{\text{ref}}, r, \beta)$.
    pub problem: Problem,
    /// Vocabulary size of the matching sequence policy.
    pub vocab: usize,
    /// Length bound of the matching sequence policy.
    pub max_len: usize,
    /// The seed the case was drawn from.
    pub seed: u64,
}

/// The built-in problems: for seeds 0, 1, 2 and shapes $(X, V, L) \in \{(2,2,1), (3,2,2),
/// (2,2,3)\}$ ($Y$ = 3, 7, 15) at every $\beta$ of [`BETAS`]; the reference policy is a random
/// tabular policy for even seeds and a random sequence policy for odd ones; $r \sim U(-1,1)$.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for seed in 0..3u64 {
        for &(prompts, vocab, max_len) in &[(2, 2, 1), (3, 2, 2), (2, 2, 3)] {
            let reference = if seed % 2 == 0 {
                let ys = SequencePolicy::random(1, vocab, max_len, 1.0, 0)
                    .expect("built-in inputs are valid")
                    .responses();
                TabularPolicy::random(prompts, ys, 1.0, seed)
                    .expect("built-in inputs are valid")
                    .log_prob_table()
            } else {
                SequencePolicy::random(prompts, vocab, max_len, 1.0, seed)
                    .expect("built-in inputs are valid")
                    .log_prob_table()
            };
            let reward = random_reward(prompts, reference.ncols(), 1.0, seed + 100);
            for &beta in &BETAS {
                let problem = Problem::from_log_reference(reference.clone(), reward.clone(), beta)
                    .expect("built-in problems are valid");
                out.push(Case {
                    problem,
                    vocab,
                    max_len,
                    seed,
                });
            }
        }
    }
    out
}

/// The three random policies of a case's shape, as tables of $\log\pi(y|x)$.
fn random_policy_tables(case: &Case) -> Vec<Array2<f64>> {
    let (xs, ys) = (case.problem.prompts(), case.problem.responses());
    let s = case.seed + 7;
    vec![
        TabularPolicy::random(xs, ys, 1.5, s)
            .expect("built-in inputs are valid")
            .log_prob_table(),
        LogLinearPolicy::random(xs, ys, 3, s)
            .expect("built-in inputs are valid")
            .log_prob_table(),
        SequencePolicy::random(xs, case.vocab, case.max_len, 1.5, s)
            .expect("built-in inputs are valid")
            .log_prob_table(),
    ]
}

fn rows(table: &Array2<f64>) -> Vec<Vec<f64>> {
    table.rows().into_iter().map(|r| r.to_vec()).collect()
}

/// The scale of a problem's rewards, $\max(1, \max|r|)$: the floor of relative errors.
fn scale(problem: &Problem) -> f64 {
    problem.reward().iter().fold(1.0, |m, r| m.max(r.abs()))
}

/// Largest element-wise error of `a` against `b`, relative to `max(floor, max |b|)`.
pub fn max_rel_error<'a>(
    a: impl IntoIterator<Item = &'a f64>,
    b: impl IntoIterator<Item = &'a f64> + Clone,
    floor: f64,
) -> f64 {
    let norm = b.clone().into_iter().fold(floor, |m, v| m.max(v.abs()));
    a.into_iter()
        .zip(b)
        .map(|(x, y)| rel_error(*x, *y, norm))
        .fold(0.0, f64::max)
}

/// Every chain row of the self-verification table.
pub fn checks() -> Vec<ClaimCheck> {
    let cases = cases();
    let mut rows = input_checks();
    rows.extend(policy_checks());
    rows.extend(objective_checks(&cases));
    rows.extend(reward_checks(&cases));
    rows.extend(preference_checks(&cases));
    rows.extend(dpo_checks(&cases));
    rows.extend(listwise_checks());
    rows.extend(population_checks(&cases));
    rows.extend(utilisation_checks());
    rows
}

/// Each bad input gives its own error variant: the row's error counts the mismatches.
fn input_checks() -> Vec<ClaimCheck> {
    let good_ref = Array2::from_elem((2, 3), 1.0 / 3.0);
    let good_r = Array2::zeros((2, 3));
    let mut zero = good_ref.clone();
    zero[[1, 2]] = 0.0;
    zero[[1, 0]] = 2.0 / 3.0;
    let mut unnormalised = good_ref.clone();
    unnormalised[[0, 0]] = 0.5;
    let mut nan_r = good_r.clone();
    nan_r[[0, 1]] = f64::NAN;
    let outcomes = [
        matches!(
            Problem::new(&zero, good_r.clone(), 1.0),
            Err(ProblemError::ZeroReferenceProbability {
                prompt: 1,
                response: 2
            })
        ),
        matches!(
            Problem::new(&unnormalised, good_r.clone(), 1.0),
            Err(ProblemError::RowNotNormalised { prompt: 0, .. })
        ),
        matches!(
            Problem::new(&good_ref, good_r.clone(), 0.0),
            Err(ProblemError::NonPositiveBeta(_))
        ),
        matches!(
            Problem::new(&good_ref, good_r.clone(), f64::INFINITY),
            Err(ProblemError::NonFiniteBeta(_))
        ),
        matches!(
            Problem::new(&good_ref, nan_r, 1.0),
            Err(ProblemError::NonFiniteReward {
                prompt: 0,
                response: 1,
                ..
            })
        ),
        matches!(
            Problem::new(&Array2::zeros((2, 0)), Array2::zeros((2, 0)), 1.0),
            Err(ProblemError::EmptyResponseSet { .. })
        ),
        matches!(
            plackett_luce_log_prob(&[0.0, 1.0, 2.0], &[0, 0, 2]).map_err(ProblemError::from),
            Err(ProblemError::Ranking(
                crate::preference::PreferenceError::NotAPermutation { .. }
            ))
        ),
        matches!(
            TabularPolicy::new(&Array2::from_elem((1, 2), f64::NAN)),
            Err(crate::policy::PolicyError::NonFinite { index: 0 })
        ),
        matches!(
            minimise_tabular(&good_ref.mapv(f64::ln), &[], 1.0),
            Err(crate::population::MinimiseError::Input(
                crate::dpo::DpoError::NoPairs
            ))
        ),
    ];
    vec![ClaimCheck::new(
        "C-input-1",
        "each invalid (pi_ref, r, beta, ranking) is rejected with its own typed error",
        outcomes.iter().map(|&ok| f64::from(u8::from(!ok))),
        0.0,
    )]
}

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

fn policy_checks() -> Vec<ClaimCheck> {
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
/// $e^{\theta_t}/\sum_{t'} e^{\theta_{t'}}$ computed directly.
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

fn objective_checks(cases: &[Case]) -> Vec<ClaimCheck> {
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

fn reward_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut round, mut def1, mut lemma2, mut thm1, mut thm1_class, mut prop1]: [Vec<f64>; 6] =
        Default::default();
    for case in cases {
        let p = &case.problem;
        let (beta, s) = (p.beta(), scale(p));
        let opt = optimal_policy(p);
        let back = reparameterised_reward(&opt.log_pi, p.log_ref(), &opt.log_z, beta);
        round.push(max_rel_error(&back, p.reward(), s));
        let f = Array1::from_iter((0..p.prompts()).map(|x| 3.0 * x as f64 - 2.5));
        let shifted = shift(p.reward(), &f);
        def1.push(class_distance(&shifted, p.reward()) / s);
        // A non-constant perturbation is detected: distance equals its spread 0.5.
        let mut bumped = p.reward().clone();
        bumped[[0, 0]] += 0.5;
        def1.push((class_distance(&bumped, p.reward()) - 0.5).abs() / s);
        let opt_shifted = optimal_policy(&p.with_reward(shifted.clone()).expect("finite"));
        lemma2.push(max_rel_error(&opt_shifted.log_pi, &opt.log_pi, s / beta));
        let h = projection(p.reward(), p.log_ref(), beta);
        thm1.push(class_distance(&h, p.reward()) / s);
        thm1.push(max_rel_error(&h, &((&opt.log_pi - p.log_ref()) * beta), s));
        let h_shifted = projection(&shifted, p.log_ref(), beta);
        thm1_class.push(max_rel_error(&h_shifted, &h, s));
        // Proposition 1: a reward beta log pi/pi_ref is its own representative, and its optimal
        // policy is pi itself; so two policies in one class coincide.
        for table in random_policy_tables(case) {
            let r_pi = (&table - p.log_ref()) * beta;
            let s_pi = r_pi.iter().fold(1.0, |m: f64, v| m.max(v.abs()));
            prop1.push(max_rel_error(
                &projection(&r_pi, p.log_ref(), beta),
                &r_pi,
                s_pi,
            ));
            let back = optimal_policy(&p.with_reward(shift(&r_pi, &f)).expect("finite"));
            prop1.push(max_rel_error(&back.log_pi, &table, s_pi / beta));
        }
    }
    vec![
        ClaimCheck::new(
            "C-rep-1",
            "Eq. 5: beta log(pi_r/pi_ref) + beta log Z = r",
            round,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-def1-1",
            "Definition 1: r + f(x) ~ r (distance 0); a non-constant bump is measured exactly",
            def1,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-lem2-1",
            "Lemma 2: pi_{r+f} = pi_r",
            lemma2,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-thm1-1",
            "Theorem 1: projection h(r) ~ r and h(r) = beta log pi_r/pi_ref",
            thm1,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-thm1-2",
            "Theorem 1: the projection is constant on a class, h(r+f) = h(r)",
            thm1_class,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-prop1-1",
            "Proposition 1: beta log pi/pi_ref is its own representative; pi_(it + f) = pi",
            prop1,
            COMPOSITE_REL,
        ),
    ]
}

/// Every ranking (permutation) of `0..k`, in lexicographic order.
pub fn permutations(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    permutations(k - 1)
        .into_iter()
        .flat_map(|p| {
            (0..k).map(move |i| {
                let mut q = p.clone();
                q.insert(i, k - 1);
                q
            })
        })
        .collect()
}

fn preference_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut bt_form, mut bt_closed, mut pl_bt, mut pl_sum, mut pl_form, mut lemma1]: [Vec<f64>;
        6] = Default::default();
    for case in cases {
        let p = &case.problem;
        let beta = p.beta();
        let opt = optimal_policy(p);
        for x in 0..p.prompts() {
            let r = p.reward().row(x).to_vec();
            let (lp, lr) = (opt.log_pi.row(x).to_vec(), p.log_ref_row(x).to_vec());
            let implicit: Vec<f64> = (0..r.len())
                .map(|y| implicit_reward(lp[y], lr[y], beta))
                .collect();
            let f = 1.7 * x as f64 - 4.0;
            let r_f: Vec<f64> = r.iter().map(|v| v + f).collect();
            for a in 0..r.len() {
                for b in 0..r.len() {
                    let reward_form = bradley_terry_log_prob(r[a], r[b]);
                    let policy_form = policy_form_log_prob((lp[a], lp[b]), (lr[a], lr[b]), beta);
                    bt_form.push(rel_error(policy_form, reward_form, 1.0));
                    let ratio = r[a].exp() / (r[a].exp() + r[b].exp());
                    bt_closed.push(rel_error(reward_form.exp(), ratio, 1.0));
                    bt_closed.push(
                        (reward_form.exp() + bradley_terry_log_prob(r[b], r[a]).exp() - 1.0).abs(),
                    );
                    lemma1.push(rel_error(
                        bradley_terry_log_prob(r_f[a], r_f[b]),
                        reward_form,
                        1.0,
                    ));
                    if a != b {
                        let pl = plackett_luce_log_prob(&[r[a], r[b]], &[0, 1]).expect("ranking");
                        pl_bt.push(rel_error(pl, reward_form, 1.0));
                    }
                }
            }
            let k = r.len().min(5);
            let total: f64 = permutations(k)
                .iter()
                .map(|tau| {
                    let lp_r = plackett_luce_log_prob(&r[..k], tau).expect("ranking");
                    let lp_i = plackett_luce_log_prob(&implicit[..k], tau).expect("ranking");
                    let lp_f = plackett_luce_log_prob(&r_f[..k], tau).expect("ranking");
                    pl_form.push(rel_error(lp_i, lp_r, 1.0));
                    lemma1.push(rel_error(lp_f, lp_r, 1.0));
                    lp_r.exp()
                })
                .sum();
            pl_sum.push((total - 1.0).abs());
        }
    }
    vec![
        ClaimCheck::new(
            "C-bt-1",
            "Eq. 6: BT in policy form of pi_r equals BT in reward form (Z cancels), all pairs",
            bt_form,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-bt-2",
            "Eq. 1: sigma(r1 - r2) = e^r1/(e^r1 + e^r2) and p(1>2) + p(2>1) = 1",
            bt_closed,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pl-1",
            "Plackett-Luce at K = 2 equals Bradley-Terry",
            pl_bt,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pl-2",
            "Plackett-Luce sums to 1 over all K! rankings (K <= 5)",
            pl_sum,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pl-3",
            "Plackett-Luce in policy form of pi_r equals reward form for every ranking",
            pl_form,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-lem1-1",
            "Lemma 1: r and r + f(x) give the same BT and PL preference distributions",
            lemma1,
            COMPOSITE_REL,
        ),
    ]
}

/// The three gradient routes for one policy: (closed form vs tape, duals vs tape, finite
/// differences vs tape).
///
/// Errors are measured against the scale of the terms the gradient sums,
/// $\max_k\sum_i w_i\beta\,\sigma(-\beta h_i)\,(|\partial_k\log\pi(y_w)| + |\partial_k\log\pi(y_l)|)$:
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

fn dpo_checks(cases: &[Case]) -> Vec<ClaimCheck> {
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
fn listwise_checks() -> Vec<ClaimCheck> {
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

fn population_checks(cases: &[Case]) -> Vec<ClaimCheck> {
    let [mut tv, mut class, mut entropy, mut grad]: [Vec<f64>; 4] = Default::default();
    // Besides the built-in cases, wide rewards r ~ U(-2, 2): at β = 0.05 the optimal logits
    // span up to 80 and probabilities reach e^{-80}.
    let wide: Vec<Problem> = BETAS
        .iter()
        .enumerate()
        .map(|(i, &beta)| Problem::random(3, 6, 2.0, beta, 40 + i as u64).expect("valid"))
        .collect();
    let problems = cases.iter().map(|c| &c.problem).chain(&wide);
    for p in problems {
        let beta = p.beta();
        let pairs = population_pairs(p);
        let opt = optimal_policy(p);
        match minimise_tabular(p.log_ref(), &pairs, beta) {
            Ok(fit) => {
                tv.push(worst_total_variation(&fit.policy, &opt.log_pi));
                let read_back = (&fit.policy.log_prob_table() - p.log_ref()) * beta;
                class.push(class_distance(&read_back, p.reward()));
            }
            Err(_) => {
                tv.push(f64::INFINITY);
                class.push(f64::INFINITY);
            }
        }
        // At pi_{r*} the loss is the mean binary entropy of the true preferences.
        let star = TabularPolicy::new(&opt.log_pi).expect("built-in inputs are valid");
        let at_star = dpo_loss(&star, star.params(), p.log_ref(), &pairs, beta)
            .expect("built-in inputs are valid");
        let mut h = 0.0;
        for x in 0..p.prompts() {
            let (l, r) = (p.log_ref_row(x), p.reward().row(x));
            for a in 0..l.len() {
                for b in 0..l.len() {
                    let q = (r[a] - r[b]).sigmoid();
                    let binary = -(q * q.ln() + (1.0 - q) * (1.0 - q).ln());
                    h += (l[a] + l[b]).exp() * binary / p.prompts() as f64;
                }
            }
        }
        entropy.push(rel_error(at_star, h, 1.0));
        let g = with_tape(|t| {
            let vars: Vec<_> = star.params().iter().map(|&v| t.var(v)).collect();
            dpo_loss(&star, &vars, p.log_ref(), &pairs, beta)
                .expect("built-in inputs are valid")
                .backward()
                .wrt_slice(&vars)
        });
        grad.extend(g.iter().map(|v| v.abs() / beta));
    }
    vec![
        ClaimCheck::new(
            "C-pop-1",
            "population DPO minimiser (Newton, tape gradient) is pi_{r*}: worst TV",
            tv,
            POPULATION_TV,
        ),
        ClaimCheck::new(
            "C-pop-2",
            "reward read back through Eq. 5 differs from r* by f(x) only",
            class,
            READ_BACK_CLASS,
        ),
        ClaimCheck::new(
            "C-pop-3",
            "population loss at pi_{r*} = E binary entropy of p* (its minimum)",
            entropy,
            COMPOSITE_REL,
        ),
        ClaimCheck::new(
            "C-pop-4",
            "gradient of the population loss vanishes at pi_{r*} (tape, per unit beta)",
            grad,
            COMPOSITE_REL,
        ),
    ]
}

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

fn utilisation_checks() -> Vec<ClaimCheck> {
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
