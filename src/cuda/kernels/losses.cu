// Batched DPO pair losses: per-pair loss, chosen and rejected rewards, the gradient of the batch
// mean with respect to the four log-probability inputs, and per-block partial sums of the loss
// (f64) for a deterministic two-stage batch mean.
//
// With the log-ratios lw = pc - rc and ll = pr - rr (pc, pr: policy chosen/rejected; rc, rr:
// reference; reference-free: lw = pc, ll = pr), h = lw - ll and z = beta h:
//   sigmoid  l = softplus(-z)
//   cdpo     l = (1-eps) softplus(-z) + eps softplus(z)
//   robust   l = ((1-eps) softplus(-z) - eps softplus(z)) / (1 - 2 eps)
//   ipo      l = (h - 1/(2 beta))^2
//   hinge    l = max(0, 1 - z)
// softplus(x) = max(x, 0) + log1p(exp(-|x|)) and sigma(+-z) share one exp(-|z|): no overflow for
// any finite z. dl/dpc = l'(h) / n, dl/dpr = -l'(h) / n, and with a reference
// dl/drc = -l'(h) / n, dl/drr = l'(h) / n (0 when reference-free).
#include "common.cuh"

#define LOSS_SIGMOID 0
#define LOSS_CDPO 1
#define LOSS_ROBUST 2
#define LOSS_IPO 3
#define LOSS_HINGE 4

template <typename T> struct Vec;
template <> struct Vec<float> { typedef float4 type; enum { n = 4 }; };
template <> struct Vec<double> { typedef double2 type; enum { n = 2 }; };
template <typename T> union Pack { typename Vec<T>::type v; T a[Vec<T>::n]; };

__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float log1p_(float x) { return log1pf(x); }
__device__ __forceinline__ double log1p_(double x) { return log1p(x); }

// The label-smoothing coefficients, each computed in f64 and rounded once to T: ε, 1 - ε and
// 1 / (1 - 2ε). (Rounding ε to f32 first and subtracting would give 1 - ε a relative error of
// u / (2 (1 - ε)), large as ε nears 1.)
template <typename T>
struct Smoothing {
    T eps, keep, inv;
    __device__ __forceinline__ explicit Smoothing(double e)
        : eps(T(e)), keep(T(1.0 - e)), inv(T(1.0 / (1.0 - 2.0 * e))) {}
};

// Loss of one pair and its derivative with respect to h.
template <typename T>
__device__ __forceinline__ void pair_loss(int kind, T beta, const Smoothing<T>& sm, T h, T& loss,
                                          T& dh) {
    if (kind == LOSS_IPO) {
        const T d = h - T(0.5) / beta;
        loss = d * d;
        dh = T(2) * d;
        return;
    }
    const T z = beta * h;
    if (kind == LOSS_HINGE) {
        const T a = T(1) - z;
        const T zero = a == a ? T(0) : a;   // 0, or the NaN to propagate
        loss = a > T(0) ? a : zero;         // max(0, a)
        dh = a > T(0) ? -beta : zero;
        return;
    }
    const T e = exp_(-fabs(z));             // in (0, 1]
    const T l1 = log1p_(e);
    const T sp_pos = fmax(z, T(0)) + l1;    // softplus(z)
    const T sp_neg = fmax(-z, T(0)) + l1;   // softplus(-z)
    const T big = T(1) / (T(1) + e);        // sigma(|z|)
    const T small = e / (T(1) + e);         // sigma(-|z|)
    const T sig_pos = z >= T(0) ? big : small;
    const T sig_neg = z >= T(0) ? small : big;
    T dz;
    const T eps = sm.eps, keep = sm.keep;
    if (kind == LOSS_SIGMOID) {
        loss = sp_neg;
        dz = -sig_neg;
    } else if (kind == LOSS_CDPO) {
        loss = keep * sp_neg + eps * sp_pos;
        dz = eps * sig_pos - keep * sig_neg;
    } else {  // LOSS_ROBUST
        loss = (keep * sp_neg - eps * sp_pos) * sm.inv;
        dz = -(keep * sig_neg + eps * sig_pos) * sm.inv;
    }
    dh = beta * dz;
}

template <typename T>
__device__ __forceinline__ void one_pair(int kind, T beta, const Smoothing<T>& sm, T n,
                                         bool ref_free, T pc, T pr, T rc, T rr, T& loss, T& cr,
                                         T& rj, T& g) {
    const T lw = pc - rc, ll = pr - rr;
    const T h = ref_free ? pc - pr : lw - ll;
    T dh;
    pair_loss(kind, beta, sm, h, loss, dh);
    cr = beta * lw;
    rj = beta * ll;
    g = dh / n;
}

template <typename T>
__device__ void pair_losses(const T* __restrict__ pc, const T* __restrict__ pr,
                            const T* __restrict__ rc, const T* __restrict__ rr, uint64_t n,
                            int kind, double beta_d, double eps_d, int ref_free,
                            T* __restrict__ loss,
                            T* __restrict__ chosen, T* __restrict__ rejected, T* __restrict__ g_pc,
                            T* __restrict__ g_pr, T* __restrict__ g_rc, T* __restrict__ g_rr,
                            double* __restrict__ partials) {
    __shared__ double scratch[MAX_WARPS];
    typedef typename Vec<T>::type V;
    const int VN = Vec<T>::n;
    const T beta = T(beta_d), nt = T(n);
    const Smoothing<T> sm(eps_d);
    const T keep = ref_free ? T(0) : T(1);
    const uint64_t nvec = n / VN;
    const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
    const uint64_t tid = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    double acc = 0.0;
    for (uint64_t i = tid; i < nvec; i += stride) {
        Pack<T> a, b, c, d, l, cr, rj, g, mg, rg, mrg;
        a.v = reinterpret_cast<const V*>(pc)[i];
        b.v = reinterpret_cast<const V*>(pr)[i];
        c.v = reinterpret_cast<const V*>(rc)[i];
        d.v = reinterpret_cast<const V*>(rr)[i];
#pragma unroll
        for (int k = 0; k < VN; ++k) {
            one_pair(kind, beta, sm, nt, ref_free != 0, a.a[k], b.a[k], c.a[k], d.a[k], l.a[k],
                     cr.a[k], rj.a[k], g.a[k]);
            mg.a[k] = -g.a[k];
            rg.a[k] = keep * g.a[k];
            mrg.a[k] = -rg.a[k];
            acc += double(l.a[k]);
        }
        if (loss) reinterpret_cast<V*>(loss)[i] = l.v;
        if (chosen) {
            reinterpret_cast<V*>(chosen)[i] = cr.v;
            reinterpret_cast<V*>(rejected)[i] = rj.v;
        }
        if (g_pc) {
            reinterpret_cast<V*>(g_pc)[i] = g.v;
            reinterpret_cast<V*>(g_pr)[i] = mg.v;
            reinterpret_cast<V*>(g_rc)[i] = mrg.v;
            reinterpret_cast<V*>(g_rr)[i] = rg.v;
        }
    }
    // The last n % VN pairs, one per thread of the first threads.
    const uint64_t j = nvec * VN + tid;
    if (j < n) {
        T l, cr, rj, g;
        one_pair(kind, beta, sm, nt, ref_free != 0, pc[j], pr[j], rc[j], rr[j], l, cr, rj, g);
        acc += double(l);
        if (loss) loss[j] = l;
        if (chosen) {
            chosen[j] = cr;
            rejected[j] = rj;
        }
        if (g_pc) {
            g_pc[j] = g;
            g_pr[j] = -g;
            g_rc[j] = -(keep * g);
            g_rr[j] = keep * g;
        }
    }
    const double s = block_sum(acc, scratch);
    if (threadIdx.x == 0) partials[blockIdx.x] = s;
}

#define PAIR_LOSSES(NAME, T)                                                                      \
    extern "C" __global__ void NAME(const T* pc, const T* pr, const T* rc, const T* rr,          \
                                    uint64_t n, int kind, double beta, double eps, int ref_free,  \
                                    T* loss, T* chosen, T* rejected, T* g_pc, T* g_pr, T* g_rc,   \
                                    T* g_rr, double* partials) {                                  \
        pair_losses<T>(pc, pr, rc, rr, n, kind, beta, eps, ref_free, loss, chosen, rejected,     \
                       g_pc, g_pr, g_rc, g_rr, partials);                                         \
    }
PAIR_LOSSES(pair_losses_f32, float)
PAIR_LOSSES(pair_losses_f64, double)

// Second stage: one block sums the partials in a fixed order and multiplies by `scale`.
extern "C" __global__ void sum_partials(const double* __restrict__ partials, uint32_t n,
                                        double scale, double* __restrict__ out) {
    __shared__ double scratch[MAX_WARPS];
    double acc = 0.0;
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) acc += partials[i];
    const double s = block_sum(acc, scratch);
    if (threadIdx.x == 0) out[0] = s * scale;
}
