//! The hinge loss of SLiC / RSO: $\ell(z) = \max(0, 1 - z)$, $z = \beta h$.

use crate::scalar::Real;

/// $\ell(z) = \max(0, 1 - z)$.
///
/// Closed-form derivative: [`hinge_dz`].
pub fn hinge<R: Real>(z: R) -> R {
    (-z + 1.0).relu()
}

/// $\ell\'(z) = -1$ for $z < 1$ and $0$ for $z \ge 1$: at the kink $z = 1$ the engine's
/// convention for $\max(x, 0)$ (derivative 0 at $x = 0$) is kept, so both routes agree.
pub fn hinge_dz(z: f64) -> f64 {
    if 1.0 - z > 0.0 {
        -1.0
    } else {
        0.0
    }
}
