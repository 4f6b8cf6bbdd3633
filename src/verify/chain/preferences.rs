//! Step 5: Bradley–Terry and Plackett–Luce (C-bt, C-pl), and Lemma 1 (C-lem1).

use crate::dpo::policy_form_log_prob;
use crate::partition::optimal_policy;
use crate::prec::{rel_error, COMPOSITE_REL};
use crate::preference::{bradley_terry_log_prob, plackett_luce_log_prob};
use crate::reward::implicit_reward;
use crate::verify::ClaimCheck;

use super::Case;

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

pub(super) fn preference_checks(cases: &[Case]) -> Vec<ClaimCheck> {
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
