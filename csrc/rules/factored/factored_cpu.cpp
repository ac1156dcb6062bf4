// The factored rules (UORO, KF-RTRL, R-KF-RTRL; docs/algorithms.md §3.3-3.5) on the CPU: the shared step
// (rules/factored/factored_step.h, each rule's pieces in <rule>_step.h) run by the CPU policy.
#include <ATen/Dispatch.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>

#include "../../cpu/online_step_cpu.h"
#include "factored_call.h"

namespace torch_local_rnn {
namespace {

// CpuExec with two replacements (candidates for CpuExec itself, cpu/online_step_cpu.h):
//   matmul through at::mm_out, the BLAS call the CPU made before the shared step: CpuExec::matmul calls
//     at::native::cpublas::gemm's float/double overloads, which libtorch_cpu does not export, so it
//     does not link;
//   sums with eight partial sums in dot()'s order (common/dot.h): the norms of the factors are long
//     sums (n (n + I + 1) terms), and one running sum neither vectorises nor pipelines.
struct FactoredCpuExec : CpuExec {
  template <typename T>
  static void matmul(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                     int64_t ldc) {
    const auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
    at::Tensor out = at::from_blob(C, {M, N}, {ldc, 1}, options);
    at::mm_out(out, at::from_blob(const_cast<T*>(A), {M, K}, {lda, 1}, options),
               at::from_blob(const_cast<T*>(B), {K, N}, {ldb, 1}, options));
  }
  template <typename T, typename F>
  static void sums(int64_t rows, int64_t count, F&& f, T* out) {
    for (int64_t r = 0; r < rows; ++r) {
      T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t k = 0;
      for (; k + 8 <= count; k += 8) {
        for (int u = 0; u < 8; ++u) s[u] += f(r, k + u);
      }
      T tail = 0;
      for (; k < count; ++k) tail += f(r, k);
      out[r] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
    }
  }
};

template <template <typename, typename> class Rule, FactoredLayoutFn Layout>
struct CpuFactored {
  // leaky_rnn_rule_backward: the streams one after another through one set of buffers, into one G.
  static BackwardResult backward(const SequenceArgs& a) {
    const FactoredCall f = factored_sequence_call<FactoredCpuExec, Rule>(a, Layout, 1);
    at::Tensor gradient = at::zeros({f.n, f.m}, a.x.options());
    AT_DISPATCH_FLOATING_TYPES(a.x.scalar_type(), "leaky_rnn_rule_backward", [&] {
      const FactoredCtx<scalar_t> ctx = factored_sequence_ctx<scalar_t>(a, f);
      const FactoredSequence<scalar_t> seq = factored_sequence<scalar_t>(a, f);
      const FactoredStreams<scalar_t> s = factored_stream(ctx, f.factors.data_ptr<scalar_t>(),
                                                          f.work.data_ptr<scalar_t>(), 0, f.jcols, f.L.noise_width);
      for (int64_t b = 0; b < seq.B; ++b) {
        run_factored_sequence<FactoredCpuExec, Rule>(ctx, s, seq, b, gradient.data_ptr<scalar_t>());
      }
    });
    return result_from_gradient(a, gradient);
  }

  static void online(const OnlineCall& c) {
    const FactoredCall f = factored_online_call<FactoredCpuExec, Rule>(c, Layout);
    run_online_call(c, [&](auto zero) { return factored_online_rule<FactoredCpuExec, Rule, decltype(zero)>(c, f); });
  }
};

const bool registered = register_factored_rules<CpuSequenceRules, CpuOnlineRules, CpuFactored>();

}  // namespace
}  // namespace torch_local_rnn
