//! RLHF against DPO on exact toy problems (proofs/10-frontier.md): the frontier bound, the
//! equivalence in a class that contains $\pi_{r^*}$, the reward model's gap, the methods'
//! building blocks against independent routes, determinism, and bad input.

use dpo_oracle::divergence::kl;
use dpo_oracle::frontier::data::Dataset;
use dpo_oracle::frontier::evaluation::{evaluate, kl_and_reward};
use dpo_oracle::frontier::family::{Family, Tabular};
use dpo_oracle::frontier::methods::optimal::OptimalFrontier;
use dpo_oracle::frontier::methods::{baselines, dpo, Method};
use dpo_oracle::frontier::problem::ToyProblem;
use dpo_oracle::frontier::report::output::{self, OutputError};
use dpo_oracle::frontier::report::worst_excess;
use dpo_oracle::frontier::{run, FrontierError, FrontierOptions};
use dpo_oracle::numdiff::{gradient as fd_gradient, DEFAULT_REL_STEP};
use dpo_oracle::prec::{FINITE_DIFFERENCE_REL, FRONTIER_ROUNDING, POPULATION_TV};
use dpo_oracle::verify::frontier::{equivalence_errors, reward_model_gap, tiny_options};
use ndarray::Array2;
use ndarray_rand::rand::rngs::StdRng;
use ndarray_rand::rand::{Rng, SeedableRng};

// claim: C-front-1
#[test]
fn every_point_of_every_method_lies_on_or_below_the_optimal_frontier() {
    for seed in [3, 11] {
        let report = run(&tiny_options(seed)).unwrap();
        for method in Method::ALL {
            let n = report
                .optimal
                .iter()
                .chain(&report.points)
                .filter(|p| p.method == method)
                .count();
            assert!(n > 0, "{method} produced no point");
        }
        let excess = report.check_frontier();
        assert!(
            excess <= FRONTIER_ROUNDING,
            "seed {seed}: excess {excess:e}"
        );
        // The bound is tight: the frontier's own points touch it (within rounding) ...
        assert!(
            excess >= -1e-3,
            "seed {seed}: the grid bound is loose: {excess:e}"
        );
        // ... so a point a hair above the frontier is caught (the check has power).
        let grid = report.bound_grid();
        let mut raised = report.optimal.clone();
        for p in &mut raised {
            p.reward += 1e-6;
        }
        assert!(worst_excess(&grid, &raised) > FRONTIER_ROUNDING);
    }
}

// claim: C-front-1
#[test]
fn random_bigram_policies_lie_below_the_frontier() {
    let problem = ToyProblem::new(&tiny_options(5)).unwrap();
    let frontier = OptimalFrontier::new(&problem.log_ref, &problem.reward);
    let grid = frontier.trace((1e-3, 1e3), 121);
    let mut rng = StdRng::seed_from_u64(9);
    for scale in [0.1, 1.0, 5.0, 50.0] {
        for _ in 0..20 {
            let theta: Vec<f64> = problem
                .theta_ref
                .iter()
                .map(|t| t + scale * (rng.random::<f64>() - 0.5))
                .collect();
            let (k, r) = evaluate(&problem.family, &theta, &problem.log_ref, &problem.reward);
            let worst = grid
                .iter()
                .map(|g| OptimalFrontier::excess(g, k, r))
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(worst <= FRONTIER_ROUNDING, "scale {scale}: {worst:e}");
        }
    }
}

// claim: C-front-1
#[test]
fn frontier_point_matches_the_two_response_closed_form() {
    // One prompt, two responses: pi_beta(0) = sigma((r0 - r1)/beta + l0 - l1), and
    // log Z = l0 + r0/beta - log pi_beta(0).
    let log_ref = Array2::from_shape_vec((1, 2), vec![0.3_f64.ln(), 0.7_f64.ln()]).unwrap();
    let reward = Array2::from_shape_vec((1, 2), vec![1.0, -0.5]).unwrap();
    let frontier = OptimalFrontier::new(&log_ref, &reward);
    for beta in [1e-3, 0.05, 0.5, 2.0, 1e3] {
        let p0 = 1.0 / (1.0 + (-(1.5 / beta + (0.3_f64 / 0.7).ln())).exp());
        let p1 = 1.0 - p0;
        let expected_kl = p0 * (p0 / 0.3).ln() + if p1 > 0.0 { p1 * (p1 / 0.7).ln() } else { 0.0 };
        let expected_reward = p0 - 0.5 * p1;
        let point = frontier.at(beta);
        assert!(
            (point.kl - expected_kl).abs() <= 1e-12 * expected_kl.max(1.0),
            "beta {beta}"
        );
        assert!(
            (point.reward - expected_reward).abs() <= 1e-12,
            "beta {beta}"
        );
        let log_z = 0.3_f64.ln() + 1.0 / beta - p0.ln();
        assert!((point.mean_log_z - log_z).abs() <= 1e-12 * log_z.abs().max(1.0));
        // at_kl inverts the KL of the trace.
        if beta < 1e3 && expected_kl > 1e-6 {
            let matched = frontier.at_kl(expected_kl);
            assert!(
                (matched.reward - expected_reward).abs() <= 1e-6,
                "beta {beta}"
            );
        }
    }
}

// claim: C-front-2
#[test]
fn population_dpo_and_exact_rlhf_reach_the_optimal_policy_in_the_tabular_class() {
    for (seed, beta) in [(0, 0.1), (1, 0.5), (2, 1.0), (4, 5.0)] {
        let (dpo_tv, rlhf_tv) = equivalence_errors(seed, beta);
        assert!(
            dpo_tv < POPULATION_TV,
            "seed {seed} beta {beta}: DPO TV {dpo_tv:e}"
        );
        assert!(
            rlhf_tv < POPULATION_TV,
            "seed {seed} beta {beta}: RLHF TV {rlhf_tv:e}"
        );
    }
}

// claim: C-front-3
#[test]
fn exact_rlhf_with_a_learnt_reward_reaches_its_own_optimum_not_the_true_one() {
    for (seed, beta, pairs) in [(0, 0.5, 64), (1, 2.0, 64), (2, 0.2, 512)] {
        let g = reward_model_gap(seed, beta, pairs);
        assert!(g.tv_to_learnt < POPULATION_TV, "{g:?}");
        assert!(g.point_difference < POPULATION_TV, "{g:?}");
        // The reward model's error is visible: pi_{r_phi} is not pi_{r*}, and it sits strictly
        // below the frontier (by Gibbs' inequality, only pi_{r*} attains it).
        assert!(g.learnt_to_true > 1e-3, "{g:?}");
        assert!(g.gap > 0.0, "{g:?}");
    }
}

// claim: C-front-2
#[test]
fn dpo_tape_gradient_matches_the_closed_form_and_finite_differences() {
    let problem = ToyProblem::new(&tiny_options(2)).unwrap();
    let truth = problem.as_problem(&problem.reward, 1.0).unwrap();
    let data = Dataset::sample(&truth, 16, 4);
    let mut rng = StdRng::seed_from_u64(1);
    let theta: Vec<f64> = problem
        .theta_ref
        .iter()
        .map(|t| t + rng.random::<f64>() - 0.5)
        .collect();
    for beta in [0.1, 1.0] {
        let tape = dpo::gradient(&problem.family, &theta, &problem.log_ref, &data, beta);
        let closed =
            dpo::gradient_closed_form(&problem.family, &theta, &problem.log_ref, &data, beta);
        let fd = fd_gradient(
            |t: &[f64]| dpo::loss(&problem.family, t, &problem.log_ref, &data, beta),
            &theta,
            DEFAULT_REL_STEP,
        );
        let scale = tape.iter().fold(1.0_f64, |m, g| m.max(g.abs()));
        for i in 0..theta.len() {
            assert!((tape[i] - closed[i]).abs() <= 1e-12 * scale, "{i}");
            let bound = fd[i].error.max(FINITE_DIFFERENCE_REL * scale);
            assert!((tape[i] - fd[i].derivative).abs() <= bound, "{i}");
        }
    }
}

// claim: C-front-1
#[test]
fn best_of_n_distribution_matches_enumeration_of_every_draw() {
    // Three responses, one tie; enumerate all 3^N ordered draws, ties broken uniformly.
    let pi = [0.5, 0.3, 0.2];
    let score = [0.0, 1.0, 1.0];
    let log_ref =
        Array2::from_shape_vec((1, 3), pi.iter().map(|p: &f64| p.ln()).collect()).unwrap();
    let scores = Array2::from_shape_vec((1, 3), score.to_vec()).unwrap();
    for n in 1..=4u32 {
        let mut expected = [0.0; 3];
        for draw in 0..3usize.pow(n) {
            let ys: Vec<usize> = (0..n).map(|i| draw / 3usize.pow(i) % 3).collect();
            let p: f64 = ys.iter().map(|&y| pi[y]).product();
            let best = ys
                .iter()
                .map(|&y| score[y])
                .fold(f64::NEG_INFINITY, f64::max);
            let winners: Vec<usize> = ys.iter().copied().filter(|&y| score[y] == best).collect();
            for &w in &winners {
                expected[w] += p / winners.len() as f64;
            }
        }
        let got = baselines::best_of_n(&log_ref, &scores, n as usize);
        for y in 0..3 {
            assert!(
                (got[[0, y]].exp() - expected[y]).abs() < 1e-14,
                "n {n} y {y}"
            );
        }
    }
}

// claim: C-front-1
#[test]
fn exact_kl_agrees_with_the_chain_rule_of_the_sequence_policy() {
    let problem = ToyProblem::new(&tiny_options(6)).unwrap();
    let mut rng = StdRng::seed_from_u64(2);
    let theta: Vec<f64> = problem
        .theta_ref
        .iter()
        .map(|t| t + rng.random::<f64>())
        .collect();
    let policy = dpo_oracle::policy::SequencePolicy::new(2, 2, 3, theta.clone()).unwrap();
    let reference =
        dpo_oracle::policy::SequencePolicy::new(2, 2, 3, problem.theta_ref.clone()).unwrap();
    let (mean_kl, _) = evaluate(&problem.family, &theta, &problem.log_ref, &problem.reward);
    let chain = (0..2)
        .map(|x| policy.sequence_kl(&reference, x).unwrap())
        .sum::<f64>()
        / 2.0;
    assert!((mean_kl - chain).abs() <= 1e-13 * chain.max(1.0));
    // And sampling token by token draws from the enumerated distribution.
    let lp = problem.family.log_probs(&theta, 0);
    let mut counts = vec![0.0; lp.len()];
    let draws = 40_000;
    for _ in 0..draws {
        counts[problem.family.sample(&theta, 0, &mut rng)] += 1.0;
    }
    for (c, l) in counts.iter().zip(&lp) {
        let p = l.exp();
        let sd = (p * (1.0 - p) / draws as f64).sqrt();
        assert!((c / draws as f64 - p).abs() <= 5.0 * sd + 1e-12);
    }
    let _ = kl(&lp, &lp);
}

// claim: C-front-1
#[test]
fn the_same_seed_gives_a_byte_identical_csv() {
    let a = run(&tiny_options(8)).unwrap().to_csv();
    let b = run(&tiny_options(8)).unwrap().to_csv();
    assert_eq!(a, b);
    assert_ne!(a, run(&tiny_options(9)).unwrap().to_csv());
    assert!(a.starts_with("# dpo-oracle frontier"));
}

fn invalid(options: FrontierOptions) -> FrontierError {
    run(&options).expect_err("invalid options must be refused")
}

#[test]
fn bad_options_are_typed_errors_naming_the_option() {
    let base = tiny_options(0);
    let name = |e: FrontierError| match e {
        FrontierError::InvalidOption { name, .. } => name,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        name(invalid(FrontierOptions {
            betas: vec![],
            ..base.clone()
        })),
        "betas"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            betas: vec![0.1, 0.0],
            ..base.clone()
        })),
        "betas"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            betas: vec![-1.0],
            ..base.clone()
        })),
        "betas"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            betas: vec![f64::NAN],
            ..base.clone()
        })),
        "betas"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            pairs_per_prompt: 0,
            ..base.clone()
        })),
        "pairs_per_prompt"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            learning_rate: f64::NAN,
            ..base.clone()
        })),
        "learning_rate"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            ppo_clip: f64::INFINITY,
            ..base.clone()
        })),
        "ppo_clip"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            reward_model_l2: f64::NAN,
            ..base.clone()
        })),
        "reward_model_l2"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            frontier_beta_range: (1.0, f64::NAN),
            ..base.clone()
        })),
        "frontier_beta_range"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            best_of_n: vec![0],
            ..base.clone()
        })),
        "best_of_n"
    );
    assert_eq!(
        name(invalid(FrontierOptions {
            seeds: 0,
            ..base.clone()
        })),
        "seeds"
    );
    let message = invalid(FrontierOptions {
        betas: vec![],
        ..base.clone()
    })
    .to_string();
    assert!(message.contains("betas"), "{message}");
    for (vocab, max_len) in [(10, 5), (usize::MAX, 3)] {
        match invalid(FrontierOptions {
            vocab,
            max_len,
            ..base.clone()
        }) {
            FrontierError::TooLarge { limit, .. } => assert_eq!(limit, 10_000),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn tabular_score_matches_finite_differences() {
    let family = Tabular {
        prompts: 2,
        responses: 4,
    };
    let theta = vec![0.1, -0.3, 0.7, 0.0, 1.0, 0.2, -0.5, 0.4];
    let weights = [(0, 0.5), (3, -1.25), (3, 0.25)];
    let mut grad = vec![0.0; 8];
    family.add_score(&theta, 1, &weights, &mut grad);
    let fd = fd_gradient(
        |t: &[f64]| {
            let lp = family.log_probs(t, 1);
            weights.iter().map(|&(y, w)| w * lp[y]).sum()
        },
        &theta,
        DEFAULT_REL_STEP,
    );
    for i in 0..8 {
        let bound = fd[i].error.max(FINITE_DIFFERENCE_REL);
        assert!((grad[i] - fd[i].derivative).abs() <= bound, "{i}");
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dpo-oracle-frontier-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn output_refuses_foreign_files_and_links_before_writing_anything() {
    let report = run(&tiny_options(1)).unwrap();
    let dir = temp_dir("foreign");
    std::fs::write(dir.join("frontier.svg"), "my own drawing").unwrap();
    match output::write(&dir, &report) {
        Err(OutputError::WouldOverwrite(p)) => assert!(p.ends_with("frontier.svg")),
        other => panic!("{other:?}"),
    }
    assert!(!dir.join("frontier.csv").exists(), "nothing may be written");
    assert_eq!(
        std::fs::read_to_string(dir.join("frontier.svg")).unwrap(),
        "my own drawing"
    );

    let linked = temp_dir("link");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(dir.join("frontier.svg"), linked.join("frontier.csv")).unwrap();
        assert!(matches!(
            output::write(&linked, &report),
            Err(OutputError::Symlink(_))
        ));
    }

    // Files it wrote itself are replaced; a file as --out is refused.
    let own = temp_dir("own");
    output::write(&own, &report).unwrap();
    output::write(&own, &report).unwrap();
    assert_eq!(
        std::fs::read_to_string(own.join("frontier.csv")).unwrap(),
        report.to_csv()
    );
    assert!(matches!(
        output::write(&own.join("frontier.csv"), &report),
        Err(OutputError::NotAFolder(_))
    ));
    assert!(matches!(
        output::check(&own.join("frontier.csv").join("sub")),
        Err(OutputError::NotAFolder(_))
    ));
    for d in [dir, linked, own] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn cli_writes_both_files_and_refuses_bad_input_before_writing() {
    let bin = || std::process::Command::new(env!("CARGO_BIN_EXE_dpo-oracle"));
    let dir = temp_dir("cli");
    let tiny = [
        "frontier",
        "--quick",
        "--prompts",
        "2",
        "--vocab",
        "2",
        "--max-len",
        "3",
        "--seeds",
        "1",
    ];
    let out = bin().args(tiny).arg("--out").arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("C-front-1") && stdout.contains("pass"),
        "{stdout}"
    );
    assert!(
        stdout.contains("dpo") && stdout.contains("KL <= 1"),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(dir.join("frontier.svg"))
        .unwrap()
        .contains("<svg"));
    let csv = std::fs::read_to_string(dir.join("frontier.csv")).unwrap();
    for bad in [
        vec!["--betas", "0.1,-1"],
        vec!["--betas", "nan"],
        vec!["--pairs", "0"],
        vec!["--vocab", "9", "--max-len", "6"],
    ] {
        let fresh = temp_dir("cli-bad");
        let out = bin()
            .args(tiny)
            .args(&bad)
            .arg("--out")
            .arg(&fresh)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error:"), "{bad:?}: {err}");
        assert_eq!(
            std::fs::read_dir(&fresh).unwrap().count(),
            0,
            "{bad:?} wrote something"
        );
        let _ = std::fs::remove_dir_all(fresh);
    }
    // A foreign file is refused before the run; the earlier output is untouched.
    std::fs::write(dir.join("frontier.svg"), "not ours").unwrap();
    let out = bin().args(tiny).arg("--out").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert_eq!(
        std::fs::read_to_string(dir.join("frontier.csv")).unwrap(),
        csv
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn every_method_reports_a_summary_row_and_exact_points() {
    let report = run(&tiny_options(4)).unwrap();
    let rows = report.summary();
    assert_eq!(rows.len(), Method::ALL.len() - 1);
    // Best-of-1 is the reference: KL 0 and the reference's reward, exactly.
    let problem = &report.problem;
    let (_, ref_reward) = kl_and_reward(&problem.log_ref, &problem.log_ref, &problem.reward);
    let bo1 = report
        .points
        .iter()
        .find(|p| p.method == Method::BestOfN && p.n == Some(1))
        .unwrap();
    assert!(bo1.kl.abs() < 1e-12 && (bo1.reward - ref_reward).abs() < 1e-12);
    assert!(report
        .points
        .iter()
        .all(|p| p.kl.is_finite() && p.reward.is_finite()));
    assert!(report.to_svg().starts_with("<!-- dpo-oracle frontier"));
    assert!(report.summary_text().contains("optimal"));
}
