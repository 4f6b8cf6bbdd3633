//! Preference models: Bradley–Terry (Eq. 1) and Plackett–Luce (Appendix A.3), in log form.

use crate::scalar::Real;

/// Bradley–Terry, Eq. 1: $\log p(y_1 \succ y_2) = \log\sigma(r_1 - r_2)$, in stable form.
///
/// $p(y_1 \succ y_2) = \frac{e^{r_1}}{e^{r_1} + e^{r_2}} = \sigma(r_1 - r_2)$.
pub fn bradley_terry_log_prob<R: Real>(r1: R, r2: R) -> R {
    (r1 - r2).log_sigmoid()
}

/// Errors of the preference models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreferenceError {
    /// A ranking must list each of the `k` responses exactly once.
    NotAPermutation {
        /// The ranking as given.
        ranking: Vec<usize>,
        /// The number of responses it should order.
        k: usize,
    },
    /// A ranking of no responses.
    EmptyRanking,
}

impl std::fmt::Display for PreferenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAPermutation { ranking, k } => write!(
                f,
                "ranking {ranking:?} is not a permutation of 0..{k} (each response exactly once)"
            ),
            Self::EmptyRanking => write!(f, "a ranking needs at least one response"),
        }
    }
}

impl std::error::Error for PreferenceError {}

/// Plackett–Luce, Appendix A.3: for a ranking $\tau$ (best first) of $K$ responses,
/// $$\log p(\tau) = \sum_{k=1}^{K} \Big( r_{\tau(k)} - \log \sum_{j \ge k} e^{r_{\tau(j)}} \Big).$$
///
/// `rewards[i]` is the reward of response `i`; `ranking[k]` is the index of the response ranked
/// `k`-th. At $K = 2$ this is [`bradley_terry_log_prob`].
pub fn plackett_luce_log_prob<R: Real>(
    rewards: &[R],
    ranking: &[usize],
) -> Result<R, PreferenceError> {
    let k = rewards.len();
    if k == 0 || ranking.is_empty() {
        return Err(PreferenceError::EmptyRanking);
    }
    let mut seen = vec![false; k];
    let is_permutation = ranking.len() == k
        && ranking
            .iter()
            .all(|&i| i < k && !std::mem::replace(&mut seen[i], true));
    if !is_permutation {
        return Err(PreferenceError::NotAPermutation {
            ranking: ranking.to_vec(),
            k,
        });
    }
    let ordered: Vec<R> = ranking.iter().map(|&i| rewards[i]).collect();
    let mut terms = Vec::with_capacity(k);
    for start in 0..k {
        // The suffix is non-empty, so logsumexp cannot fail.
        let lse = R::logsumexp(&ordered[start..]).map_err(|_| PreferenceError::EmptyRanking)?;
        terms.push(ordered[start] - lse);
    }
    R::sum(&terms).map_err(|_| PreferenceError::EmptyRanking)
}
