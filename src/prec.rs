//! Named tolerances, each with the reason for its size.
//!
//! Tests and the self-verification table take their tolerances from here, so that a tolerance
//! is stated (and justified) once.

/// Unit roundoff of `f64`: $u = 2^{-53}$.
pub const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// Relative error allowed between two evaluations of the same derivative by different exact
/// methods (reverse tape, forward duals, closed form) of an elementary function: each is within
/// a few ulps of the true value (libm's exp/ln are faithfully rounded, ≤ 1 ulp; the rules chain
/// at most ~4 roundings), so 16 ulps of `f64::EPSILON` leaves a margin of 2 to 4.
pub const ELEMENTARY_ULPS: f64 = 16.0;

/// Relative error allowed between exact methods on a composite (a softmax log-probability, a
/// pair's DPO loss): the composite sums O(n) terms, each rounded, and its condition number is
/// bounded by the problem's sizes (n ≤ 64 responses here), so we allow 2¹⁰ ulps ≈ 2.3e-13.
pub const COMPOSITE_REL: f64 = 1024.0 * f64::EPSILON;

/// Central differences with step h have truncation error $h^2 f\'\'\'/6$; one Richardson step
/// (steps h and h/2) cancels it to $O(h^4)$ and rounding contributes ≈ $u |f| / h$. With the
/// relative step $h = 10^{-3}\max(1, |x|)$ the total is ≈ 1e-12 · scale for smooth functions
/// with bounded fifth derivative on the interval; we allow 1e-8 relative (to
/// $\max(1, |f\'|)$), which still fails any wrong derivative rule by orders of magnitude.
pub const FINITE_DIFFERENCE_REL: f64 = 1e-8;

/// Relative error allowed between a short closed-form expression (a handful of correctly
/// rounded operations and one faithfully rounded libm call, no cancellation) and an independent
/// evaluation of the same number: each operation contributes at most $u$, so $4\varepsilon = 8u$
/// covers up to eight roundings.
pub const FEW_ROUNDINGS_REL: f64 = 4.0 * f64::EPSILON;

/// [`FEW_ROUNDINGS_REL`] for an expression evaluated in `f32` arithmetic.
pub const FEW_ROUNDINGS_REL_F32: f64 = 4.0 * f32::EPSILON as f64;

/// Relative error of `a` against `b`, measured against `max(|b|, floor)`.
///
/// `floor` keeps the measure meaningful where the reference is (close to) zero: there the error
/// is absolute. Two NaNs agree (both propagated); a NaN against a number is infinitely wrong,
/// and so are infinities of different sign or an infinity against a finite number.
pub fn rel_error(a: f64, b: f64, floor: f64) -> f64 {
    if a.is_nan() && b.is_nan() {
        return 0.0;
    }
    if a.is_nan() || b.is_nan() {
        return f64::INFINITY;
    }
    if a.is_infinite() || b.is_infinite() {
        return if a == b { 0.0 } else { f64::INFINITY };
    }
    (a - b).abs() / b.abs().max(floor)
}

/// Distance in units in the last place between two finite `f64` (0 for equal values,
/// including +0 and −0); `u64::MAX` if either is NaN or they differ in sign of infinity.
pub fn ulps(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    if a == b {
        return 0;
    }
    // Map the sign-magnitude bit pattern onto a monotone integer line.
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 {
            i64::MIN - bits
        } else {
            bits
        }
    };
    key(a).abs_diff(key(b))
}

/// Tolerance on $|\sum_y \pi_{\text{ref}}(y|x) - 1|$ when a reference policy is validated.
/// A row normalised in `f64` over $n \le 10^4$ entries is off by at most $n u \approx 10^{-12}$;
/// a row typed with nine significant digits by at most $\approx 10^{-9}$, so $10^{-9}$ accepts
/// both and still rejects any row that is not meant to be a distribution.
pub const DISTRIBUTION_SUM_TOL: f64 = 1e-9;

/// Target of the population minimiser: worst-prompt total-variation distance to $\pi_{r^\*}$
/// (the figure the derivation chain is held to; Newton's method reaches ~1e-15).
pub const POPULATION_TV: f64 = 1e-8;

/// Definition-1 distance between the reward read back from the population minimiser through
/// Eq. 5 and $r^\*$: the read-back is $\beta\log\hat\pi/\pi_{\text{ref}}$, so a relative error
/// $\varepsilon$ in $\hat\pi$ moves it by $\beta\varepsilon$; with $\varepsilon$ at the Newton
/// stopping threshold (~1e-13 of logits up to $|r|/\beta \le 40$) it is below 1e-11, and
/// 1e-9 leaves room while staying far below any visible error.
pub const READ_BACK_CLASS: f64 = 1e-9;

/// Significance level of the goodness-of-fit test of sampled preferences against
/// Bradley–Terry: the seeded samples must have p-value at least this; the negative control
/// (labels from a different reward) must fall below it.
pub const GOODNESS_OF_FIT_ALPHA: f64 = 0.01;

/// Allowed deviation of the fitted error-rate exponent from $-1/2$. The slope is fitted to
/// the log RMS error of 64 replications at four sample sizes a factor 4 apart. The RMS of 64
/// squared errors has relative standard deviation at most $\sqrt{2/64} \approx 0.18$ (one
/// dominant error direction), so the log RMS has s.d. at most ≈ 0.09 and the slope at most
/// $0.09/\sqrt{\sum(\ln n - \overline{\ln n})^2} = 0.09/\sqrt{9.6} \approx 0.03$: 0.1 is more
/// than 3 standard errors (observed deviations over twelve problem/seed pairs: ≤ 0.025).
pub const RATE_EXPONENT_BAND: f64 = 0.1;

/// Newton's method on a DPO loss stops when its step is at most this fraction of the largest
/// logit (a few hundred ulps); at that point the fitted margins are within about this relative
/// error of the exact minimiser, since Newton converges quadratically.
pub const MINIMISER_STEP: f64 = 1e-13;

/// Allowed deviation from 1 of the ratio between the observed mean squared error of the
/// learnt policy and its asymptotic (Fisher-information) prediction, at each sample size.
/// Each mean is over 64 replications of a quadratic form in 6 approximately Gaussian
/// coordinates, so its relative standard deviation is at most $\sqrt{2/64} \approx 0.18$ (one
/// dominant direction) and ≈ 0.1 for the built-in problems; 0.5 is 2.8 to 5 standard errors.
/// Finite-sample bias is O(1/n); the observed ratios (0.75 to 1.2 over twelve problem/seed
/// pairs, n ≥ 1000 pairs per prompt at β = 1) show no trend in n.
pub const FISHER_RATIO_BAND: f64 = 0.5;

/// Relative error allowed between two evaluations of a softmax weight
/// $e^{x_i - \mathrm{lse}(x)}$ (or of $1/\sum_j e^{x_j - x_i}$) when $\max_j |x_j| = $
/// `max_abs_input`: the exponent $t$ is a difference of terms of magnitude up to
/// $\max|x| + \ln n$, so it carries an absolute rounding error up to $u(2\max|x| + \ln n)
/// \le 2u(\max|x| + 2)$ for $n \le e^4 \approx 54$, and $e^t$ turns that into the same relative
/// error.
/// Two routes differ by at most twice that; we allow twice again (the rounding of the
/// log-sum-exp itself), plus [`ELEMENTARY_ULPS`] for the exponential and the sum.
pub fn softmax_rel(max_abs_input: f64) -> f64 {
    ELEMENTARY_ULPS * f64::EPSILON + 8.0 * UNIT_ROUNDOFF * (max_abs_input + 2.0)
}

/// Relative error allowed between two evaluations of a composite whose result is a smooth
/// function $g(t)$ with $|g\'(t)/g(t)| \le 1$ (such as $\sigma(-t)$, the slope of the DPO loss)
/// of an argument $t$ that is a sum of terms of total magnitude `argument_scale`: $t$ carries
/// an absolute rounding error of a few $u \cdot$`argument_scale` (we allow $16u$: up to eight
/// roundings along the chain), which becomes the same relative error in $g$; two routes
/// differ by twice that, on top of [`COMPOSITE_REL`].
pub fn composite_rel(argument_scale: f64) -> f64 {
    COMPOSITE_REL + 32.0 * UNIT_ROUNDOFF * argument_scale
}

/// Unit roundoff of `f32`: $u = 2^{-24}$.
pub const F32_UNIT_ROUNDOFF: f64 = 1.0 / 16_777_216.0;

/// Unit roundoff of bf16 (8-bit significand, 7 bits stored): $u = 2^{-8}$, the largest relative
/// error of rounding a normal `f32` to the nearest bf16.
pub const BF16_UNIT_ROUNDOFF: f64 = 1.0 / 256.0;

/// GPU pair losses against the oracle on the same (widened) inputs, in units of the kernel's unit
/// roundoff $u$ times the condition-scaled magnitude of each output: for a loss
/// $|\Delta\ell| \le K u\\,(M + |\ell\'(h)|\\,S)$ with $M$ the sum of the magnitudes of the terms the
/// formula adds (so that cancellation is covered) and $S$ the sum of the input magnitudes entering
/// $h$ (each subtraction of the margin rounds by at most $u S$). The kernel rounds at most about
/// eight times relative to $M$ (exp and log1p ≤ 2 ulp each, a division, a few products) and four
/// times relative to $S$ (three subtractions and β stored in the kernel's type); the smoothing
/// coefficients ε, 1 − ε and 1/(1 − 2ε) are each computed in f64 and rounded once, so they add
/// one relative rounding each (rounding ε first and subtracting in f32 would not be covered: its
/// error relative to 1 − ε grows like $u/(1-ε)$). $K = 16$ doubles that. In f64 this is "a few ulps" of the condition-scaled value; a wrong formula or a lost
/// element is off by orders of magnitude more.
pub const GPU_PAIR_LOSS_K: f64 = 16.0;

/// GPU sequence log-probabilities against the oracle, the factor $K$ of the bound
/// $K u\\,(k + L\cdot\text{mag})$ per scored row: $k$ is the longest chain of sequential roundings
/// in a row's sum of exponentials (each term's relative error adds up along it: at most
/// $V/\text{block}$ terms per thread plus the tree, or the oracle's $V$ in f64), $\text{mag}$
/// bounds the magnitudes rounded ($|x_y| + 4\max|x| + \ln V + 1$: the label logit, the max
/// shift and the log-sum-exp, the exponent's argument reduction) and $L$ the sequential length of
/// the sum over positions. exp2f and logf add at most 2 ulp each per term; $K = 4$ leaves a margin
/// of about 2 over the sum of those.
pub const GPU_LOGPS_K: f64 = 4.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulps_counts_representable_steps() {
        assert_eq!(ulps(1.0, 1.0 + f64::EPSILON), 1);
        assert_eq!(ulps(-0.0, 0.0), 0);
        assert_eq!(
            ulps(f64::MIN_POSITIVE, -f64::MIN_POSITIVE),
            2 * (1u64 << 52)
        );
        assert_eq!(ulps(1.0, f64::NAN), u64::MAX);
    }

    #[test]
    fn rel_error_handles_non_finite() {
        assert_eq!(rel_error(f64::NAN, f64::NAN, 1.0), 0.0);
        assert_eq!(rel_error(1.0, f64::NAN, 1.0), f64::INFINITY);
        assert_eq!(rel_error(f64::INFINITY, f64::INFINITY, 1.0), 0.0);
        assert_eq!(rel_error(f64::INFINITY, 1.0, 1.0), f64::INFINITY);
        assert_eq!(rel_error(1.5, 1.0, 1.0), 0.5);
    }
}
