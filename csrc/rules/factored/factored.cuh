// The driver shared by the stochastic factored approximations of RTRL on the GPU (UORO, KF-RTRL,
// R-KF-RTRL; docs/algorithms.md §3.3-3.5), the device mirror of rules/factored/factored_cpu.h. A rule is a
// `Stream<T>` of static device functions (rules/<rule>/<rule>_online.cuh) and this file runs its step
// for B streams in the calling block, in phases separated by __syncthreads():
//   1. ahat_t = [a_{t-1}; x_t; 1] and the rule's propagate (J_t times a factor, p = nu (.) alpha_m phi');
//   2. the Frobenius norms that set rho0, rho1: one warp per stream, deterministic order (below);
//   3. the rule's factor update A, B <- (rho0, rho1, nu);
//   4. the rule's contraction of the updated factors with the credit q (B^T q, or q . A);
// after which the caller adds each stream's estimate G_b[i, j] = Stream::gradient_term(...).
// Both forms use it: the online form (all B streams in the persistent online block) and the
// sequence form (one block per stream, B = 1 in its view, per-block partial gradients).
//
// The per-stream workspace (stream-major, global memory, allocated by the glue): J X (n * jcols),
// p (n), r (m: B^T q, or Q = q . A in r[0]), ahat (m), rho (4: rho0, used0, rho1, used1).
#pragma once

#include "../../common/activation.h"
#include "factored_rho.h"
#include "../../common/online_net.h"
#include "../../kernels/common.cuh"
#include "../../kernels/credit.cuh"

namespace torch_local_rnn {
namespace kernels {

constexpr int kWarp = 32;

// What a stream's step reads besides its factors (FactoredContext of the CPU).
template <typename T>
struct FactoredCtx {
  const T *w_hh, *w_ih, *bias;  // bias: null in the sequence form
  T alpha, alpha_m;             // alpha_m: the factor of Mbar (immediate_alpha)
  Nonlinearity f;               // read by UORO's forward-difference variant only
  int64_t n, I, m;              // m = n + I + 1
  int64_t a_size, b_cols;       // A (a_size), B (n, b_cols) per stream (rules/factored/factored_layout.h)
  double rho0, rho1, epsilon;   // FactoredOptions: fixed rho (> 0) and UORO's epsilon
};

// B streams' factors and workspace, each array stream-major.
template <typename T>
struct FactoredStreams {
  T* A;          // (B, a_size)
  T* Bk;         // (B, n, b_cols)
  T* jx;         // (B, n, jcols): J_t times the propagated factor (A_f or B_f)
  T* p;          // (B, n)
  T* r;          // (B, m)
  T* ahat;       // (B, m)
  T* rho;        // (B, 4)
  const T* nu;   // this step's noise rows, stream b at nu + b * width
  int64_t B, width;
};

// Values of the per-stream workspace: the glue allocates B times this.
__host__ __device__ inline int64_t factored_work_per_stream(int64_t n, int64_t m, int64_t jcols) {
  return n * jcols + n + 2 * m + 4;
}

// The streams' view over their factors and a workspace of B * factored_work_per_stream values.
template <typename T>
__host__ __device__ FactoredStreams<T> carve_factored(T* A, T* Bk, T* work, int64_t B, int64_t n, int64_t m, int64_t jcols,
                                             int64_t width) {
  FactoredStreams<T> s;
  s.A = A;
  s.Bk = Bk;
  s.jx = work;
  s.p = s.jx + B * n * jcols;
  s.r = s.p + B * n;
  s.ahat = s.r + B * m;
  s.rho = s.ahat + B * m;
  s.nu = nullptr;
  s.B = B;
  s.width = width;
  return s;
}

template <typename T>
__device__ __forceinline__ Rho<T> load_rho(const FactoredStreams<T>& s, int64_t b, int k) {
  return {s.rho[4 * b + 2 * k], s.rho[4 * b + 2 * k + 1] != T(0)};
}

// out_b = J_t X_b = (1 - alpha) X_b + alpha diag(phi'(h_t,b)) (W_hh X_b) for X_b (n, cols) per stream;
// one thread per output entry, consecutive threads on consecutive columns (coalesced reads of X).
// Rounds like the CPU's GEMM-then-scale: (1 - alpha) x + (alpha phi') acc.
template <typename T>
__device__ void jacobian_times_columns(const T* weight_hh, int64_t B, int64_t n, int64_t cols, T alpha,
                                       const T* dphi, const T* X, T* out) {
  const int64_t per = n * cols;
  TLR_BLOCK_LOOP(idx, B * per) {
    const int64_t b = idx / per, e = idx - b * per, k = e / cols, col = e - k * cols;
    const T* w = weight_hh + k * n;
    const T* xb = X + b * per + col;
    T acc = 0;
    for (int64_t l = 0; l < n; ++l) acc += w[l] * xb[l * cols];
    out[idx] = (T(1) - alpha) * X[idx] + alpha * dphi[b * n + k] * acc;
  }
}

// p_b = nu_b (.) alpha_m phi'(h_t,b): the row scaling of P = diag(nu) Mbar_t (UORO, R-KF-RTRL).
template <typename T>
__device__ void noise_row_scale(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi) {
  const int64_t n = c.n;
  TLR_BLOCK_LOOP(r, s.B * n) {
    const int64_t b = r / n, i = r - b * n;
    s.p[r] = s.nu[b * s.width + i] * c.alpha_m * dphi[r];
  }
}

// Sum of squares of v[0..count) by one warp, lane-strided then a fixed shuffle tree: the same
// order on every run (no atomics), so results are reproducible. Every lane gets the sum.
template <typename T>
__device__ T warp_sum_squares(const T* v, int64_t count) {
  const int lane = threadIdx.x % kWarp;
  T acc = 0;
  for (int64_t e = lane; e < count; e += kWarp) acc += v[e] * v[e];
  for (int offset = kWarp / 2; offset > 0; offset /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
  return acc;
}

// Phase 2: per stream the four norms the rule names (Stream::norm_operands) and its rho0, rho1
// (Stream::rhos, which calls balance() as the CPU does), one warp per stream. The warp's lanes
// loop together (the stream index depends on the warp only), so the full-mask shuffles are safe.
// The xor tree leaves the same value in every lane; lane 0 stores.
template <typename T, template <typename> class Stream>
__device__ void factored_rho(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* dphi) {
  const int64_t warp = threadIdx.x / kWarp, warps = blockDim.x / kWarp;
  for (int64_t b = warp; b < s.B; b += warps) {
    const T* ptr[4];
    int64_t count[4];
    Stream<T>::norm_operands(c, s, b, dphi, ptr, count);
    T norm[4];
    for (int k = 0; k < 4; ++k) norm[k] = sqrt(warp_sum_squares(ptr[k], count[k]));
    Rho<T> rho0, rho1;
    Stream<T>::rhos(c, norm, rho0, rho1);
    if (threadIdx.x % kWarp == 0) {
      T* out = s.rho + 4 * b;
      out[0] = rho0.value;
      out[1] = rho0.used ? T(1) : T(0);
      out[2] = rho1.value;
      out[3] = rho1.used ? T(1) : T(0);
    }
  }
}

// One factored step of the B streams in s (s.nu set to this step's rows): phases 1-4 above.
// prev, next, dphi, q: (B, n); x: (B, I). Ends with a barrier, so every stream's updated factors
// and r are visible to the caller's gradient phase.
template <typename T, template <typename> class Stream>
__device__ void factored_step(const FactoredCtx<T>& c, const FactoredStreams<T>& s, const T* prev, const T* x,
                              const T* next, const T* dphi, const T* q) {
  presynaptic(prev, x, s.B, c.n, c.I, s.ahat);
  Stream<T>::propagate(c, s, prev, x, next, dphi);
  __syncthreads();
  factored_rho<T, Stream>(c, s, dphi);
  __syncthreads();
  Stream<T>::update(c, s, dphi);
  __syncthreads();
  Stream<T>::contract(c, s, q);
  __syncthreads();
}

// ---- Online form: the rule of the persistent online kernel (online_rule.cuh) --------------------

// G_t = (1/B) sum_b G_b, summed in stream order as the CPU does, then W <- W - lr G_t (and
// rec_grad += G_t) by the shared primitive.
template <typename T, template <typename> class Stream>
struct FactoredOnline {
  FactoredCtx<T> ctx;      // w_hh, w_ih, bias are taken from `net` each step (see step)
  FactoredStreams<T> streams;
  const T* noise;          // (steps, B, width)
  T* G;                    // (n, m)
  T* rec_grad;             // (n, m) or null

  __device__ void step(const OnlineNet<T>& net, const T* x, const OnlineActivity<T>& act) const {
    const int64_t B = net.B, n = net.n, m = ctx.m;
    // The weights as this step reads them, before its update: through `net`, which the online
    // kernel may point at its shared-memory copies (online_rule.cuh).
    FactoredCtx<T> c = ctx;
    c.w_hh = net.weight_hh;
    c.w_ih = net.weight_ih;
    c.bias = net.bias;
    FactoredStreams<T> s = streams;
    s.nu = noise + act.t * B * s.width;
    factored_step<T, Stream>(c, s, act.prev, x, act.state, act.dphi, act.q);
    const T scale = T(1) / T(B);
    TLR_BLOCK_LOOP(idx, n * m) {
      const int64_t i = idx / m, j = idx - i * m;
      T g = 0;
      for (int64_t b = 0; b < B; ++b) g += Stream<T>::gradient_term(c, s, b, i, j, scale);
      G[idx] = g;
    }
    __syncthreads();
    apply_recurrent_update(net, G, rec_grad);  // the last phase touches neither the readout nor feedback
  }
};

// ---- Sequence form: one block per stream -------------------------------------------------------

template <typename T>
struct FactoredSequenceParams {
  FactoredCtx<T> ctx;
  const T *x, *h0, *output, *dphi, *grad_output;  // (T, B, I), (B, n), (T, B, n) x 3
  const T* noise;                                 // (T, B, width)
  T* A;                                           // (B, a_size), zero on entry (M_0 = 0)
  T* Bk;                                          // (B, n, b_cols), zero on entry
  T* work;                                        // (B, factored_work_per_stream)
  T* partial;                                     // (B, n, m): stream b's gradient, zero on entry
  int64_t steps, B, width, jcols;
};

// Block b runs stream b through the whole sequence with frozen weights: per step the factored
// step with the noise row nu_{t,b}, then G_b += its estimate contracted with g_t = dL/da_t (which
// plays q_t's part). The streams are independent (the CPU runs them one after another into one
// G), so the glue sums the per-block partials afterwards.
template <typename T, template <typename> class Stream>
__global__ void __launch_bounds__(kThreads) factored_sequence_kernel(FactoredSequenceParams<T> p) {
  const FactoredCtx<T>& c = p.ctx;
  const int64_t b = blockIdx.x, n = c.n, m = c.m, I = c.I, B = p.B;
  FactoredStreams<T> s = carve_factored(p.A + b * c.a_size, p.Bk + b * n * c.b_cols,
                                        p.work + b * factored_work_per_stream(n, m, p.jcols), 1, n, m, p.jcols,
                                        p.width);
  T* G = p.partial + b * n * m;
  for (int64_t t = 0; t < p.steps; ++t) {
    const int64_t r = t * B + b;
    const T* prev = t == 0 ? p.h0 + b * n : p.output + (r - B) * n;
    s.nu = p.noise + r * p.width;
    factored_step<T, Stream>(c, s, prev, p.x + r * I, p.output + r * n, p.dphi + r * n, p.grad_output + r * n);
    // Reads A, B, r only; the next step's first phases write ahat, jx, p, and its update waits
    // behind two barriers, so no barrier is needed here.
    TLR_BLOCK_LOOP(idx, n * m) {
      const int64_t i = idx / m, j = idx - i * m;
      G[idx] += Stream<T>::gradient_term(c, s, 0, i, j, T(1));
    }
  }
}

template <typename T, template <typename> class Stream>
void launch_factored_sequence(const FactoredSequenceParams<T>& p, cudaStream_t stream) {
  factored_sequence_kernel<T, Stream><<<static_cast<unsigned int>(p.B), kThreads, 0, stream>>>(p);
}

}  // namespace kernels
}  // namespace torch_local_rnn
