// The kernels' CUDA C, compiled for the host through emu.h, against long-double references
// written here from the formulas (not from the kernels): pair losses, rewards, gradients and
// the two-stage mean; sequence log-probabilities (forward and backward) for f32 and bf16 logits
// with f32 and f64 accumulation, vocabularies that leave unaligned heads and tails, block sizes
// from one warp up, unscored rows (which must read back exactly 0) and -inf logits. Inputs are
// fresh each run (seed printed; set KERNEL_SEED to replay). Every output is poisoned (NaN bytes)
// before the launch. Prints one line per case and "N passed, 0 failed" last; exits 1 on the first
// failure.
//
// Tolerances are relative to the magnitudes involved, in units of the type's unit roundoff u:
// 64 u for a few roundings (exp, log1p, a division, a few products) of each magnitude, times the
// number of sequential additions where sums are involved. This run uses the host's accurate
// libm; a GPU run checks the tighter-than-needed precision claims against the Rust oracle.
#include "emu.h"
#include "../losses.cu"
#include "../logps.cu"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

typedef long double LD;
static std::mt19937_64 rng;
static int passed = 0;
static const LD U32 = 1.0L / 16777216, U64 = 1.0L / 9007199254740992.0L;

static double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
template <class T> static T* alloc(size_t n) {
    const size_t bytes = ((n * sizeof(T) + 255) / 256) * 256;  // cuMemAlloc aligns to 256 too
    void* p = aligned_alloc(256, bytes);
    memset(p, 0xFF, bytes);  // NaN in f32, f64 and bf16
    return static_cast<T*>(p);
}
static LD softplus(LD x) { return x > 0 ? x + log1pl(expl(-x)) : log1pl(expl(x)); }
static LD sigmoid(LD x) { return x >= 0 ? 1 / (1 + expl(-x)) : expl(x) / (1 + expl(x)); }
static void expect(const char* what, LD got, LD want, LD tol) {
    if (!(fabsl(got - want) <= tol) && !(std::isnan(got) && std::isnan(want))) {
        printf("FAIL %s: kernel %.17Lg, reference %.17Lg, tolerance %Lg\n", what, got, want, tol);
        printf("%d passed, 1 failed\n", passed);
        exit(1);
    }
}

// kind: 1 cDPO (sigmoid at eps = 0), 2 robust, 3 IPO, 4 hinge, as in losses.cu.
template <class T>
static void pairs(int kind, double beta, double eps, int ref_free, size_t n) {
    const LD u = sizeof(T) == 4 ? U32 : U64, k = 64 * u;
    T *pc = alloc<T>(n), *pr = alloc<T>(n), *rc = alloc<T>(n), *rr = alloc<T>(n);
    for (size_t i = 0; i < n; ++i) {
        pr[i] = uni(-400, -1), rc[i] = uni(-400, -1), rr[i] = pr[i] + uni(-20, 20);
        // One pair in eight with an extreme margin |beta h| up to 1e4.
        pc[i] = i % 8 == 0 ? uni(-1e4, 1e4) / beta + pr[i] + rc[i] - rr[i] : rc[i] + uni(-20, 20);
    }
    T *loss = alloc<T>(n), *cr = alloc<T>(n), *rj = alloc<T>(n);
    T *g0 = alloc<T>(n), *g1 = alloc<T>(n), *g2 = alloc<T>(n), *g3 = alloc<T>(n);
    double *partials = alloc<double>(1024), *mean = alloc<double>(1);
    const size_t vec = 16 / sizeof(T);
    const unsigned blocks = std::min<size_t>(std::max<size_t>((n / vec + 255) / 256, 1), 1024);
    launch(blocks, 256, [&] {
        pair_losses<T>(pc, pr, rc, rr, n, kind, beta, eps, ref_free, loss, cr, rj, g0, g1, g2, g3, partials);
    });
    launch(1, 1024, [&] { sum_partials(partials, blocks, 1.0 / n, mean); });
    LD sum = 0, mag_sum = 0;
    for (size_t i = 0; i < n; ++i) {
        const LD lw = (LD)pc[i] - rc[i], ll = (LD)pr[i] - rr[i];
        const LD h = ref_free ? (LD)pc[i] - pr[i] : lw - ll, z = beta * h;
        const LD S = fabsl(pc[i]) + fabsl(pr[i]) + fabsl(rc[i]) + fabsl(rr[i]);
        LD l, dh, mag;  // loss, its derivative in h, the magnitude of the terms it adds
        switch (kind) {
        case 1:
            l = (1 - eps) * softplus(-z) + eps * softplus(z);
            dh = beta * (eps * sigmoid(z) - (1 - eps) * sigmoid(-z));
            mag = softplus(-z) + softplus(z);
            break;
        case 2:
            l = ((1 - eps) * softplus(-z) - eps * softplus(z)) / (1 - 2 * eps);
            dh = -beta * ((1 - eps) * sigmoid(-z) + eps * sigmoid(z)) / (1 - 2 * eps);
            mag = (softplus(-z) + softplus(z)) / (1 - 2 * eps);
            break;
        case 3:
            l = (h - 0.5L / beta) * (h - 0.5L / beta), dh = 2 * (h - 0.5L / beta);
            mag = l + 2 * fabsl(dh) * (fabsl(h) + 0.5L / beta);
            break;
        default:
            l = 1 - z > 0 ? 1 - z : 0, dh = 1 - z > 0 ? -(LD)beta : 0, mag = 1 + fabsl(z);
        }
        sum += l, mag_sum += mag + fabsl(dh) * S;
        expect("loss", loss[i], l, k * (mag + fabsl(dh) * S) + 1e-40L);
        expect("chosen reward", cr[i], beta * lw, k * beta * (fabsl(pc[i]) + fabsl(rc[i])));
        expect("rejected reward", rj[i], beta * ll, k * beta * (fabsl(pr[i]) + fabsl(rr[i])));
        // |dh'| <= beta^2 (logistic), 2 (IPO): the margin's rounding k S moves dh by at most that.
        const LD gt = k * (fabsl(dh) + beta + (beta * beta + 2) * S) / n + 1e-40L;
        expect("grad policy chosen", g0[i], dh / n, gt);
        expect("grad policy rejected", g1[i], -dh / n, gt);
        expect("grad reference chosen", g2[i], ref_free ? 0 : -dh / n, gt);
        expect("grad reference rejected", g3[i], ref_free ? 0 : dh / n, gt);
    }
    expect("batch mean", *mean, sum / n, k * mag_sum / n);
    printf("pairs %s kind %d beta %g eps %g reference-free %d n %zu: ok\n",
           sizeof(T) == 4 ? "f32" : "f64", kind, beta, eps, ref_free, n);
    ++passed;
}

template <class L, class Acc>
static void logps(size_t B, size_t T, size_t V, unsigned block, bool shift) {
    typedef typename L::elem E;
    const bool bf16 = sizeof(E) == 2;
    const LD u = sizeof(Acc) == 4 ? U32 : U64, store = bf16 ? 1.0L / 256 : U32;
    const size_t rows = B * T;
    E* x = alloc<E>(rows * V);
    std::vector<double> xv(rows * V);  // the stored logits' exact values
    for (size_t i = 0; i < rows * V; ++i) {
        float f = rng() % 97 == 0 ? -INFINITY : i % V == 3 ? 30.0f : (float)uni(-10, 10);
        if (bf16) {
            const uint16_t b = f32_to_bf16_bits(f);
            memcpy(&x[i], &b, 2), xv[i] = bf16_to_f32(b);
        } else {
            memcpy(&x[i], &f, 4), xv[i] = f;
        }
    }
    // Targets: row t of sequence b scores a token unless shifted off the end, dropped (one in
    // five), in the fully masked sequence 1, or its logit is -inf.
    int32_t* target = alloc<int32_t>(rows);
    for (size_t r = 0; r < rows; ++r) {
        const bool scored = !(shift && r % T == T - 1) && rng() % 5 != 0 && r / T != 1;
        target[r] = scored ? (int32_t)(rng() % V) : -1;
        if (target[r] >= 0 && std::isinf(xv[r * V + target[r]])) target[r] = -1;
    }
    double *row_logp = alloc<double>(rows), *row_lse = alloc<double>(rows);
    double *seq = alloc<double>(B), *scale = alloc<double>(B);
    E* grad = alloc<E>(rows * V);
    for (size_t b = 0; b < B; ++b) scale[b] = uni(-2, 2);
    launch(rows, block, [&] { logps_forward<L, Acc, 4>(x, target, V, row_logp, row_lse); });
    launch(B, 256, [&] { logps_sequence_sum<Acc>(row_logp, T, seq); });
    launch(rows, block, [&] { logps_backward<L, Acc, 4>(x, target, row_lse, scale, V, T, grad); });
    auto grad_at = [&](size_t i) -> LD {
        if (!bf16) { float f; memcpy(&f, &grad[i], 4); return f; }
        uint16_t h; memcpy(&h, &grad[i], 2); return bf16_to_f32(h);
    };
    // Sequential roundings in a row's sum of exponentials: per thread, then the tree.
    const LD chain = (LD)V / block + 40;
    for (size_t b = 0; b < B; ++b) {
        LD sum = 0, mag = 0;
        for (size_t t = 0; t < T; ++t) {
            const size_t r = b * T + t;
            const double* xr = &xv[r * V];
            if (target[r] < 0) {
                expect("unscored row log-prob", row_logp[r], 0, 0);
                for (size_t v = 0; v < V; ++v) expect("unscored gradient", grad_at(r * V + v), 0, 0);
                continue;
            }
            LD m = -INFINITY, s = 0;
            for (size_t v = 0; v < V; ++v) m = std::max(m, (LD)xr[v]);
            for (size_t v = 0; v < V; ++v) s += expl(xr[v] - m);
            const LD lse = m + logl(s), lp = xr[target[r]] - lse;
            const LD row_mag = fabsl(lp) + fabsl(lse) + fabsl(m) + chain;
            sum += lp, mag += row_mag;
            expect("row log-sum-exp", row_lse[r], lse, 64 * u * row_mag);
            expect("row log-prob", row_logp[r], lp, 64 * u * row_mag);
            for (size_t v = 0; v < V; ++v) {
                const LD p = expl(xr[v] - lse);
                const LD want = ((int32_t)v == target[r] ? 1 - p : -p) * scale[b];
                const LD xa = std::isinf(xr[v]) ? 0 : fabsl(xr[v]);
                const LD tol = fabsl(scale[b]) * 64 * u * (p * (row_mag + xa) + 1) + store * fabsl(want) + 1e-37L;
                expect("gradient", grad_at(r * V + v), want, tol);
            }
        }
        expect("sequence log-prob", seq[b], sum, 64 * u * mag * (T + 1));
    }
    printf("logps %s acc%zu B %zu T %zu V %zu block %u shift %d: ok\n", bf16 ? "bf16" : "f32",
           sizeof(Acc) * 8, B, T, V, block, shift);
    ++passed;
}

int main() {
    const char* env = getenv("KERNEL_SEED");
    const unsigned long long seed =
        env ? strtoull(env, nullptr, 10) : (unsigned long long)std::chrono::system_clock::now().time_since_epoch().count();
    printf("seed %llu (replay with KERNEL_SEED=%llu)\n", seed, seed);
    rng.seed(seed);
    for (int kind = 1; kind <= 4; ++kind) {
        for (int ref_free = 0; ref_free < 2; ++ref_free) {
            const double beta = std::pow(10.0, uni(-2, 1));
            const double eps = kind == 1 ? uni(0, 1) : kind == 2 ? uni(0, 0.45) : 0;
            pairs<double>(kind, beta, eps, ref_free, 1000 + rng() % 4000);
            pairs<float>(kind, beta, eps, ref_free, 1000 + rng() % 4000);
        }
    }
    const size_t vocabs[] = {5, 8, 13, 1001, 2048, 3001};
    const unsigned blocks[] = {32, 64, 128, 256};
    for (size_t V : vocabs) {
        const unsigned block = blocks[rng() % 4];
        logps<F32, float>(3, 5, V, block, true);
        logps<F32, double>(3, 5, V, block, false);
        logps<Bf16, float>(3, 4, V, block, true);
        logps<Bf16, double>(2, 5, V, block, true);
    }
    printf("%d passed, 0 failed\n", passed);
}
