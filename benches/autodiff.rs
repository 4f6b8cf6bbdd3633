//! Forward-only evaluation against forward plus backward (placeholder, filled by the engine work).
use criterion::{criterion_group, criterion_main, Criterion};

fn bench(_c: &mut Criterion) {}

criterion_group!(benches, bench);
criterion_main!(benches);
