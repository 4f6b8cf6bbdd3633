//! One step of each trainer of the frontier experiment, on the default problem (8 prompts,
//! 1,365 responses each, bigram policy with 200 parameters):
//! - one full-batch DPO step: the loss of the 64-pairs-per-prompt data set on the reverse tape,
//!   its gradient, one Adam update (throughput in preference pairs per second);
//! - one PPO iteration: 32 rollouts per prompt sampled token by token, then 4 epochs of 4
//!   minibatches of clipped-surrogate Adam updates (throughput in rollouts per second).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use dpo_oracle::frontier::data::Dataset;
use dpo_oracle::frontier::methods::dpo;
use dpo_oracle::frontier::methods::ppo::{self, PpoConfig};
use dpo_oracle::frontier::optim::{train, Optimiser, Schedule};
use dpo_oracle::frontier::problem::ToyProblem;
use dpo_oracle::frontier::FrontierOptions;

fn main() {
    let options = FrontierOptions::standard(0);
    let problem = ToyProblem::new(&options).expect("the default options are valid");
    let truth = problem
        .as_problem(&problem.reward, 1.0)
        .expect("the built-in problem is valid");
    let data = Dataset::sample(&truth, options.pairs_per_prompt, 1);
    let beta = 0.1;
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("frontier");
    group.throughput(Throughput::Elements(
        (options.pairs_per_prompt * options.prompts) as u64,
    ));
    let schedule = Schedule {
        optimiser: Optimiser::Adam {
            learning_rate: options.learning_rate,
        },
        steps: 1,
        every: 1,
    };
    group.bench_function("dpo_step", |b| {
        b.iter(|| {
            black_box(train(
                &problem.theta_ref,
                schedule,
                |t| dpo::gradient(&problem.family, t, &problem.log_ref, &data, beta),
                |_, _| {},
            ))
        })
    });
    let config = PpoConfig {
        beta,
        iterations: 1,
        rollouts: options.ppo_rollouts,
        epochs: options.ppo_epochs,
        minibatches: options.ppo_minibatches,
        clip: options.ppo_clip,
        learning_rate: options.ppo_learning_rate,
        every: 1,
        seed: 7,
    };
    group.throughput(Throughput::Elements(
        (options.ppo_rollouts * options.prompts) as u64,
    ));
    group.bench_function("ppo_iteration", |b| {
        b.iter(|| {
            black_box(ppo::train(
                &problem.family,
                &problem.theta_ref,
                &problem.log_ref,
                &problem.reward,
                &config,
                |_, _| {},
            ))
        })
    });
    group.finish();
    c.final_summary();
}
