// Fused sequence log-probabilities from logits [rows, V] (rows = B x T positions) and their
// gradient with respect to the logits.
//
// The host folds labels, the causal shift, ignore_index and the mask into one target per row:
// target[row] = the scored token's index, or -1 for a row that is not scored.
//
// Forward, one block per row, one pass over the row with an online log-sum-exp
//   (m, s) <- (max(m, x), s exp(m - max) + exp(x - max)),   lse = m + log s,
//   row_logp = x[target] - lse,
// then one block per sequence sums its rows' log-probabilities in a fixed order.
// Backward, one block per row, reading the row once and writing its gradient once:
//   grad[v] = ([v == target] - exp(x[v] - lse)) * scale[b] on scored rows, 0 elsewhere
// (the derivative of the log-probability; the negative log-likelihood's is its negative),
// with lse saved by the forward pass (no log-softmax is materialised).
//
// Accumulation type Acc: float (exp(d) as exp2f(d log2 e): about 2 ulp from ex2.approx, plus
// the rounding of the product, a relative error of about 2.2 u |d|, which the tolerances count
// through the magnitudes of the logits) or double (exp of libdevice).
#include "common.cuh"

#define LOG2E_F 1.4426950408889634f

// Loads of 16 bytes: 4 f32 or 8 bf16 logits.
struct F32 {
    typedef float elem;
    typedef float out_elem;
    enum { E = 4 };
    static __device__ __forceinline__ void load(const float* p, uint64_t i, float (&x)[4]) {
        const float4 v = reinterpret_cast<const float4*>(p)[i];
        x[0] = v.x; x[1] = v.y; x[2] = v.z; x[3] = v.w;
    }
    static __device__ __forceinline__ float one(const float* p, uint64_t j) { return p[j]; }
    static __device__ __forceinline__ void store(float* p, uint64_t i, const float (&g)[4]) {
        reinterpret_cast<float4*>(p)[i] = make_float4(g[0], g[1], g[2], g[3]);
    }
    static __device__ __forceinline__ void store_one(float* p, uint64_t j, float g) { p[j] = g; }
};
struct Bf16 {
    typedef uint16_t elem;
    typedef uint16_t out_elem;
    enum { E = 8 };
    static __device__ __forceinline__ void load(const uint16_t* p, uint64_t i, float (&x)[8]) {
        const uint4 v = reinterpret_cast<const uint4*>(p)[i];
        x[0] = bf16_lo(v.x); x[1] = bf16_hi(v.x); x[2] = bf16_lo(v.y); x[3] = bf16_hi(v.y);
        x[4] = bf16_lo(v.z); x[5] = bf16_hi(v.z); x[6] = bf16_lo(v.w); x[7] = bf16_hi(v.w);
    }
    static __device__ __forceinline__ float one(const uint16_t* p, uint64_t j) { return bf16_to_f32(p[j]); }
    static __device__ __forceinline__ void store(uint16_t* p, uint64_t i, const float (&g)[8]) {
        reinterpret_cast<uint4*>(p)[i] = make_uint4(pack_bf16x2(g[0], g[1]), pack_bf16x2(g[2], g[3]),
                                                    pack_bf16x2(g[4], g[5]), pack_bf16x2(g[6], g[7]));
    }
    static __device__ __forceinline__ void store_one(uint16_t* p, uint64_t j, float g) {
        p[j] = uint16_t(f32_to_bf16_bits(g));
    }
};

// exp(x - m) in the accumulation type.
__device__ __forceinline__ float exp_diff(float x, float m) { return exp2f((x - m) * LOG2E_F); }
__device__ __forceinline__ double exp_diff(double x, double m) { return exp(x - m); }
__device__ __forceinline__ float log_(float x) { return logf(x); }
__device__ __forceinline__ double log_(double x) { return log(x); }

// Online log-sum-exp state: max m and sum s of exp(x - m). An empty state is (-inf, 0).
template <typename Acc>
struct Lse {
    Acc m, s;
    __device__ __forceinline__ void init() { m = -INFINITY; s = Acc(0); }
    // Adds K values with one rescale at most. -inf values contribute 0.
    template <int K>
    __device__ __forceinline__ void add(const float (&x)[K]) {
        Acc cm = Acc(x[0]);
#pragma unroll
        for (int k = 1; k < K; ++k) cm = fmax(cm, Acc(x[k]));
        if (cm > m) {
            s *= exp_diff(m, cm);
            m = cm;
        }
        if (m == -INFINITY) {
            // Every value so far is -inf (adds 0) or NaN (which fmax skips but must propagate).
#pragma unroll
            for (int k = 0; k < K; ++k) if (x[k] != x[k]) s = Acc(x[k]);
            return;
        }
#pragma unroll
        for (int k = 0; k < K; ++k) s += exp_diff(Acc(x[k]), m);
    }
    __device__ __forceinline__ void merge(Acc m2, Acc s2) {
        const Acc mm = fmax(m, m2);
        if (mm == -INFINITY) {
            s += s2;  // both empty (s2 is 0, or NaN that must propagate)
            return;
        }
        s = s * exp_diff(m, mm) + s2 * exp_diff(m2, mm);
        m = mm;
    }
};

// Elements before the first 16-byte boundary of a row.
template <typename L>
__device__ __forceinline__ uint64_t head_of(const typename L::elem* row, uint64_t V) {
    const uint64_t mis = (reinterpret_cast<uintptr_t>(row) & 15u) / sizeof(typename L::elem);
    const uint64_t head = mis == 0 ? 0 : (16 / sizeof(typename L::elem)) - mis;
    return head < V ? head : V;
}

template <typename L, typename Acc, int U>
__device__ void logps_forward(const typename L::elem* __restrict__ logits,
                              const int32_t* __restrict__ target, uint64_t V,
                              double* __restrict__ row_logp, double* __restrict__ row_lse) {
    __shared__ Acc sm[MAX_WARPS], ss[MAX_WARPS];
    const uint64_t row = blockIdx.x;
    const int32_t tgt = target[row];
    if (tgt < 0) {
        if (threadIdx.x == 0) {
            row_logp[row] = 0.0;
            row_lse[row] = 0.0;
        }
        return;
    }
    const int E = L::E;
    const typename L::elem* x = logits + row * V;
    const uint64_t head = head_of<L>(x, V);
    const uint64_t nvec = (V - head) / E;
    const typename L::elem* body = x + head;
    Lse<Acc> st;
    st.init();
    uint64_t i = threadIdx.x;
    for (; i + (U - 1) * uint64_t(blockDim.x) < nvec; i += U * uint64_t(blockDim.x)) {
        float v[U * E];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            float w[E];
            L::load(body, i + u * uint64_t(blockDim.x), w);
#pragma unroll
            for (int k = 0; k < E; ++k) v[u * E + k] = w[k];
        }
        st.template add<U * E>(v);
    }
    for (; i < nvec; i += blockDim.x) {
        float w[E];
        L::load(body, i, w);
        st.template add<E>(w);
    }
    for (uint64_t j = threadIdx.x; j < head; j += blockDim.x) {
        const float w[1] = {L::one(x, j)};
        st.template add<1>(w);
    }
    for (uint64_t j = head + nvec * E + threadIdx.x; j < V; j += blockDim.x) {
        const float w[1] = {L::one(x, j)};
        st.template add<1>(w);
    }
    // Combine the threads' states in a fixed order: shuffles within warps, then warp 0.
#pragma unroll
    for (int off = WARP / 2; off > 0; off /= 2) {
        const Acc m2 = __shfl_down_sync(0xffffffffu, st.m, off);
        const Acc s2 = __shfl_down_sync(0xffffffffu, st.s, off);
        st.merge(m2, s2);
    }
    const int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    const int warps = (blockDim.x + WARP - 1) / WARP;
    if (lane == 0) {
        sm[warp] = st.m;
        ss[warp] = st.s;
    }
    __syncthreads();
    if (warp == 0) {
        if (lane < warps) {
            st.m = sm[lane];
            st.s = ss[lane];
        } else {
            st.init();
        }
#pragma unroll
        for (int off = WARP / 2; off > 0; off /= 2) {
            const Acc m2 = __shfl_down_sync(0xffffffffu, st.m, off);
            const Acc s2 = __shfl_down_sync(0xffffffffu, st.s, off);
            st.merge(m2, s2);
        }
        if (lane == 0) {
            const Acc lse = st.m + log_(st.s);
            row_lse[row] = double(lse);
            row_logp[row] = double(Acc(L::one(x, uint64_t(tgt))) - lse);
        }
    }
}

template <typename L, typename Acc, int U>
__device__ void logps_backward(const typename L::elem* __restrict__ logits,
                               const int32_t* __restrict__ target,
                               const double* __restrict__ row_lse,
                               const double* __restrict__ seq_scale, uint64_t V, uint32_t T,
                               typename L::out_elem* __restrict__ grad) {
    const uint64_t row = blockIdx.x;
    const int32_t tgt = target[row];
    const int E = L::E;
    const typename L::elem* x = logits + row * V;
    typename L::out_elem* g = grad + row * V;
    const uint64_t head = head_of<L>(x, V);
    const uint64_t nvec = (V - head) / E;
    const typename L::elem* body = x + head;
    typename L::out_elem* gbody = g + head;
    if (tgt < 0) {  // not scored: zero gradient, logits not read
        const float z[E] = {};
        for (uint64_t i = threadIdx.x; i < nvec; i += blockDim.x) L::store(gbody, i, z);
        for (uint64_t j = threadIdx.x; j < head; j += blockDim.x) L::store_one(g, j, 0.0f);
        for (uint64_t j = head + nvec * E + threadIdx.x; j < V; j += blockDim.x) L::store_one(g, j, 0.0f);
        return;
    }
    const Acc lse = Acc(row_lse[row]);
    const Acc scale = Acc(seq_scale[row / T]);
    // Vector index and lane of the target inside the body (no match when it lies outside).
    const int64_t trel = int64_t(tgt) - int64_t(head);
    uint64_t i = threadIdx.x;
    for (; i + (U - 1) * uint64_t(blockDim.x) < nvec; i += U * uint64_t(blockDim.x)) {
        float v[U][E];
#pragma unroll
        for (int u = 0; u < U; ++u) L::load(body, i + u * uint64_t(blockDim.x), v[u]);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int64_t base = int64_t(i + u * uint64_t(blockDim.x)) * E;
            float o[E];
#pragma unroll
            for (int k = 0; k < E; ++k) {
                const Acc p = exp_diff(Acc(v[u][k]), lse);
                o[k] = float((base + k == trel ? Acc(1) - p : -p) * scale);
            }
            L::store(gbody, i + u * uint64_t(blockDim.x), o);
        }
    }
    for (; i < nvec; i += blockDim.x) {
        float v[E], o[E];
        L::load(body, i, v);
        const int64_t base = int64_t(i) * E;
#pragma unroll
        for (int k = 0; k < E; ++k) {
            const Acc p = exp_diff(Acc(v[k]), lse);
            o[k] = float((base + k == trel ? Acc(1) - p : -p) * scale);
        }
        L::store(gbody, i, o);
    }
    const uint64_t tail = head + nvec * E;
    for (uint64_t j = threadIdx.x; j < head; j += blockDim.x) {
        const Acc p = exp_diff(Acc(L::one(x, j)), lse);
        L::store_one(g, j, float((j == uint64_t(tgt) ? Acc(1) - p : -p) * scale));
    }
    for (uint64_t j = tail + threadIdx.x; j < V; j += blockDim.x) {
        const Acc p = exp_diff(Acc(L::one(x, j)), lse);
        L::store_one(g, j, float((j == uint64_t(tgt) ? Acc(1) - p : -p) * scale));
    }
}

// Sum of each sequence's row log-probabilities (unscored rows hold 0), in a fixed order.
template <typename Acc>
__device__ void logps_sequence_sum(const double* __restrict__ row_logp, uint32_t T,
                                   double* __restrict__ seq) {
    __shared__ Acc scratch[MAX_WARPS];
    const uint64_t b = blockIdx.x;
    Acc acc = Acc(0);
    for (uint32_t t = threadIdx.x; t < T; t += blockDim.x) acc += Acc(row_logp[b * T + t]);
    const Acc s = block_sum(acc, scratch);
    if (threadIdx.x == 0) seq[b] = double(s);
}

#define UNROLL 4
#define FORWARD(NAME, L, Acc)                                                                   \
    extern "C" __global__ void NAME(const L::elem* logits, const int32_t* target, uint64_t V,  \
                                    double* row_logp, double* row_lse) {                        \
        logps_forward<L, Acc, UNROLL>(logits, target, V, row_logp, row_lse);                     \
    }
#define BACKWARD(NAME, L, Acc)                                                                  \
    extern "C" __global__ void NAME(const L::elem* logits, const int32_t* target,              \
                                    const double* row_lse, const double* seq_scale, uint64_t V, \
                                    uint32_t T, L::out_elem* grad) {                            \
        logps_backward<L, Acc, UNROLL>(logits, target, row_lse, seq_scale, V, T, grad);          \
    }
FORWARD(logps_forward_f32_acc32, F32, float)
FORWARD(logps_forward_f32_acc64, F32, double)
FORWARD(logps_forward_bf16_acc32, Bf16, float)
FORWARD(logps_forward_bf16_acc64, Bf16, double)
BACKWARD(logps_backward_f32_acc32, F32, float)
BACKWARD(logps_backward_f32_acc64, F32, double)
BACKWARD(logps_backward_bf16_acc32, Bf16, float)
BACKWARD(logps_backward_bf16_acc64, Bf16, double)

extern "C" __global__ void logps_sequence_sum_acc32(const double* row_logp, uint32_t T, double* seq) {
    logps_sequence_sum<float>(row_logp, T, seq);
}
extern "C" __global__ void logps_sequence_sum_acc64(const double* row_logp, uint32_t T, double* seq) {
    logps_sequence_sum<double>(row_logp, T, seq);
}
