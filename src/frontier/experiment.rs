//! The experiment: every method on one problem and one data set per replicate.

use std::collections::BTreeMap;
use std::time::Instant;

use super::data::Dataset;
use super::evaluation::{evaluate, kl_and_reward};
use super::methods::baselines;
use super::methods::optimal::OptimalFrontier;
use super::methods::ppo::{self, PpoConfig};
use super::methods::{dpo, reward_model, rlhf_exact, Method};
use super::optim::{train, Optimiser, Schedule};
use super::options::FrontierOptions;
use super::problem::ToyProblem;
use super::progress::{Progress, Silent};
use super::report::{FrontierReport, Point};
use super::FrontierError;

/// Runs the experiment silently.
///
/// # Errors
/// [`FrontierError::InvalidOption`] or [`FrontierError::TooLarge`] for bad options (before any
/// work).
pub fn run(options: &FrontierOptions) -> Result<FrontierReport, FrontierError> {
    run_with_progress(options, &mut Silent)
}

/// A seed for one purpose of one replicate (SplitMix64 of the pair), so streams never overlap.
fn stream(seed: u64, purpose: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(purpose.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs the experiment, reporting each finished task to `progress`.
///
/// # Errors
/// As [`run`].
pub fn run_with_progress(
    options: &FrontierOptions,
    progress: &mut dyn Progress,
) -> Result<FrontierReport, FrontierError> {
    let problem = ToyProblem::new(options)?;
    let truth = problem.as_problem(&problem.reward, 1.0)?;
    let family = &problem.family;
    let (log_ref, reward) = (&problem.log_ref, &problem.reward);
    let per_beta = options.betas.len() * 4;
    progress.begin(1 + options.seeds * (per_beta + 4));
    let mut seconds: BTreeMap<Method, f64> = BTreeMap::new();
    let mut points = Vec::new();

    let clock = Instant::now();
    let optimal = OptimalFrontier::new(log_ref, reward)
        .trace(options.frontier_beta_range, options.frontier_points)
        .into_iter()
        .map(|f| Point {
            method: Method::Optimal,
            beta: Some(f.beta),
            n: None,
            seed: None,
            step: 0,
            kl: f.kl,
            reward: f.reward,
            rm_accuracy: None,
        })
        .collect::<Vec<_>>();
    *seconds.entry(Method::Optimal).or_default() += clock.elapsed().as_secs_f64();
    progress.advance("optimal frontier");

    let schedule = Schedule {
        optimiser: Optimiser::Adam {
            learning_rate: options.learning_rate,
        },
        steps: options.steps,
        every: options.checkpoint_every,
    };
    for k in 0..options.seeds {
        let seed = options.seed.wrapping_add(k as u64);
        let clock = Instant::now();
        let data = Dataset::sample(&truth, options.pairs_per_prompt, stream(seed, 1));
        let held_out = Dataset::sample(&truth, options.held_out_per_prompt, stream(seed, 2));
        let rm = reward_model::fit(family, &data, options.reward_model_l2);
        let accuracy = Some(reward_model::accuracy(&rm.table, &held_out));
        *seconds.entry(Method::RlhfExact).or_default() += clock.elapsed().as_secs_f64();
        progress.advance(&format!("seed {seed}: data and reward model"));
        let point = |method, beta, n, step, (kl, reward): (f64, f64), rm_accuracy| Point {
            method,
            beta,
            n,
            seed: Some(seed),
            step,
            kl,
            reward,
            rm_accuracy,
        };
        for (b, &beta) in options.betas.iter().enumerate() {
            let mut timed = |method: Method, job: &mut dyn FnMut(&mut Vec<Point>)| {
                let clock = Instant::now();
                job(&mut points);
                *seconds.entry(method).or_default() += clock.elapsed().as_secs_f64();
                progress.advance(&format!("seed {seed}: {method} beta {beta}"));
            };
            timed(Method::Dpo, &mut |out| {
                train(
                    &problem.theta_ref,
                    schedule,
                    |t| dpo::gradient(family, t, log_ref, &data, beta),
                    |step, t| {
                        let e = evaluate(family, t, log_ref, reward);
                        out.push(point(Method::Dpo, Some(beta), None, step, e, None));
                    },
                );
            });
            timed(Method::RlhfExact, &mut |out| {
                train(
                    &problem.theta_ref,
                    schedule,
                    |t| rlhf_exact::gradient(family, t, log_ref, &rm.table, beta),
                    |step, t| {
                        let e = evaluate(family, t, log_ref, reward);
                        out.push(point(
                            Method::RlhfExact,
                            Some(beta),
                            None,
                            step,
                            e,
                            accuracy,
                        ));
                    },
                );
            });
            for (method, target, rm_accuracy, purpose) in [
                (Method::Ppo, &rm.table, accuracy, 100),
                (Method::PpoGt, reward, None, 200),
            ] {
                let config = PpoConfig {
                    beta,
                    iterations: options.ppo_iterations,
                    rollouts: options.ppo_rollouts,
                    epochs: options.ppo_epochs,
                    minibatches: options.ppo_minibatches,
                    clip: options.ppo_clip,
                    learning_rate: options.ppo_learning_rate,
                    every: options.ppo_checkpoint_every,
                    seed: stream(seed, purpose + b as u64),
                };
                timed(method, &mut |out| {
                    ppo::train(
                        family,
                        &problem.theta_ref,
                        log_ref,
                        target,
                        &config,
                        |step, t| {
                            let e = evaluate(family, t, log_ref, reward);
                            out.push(point(method, Some(beta), None, step, e, rm_accuracy));
                        },
                    );
                });
            }
        }
        for (method, alpha) in [
            (Method::PreferredFt, None),
            (Method::Unlikelihood, Some(options.unlikelihood_alpha)),
        ] {
            let clock = Instant::now();
            train(
                &problem.theta_ref,
                schedule,
                |t| baselines::gradient(family, t, &data, alpha),
                |step, t| {
                    let e = evaluate(family, t, log_ref, reward);
                    points.push(point(method, None, None, step, e, None));
                },
            );
            *seconds.entry(method).or_default() += clock.elapsed().as_secs_f64();
            progress.advance(&format!("seed {seed}: {method}"));
        }
        let clock = Instant::now();
        for &n in &options.best_of_n {
            let table = baselines::best_of_n(log_ref, &rm.table, n);
            let e = kl_and_reward(&table, log_ref, reward);
            points.push(point(Method::BestOfN, None, Some(n), 0, e, accuracy));
        }
        *seconds.entry(Method::BestOfN).or_default() += clock.elapsed().as_secs_f64();
        progress.advance(&format!("seed {seed}: best-of-n"));
    }
    progress.finish();
    Ok(FrontierReport::new(
        options.clone(),
        problem,
        optimal,
        points,
        seconds,
    ))
}
