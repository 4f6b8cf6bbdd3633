//! Metamorphic relations: transformations of the input whose effect on the output is known
//! without computing it (permutations, swapping chosen and rejected, chunking, gradient
//! accumulation, reference-free as a zero reference).

use dpo_oracle::loss::{self, LossSpec, LossType, PairLogps};
use dpo_oracle::prec::{rel_error, COMPOSITE_REL};
use dpo_oracle::verify::losses::{variants, OwnedBatch};

fn permuted(b: &OwnedBatch, perm: &[usize]) -> OwnedBatch {
    OwnedBatch {
        logps: b
            .logps
            .clone()
            .map(|a| perm.iter().map(|&i| a[i]).collect()),
        counts: b
            .counts
            .clone()
            .map(|a| perm.iter().map(|&i| a[i]).collect()),
    }
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!(
            rel_error(*x, *y, 1e-12) <= COMPOSITE_REL,
            "{what}: {x} vs {y}"
        );
    }
}

/// Per-pair losses and gradients move with the pairs, except for aot and aot_unpaired whose
/// losses are indexed by rank: there the sorted losses and the batch mean are unchanged, and the
/// gradient still moves with the pairs (it flows through the sorting permutation).
#[test]
fn permuting_pairs_permutes_losses_except_aot() {
    let b = OwnedBatch::sample(7, 11);
    let perm = [3, 0, 6, 1, 5, 2, 4];
    let p = permuted(&b, &perm);
    for v in variants() {
        let out = v.prepare(&b.view()).unwrap().evaluate(&b.view()).unwrap();
        let out_p = v.prepare(&p.view()).unwrap().evaluate(&p.view()).unwrap();
        let moved = |a: &[f64]| perm.iter().map(|&i| a[i]).collect::<Vec<_>>();
        if v.spec.loss_type().is_batch_coupled() {
            assert_close(&out_p.losses, &out.losses, &v.label);
        } else {
            assert_close(&out_p.losses, &moved(&out.losses), &v.label);
        }
        assert!(
            rel_error(out_p.loss, out.loss, 1.0) <= COMPOSITE_REL,
            "{}",
            v.label
        );
        assert_close(
            &out_p.grad_policy_chosen,
            &moved(&out.grad_policy_chosen),
            &v.label,
        );
        assert_close(
            &out_p.grad_reference_rejected,
            &moved(&out.grad_reference_rejected),
            &v.label,
        );
    }
}

/// The aot loss of a pair depends on the rest of its batch: documented, not equivariant.
#[test]
fn aot_pair_loss_depends_on_the_batch() {
    let spec = LossSpec::new(LossType::Aot, 0.5);
    let (pc, pr, rc, rr) = ([-1.0, -5.0], [-2.0, -1.0], [-1.0, -1.0], [-1.0, -3.0]);
    let both = loss::compute(&spec, &PairLogps::new(&pc, &pr, &rc, &rr)).unwrap();
    let first = loss::compute(
        &spec,
        &PairLogps::new(&pc[..1], &pr[..1], &rc[..1], &rr[..1]),
    )
    .unwrap();
    assert!(both
        .losses
        .iter()
        .all(|&l| (l - first.losses[0]).abs() > 1e-3));
}

/// Swapping chosen and rejected negates $h$, so the sigmoid loss changes by exactly $z$:
/// $-\log\sigma(-z) = -\log\sigma(z) + z$, and the reward margin changes sign.
#[test]
fn swapping_chosen_and_rejected_negates_h() {
    let b = OwnedBatch::sample(6, 12);
    let [pc, pr, rc, rr] = &b.logps;
    let beta = 0.2;
    let spec = LossSpec::new(LossType::Sigmoid, beta);
    let out = loss::compute(&spec, &PairLogps::new(pc, pr, rc, rr)).unwrap();
    let sw = loss::compute(&spec, &PairLogps::new(pr, pc, rr, rc)).unwrap();
    for i in 0..6 {
        let z = beta * (pc[i] - pr[i] - (rc[i] - rr[i]));
        assert!((sw.losses[i] - out.losses[i] - z).abs() <= 1e-14 * (1.0 + z.abs()));
        let m = out.chosen_rewards[i] - out.rejected_rewards[i];
        let m_sw = sw.chosen_rewards[i] - sw.rejected_rewards[i];
        assert!((m + m_sw).abs() <= 1e-15 * (1.0 + m.abs()));
        // With ℓ(z) = -log σ(z), ℓ'(-z) = -σ(z) = -1 - ℓ'(z): the gradient with respect to the
        // new chosen response (the old rejected one) is -β/B - ∂L/∂π(y_w).
        assert!(
            rel_error(
                sw.grad_policy_chosen[i],
                -beta / 6.0 - out.grad_policy_chosen[i],
                1e-12
            ) <= 1e-12,
            "{i}"
        );
    }
}

/// The batch mean equals the count-weighted mean of chunk means, and gradient accumulation over
/// chunks (each chunk's mean gradient scaled by its share) equals the one-batch gradient.
#[test]
fn chunked_means_and_gradient_accumulation_equal_one_batch() {
    let b = OwnedBatch::sample(9, 13);
    let chunks = [0..4, 4..5, 5..9];
    for v in variants() {
        if v.spec.loss_type().is_batch_coupled() {
            continue; // sorting couples the pairs: chunks do not compose (documented)
        }
        let full = v.prepare(&b.view()).unwrap().evaluate(&b.view()).unwrap();
        let mut mean = 0.0;
        let mut acc = [vec![], vec![], vec![], vec![]];
        for c in chunks.clone() {
            let part = OwnedBatch {
                logps: b.logps.clone().map(|a| a[c.clone()].to_vec()),
                counts: b.counts.clone().map(|a| a[c.clone()].to_vec()),
            };
            let out = v
                .prepare(&part.view())
                .unwrap()
                .evaluate(&part.view())
                .unwrap();
            let share = c.len() as f64 / 9.0;
            mean += out.loss * share;
            for (k, g) in [
                &out.grad_policy_chosen,
                &out.grad_policy_rejected,
                &out.grad_reference_chosen,
                &out.grad_reference_rejected,
            ]
            .iter()
            .enumerate()
            {
                acc[k].extend(g.iter().map(|x| x * share));
            }
        }
        assert!(
            rel_error(mean, full.loss, 1.0) <= COMPOSITE_REL,
            "{}",
            v.label
        );
        assert_close(&acc[0], &full.grad_policy_chosen, &v.label);
        assert_close(&acc[1], &full.grad_policy_rejected, &v.label);
        assert_close(&acc[2], &full.grad_reference_chosen, &v.label);
        assert_close(&acc[3], &full.grad_reference_rejected, &v.label);
    }
}

/// Reference-free equals the same loss with a reference of zeros (loss and policy gradient), and
/// its reference gradient is zero.
#[test]
fn reference_free_is_a_zero_reference() {
    let b = OwnedBatch::sample(5, 14);
    let [pc, pr, rc, rr] = &b.logps;
    let zeros = [0.0; 5];
    for ty in LossType::ALL {
        let spec = variants()
            .into_iter()
            .find(|v| v.spec.loss_type() == ty && v.convention.is_none())
            .unwrap()
            .spec;
        let counts = (&b.counts[0][..], &b.counts[1][..]);
        let free = loss::compute(
            &spec.with_reference_free(true),
            &PairLogps::new(pc, pr, rc, rr).with_token_counts(counts.0, counts.1),
        )
        .unwrap();
        let zero = loss::compute(
            &spec,
            &PairLogps::new(pc, pr, &zeros, &zeros).with_token_counts(counts.0, counts.1),
        )
        .unwrap();
        assert_close(&free.losses, &zero.losses, ty.name());
        assert_close(
            &free.grad_policy_chosen,
            &zero.grad_policy_chosen,
            ty.name(),
        );
        assert!(free.grad_reference_chosen.iter().all(|&g| g == 0.0));
        assert!(free.grad_reference_rejected.iter().all(|&g| g == 0.0));
        // The rewards still use the given reference.
        assert_eq!(free.chosen_rewards[0], spec.beta() * (pc[0] - rc[0]));
    }
}

/// Adding the same constant $c$ to the policy's chosen and rejected log-probabilities (a prompt
/// term common to both, Lemma 1's $f(x)$) leaves every loss of $h$ unchanged.
#[test]
fn a_common_prompt_term_cancels_in_h() {
    let b = OwnedBatch::sample(4, 15);
    let [pc, pr, rc, rr] = &b.logps;
    let shift = |a: &[f64]| a.iter().map(|x| x - 3.25).collect::<Vec<_>>();
    for ty in [
        LossType::Sigmoid,
        LossType::Robust,
        LossType::Ipo,
        LossType::Hinge,
        LossType::Discopop,
        LossType::Aot,
    ] {
        let spec = LossSpec::new(ty, 0.1);
        let a = loss::compute(&spec, &PairLogps::new(pc, pr, rc, rr)).unwrap();
        let (spc, spr) = (shift(pc), shift(pr));
        let c = loss::compute(&spec, &PairLogps::new(&spc, &spr, rc, rr)).unwrap();
        for (x, y) in a.losses.iter().zip(&c.losses) {
            assert!((x - y).abs() <= 1e-13 * (1.0 + x.abs()), "{ty}");
        }
    }
}
