//! The batch metrics under TRL's names and the torchtune and OpenRLHF aliases, by hand.

use dpo_oracle::loss::{compute, LossSpec, LossType, PairLogps};
use dpo_oracle::metrics::{MetricNames, Metrics};

#[test]
fn metrics_by_hand() {
    // Rewards (β = 0.5): chosen 0.5·(−1 − −2) = 0.5, 0.5·(−4 − −3) = −0.5, 0.5·(−2 − −2) = 0;
    // rejected 0.5·(−3 − −2) = −0.5, 0.5·(−1 − −2) = 0.5, 0.5·(−5 − −5) = 0.
    let (pc, pr, rc, rr) = (
        [-1.0, -4.0, -2.0],
        [-3.0, -1.0, -5.0],
        [-2.0, -3.0, -2.0],
        [-2.0, -2.0, -5.0],
    );
    let b = PairLogps::new(&pc, &pr, &rc, &rr);
    let m = Metrics::of(0.5, &b, false).unwrap();
    assert_eq!(m.rewards_chosen, 0.0);
    assert_eq!(m.rewards_rejected, 0.0);
    // Pair 0 right, pair 1 wrong, pair 2 a tie (wrong): 1/3.
    assert_eq!(m.rewards_accuracies, 1.0 / 3.0);
    assert_eq!(m.rewards_margins, (1.0 - 1.0 + 0.0) / 3.0);
    assert_eq!(m.logps_chosen, -7.0 / 3.0);
    assert_eq!(m.logps_rejected, -3.0);
    // The loss's per-pair rewards agree.
    let out = compute(&LossSpec::new(LossType::Sigmoid, 0.5), &b).unwrap();
    assert_eq!(out.chosen_rewards, vec![0.5, -0.5, 0.0]);
    assert_eq!(out.rejected_rewards, vec![-0.5, 0.5, 0.0]);
}

#[test]
fn names_and_aliases() {
    let m = Metrics {
        rewards_chosen: 1.0,
        rewards_rejected: 2.0,
        rewards_accuracies: 0.25,
        rewards_margins: -1.0,
        logps_chosen: -10.0,
        logps_rejected: -12.0,
    };
    let trl: Vec<&str> = m.named(MetricNames::Trl).iter().map(|p| p.0).collect();
    assert_eq!(
        trl,
        [
            "rewards/chosen",
            "rewards/rejected",
            "rewards/accuracies",
            "rewards/margins",
            "logps/chosen",
            "logps/rejected"
        ]
    );
    assert_eq!(m.get("log_probs/chosen"), Some(-10.0));
    assert_eq!(m.get("logps/rejected"), Some(-12.0));
    assert_eq!(m.get("acc"), Some(0.25));
    assert_eq!(m.get("reject_reward"), Some(2.0));
    assert_eq!(m.get("rewards/margins"), Some(-1.0));
    assert_eq!(m.get("no such metric"), None);
}
