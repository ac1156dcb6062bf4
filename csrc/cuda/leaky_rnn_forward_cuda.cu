// Leaky-RNN forward on the GPU (docs/algorithms.md §1):
//   h_t = W_hh a_{t-1} + W_ih x_t + b,   a_t = (1 - alpha) a_{t-1} + alpha phi(h_t).
// The input drive of all T steps is one GEMM; the recurrence is then one launch of a persistent sequence kernel (the
// cell kernels/leaky_rnn_persistent.cuh, docs/design.md §3.6: a warp per stream up to 32 units, else W_hh's row
// tiles on chip where they fit at once), else the stepwise path: per step one in-place GEMM on the current stream
// and one fused pointwise kernel (kernels/leaky_rnn_pointwise.cuh). Buffers and per-step views are made before the
// loop; nothing is allocated in it.
// Per-operator ATen headers: only the ops this glue calls, which also keeps nvcc fast.
#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../common/checks.h"
#include "../kernels/leaky_rnn_persistent.cuh"
#include "../kernels/leaky_rnn_pointwise.cuh"
#include "persistent_sequence.h"

namespace torch_local_rnn {
namespace {

std::tuple<at::Tensor, at::Tensor> leaky_rnn_forward_cuda(const at::Tensor& x, const at::Tensor& h0,
                                                          const at::Tensor& weight_hh, const at::Tensor& weight_ih,
                                                          const at::Tensor& bias, double alpha,
                                                          c10::string_view nonlinearity) {
  constexpr const char* op = "leaky_rnn_forward";
  check_network_args(op, x, h0, weight_hh, weight_ih, alpha);
  check_bias(op, bias, x, weight_hh.size(0));
  const Nonlinearity f = parse_nonlinearity(std::string(nonlinearity), op);
  const int64_t T = x.size(0), B = x.size(1), I = x.size(2), n = weight_hh.size(0);
  // Otherwise the kernels would launch on the current device, not the tensors' one.
  const c10::cuda::CUDAGuard guard(x.device());
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  at::Tensor output = at::empty({T, B, n}, x.options());
  at::Tensor dphi = at::empty({T, B, n}, x.options());
  at::Tensor drive = output.view({T * B, n});
  at::addmm_out(drive, bias, x.reshape({T * B, I}), weight_ih.t());
  const at::Tensor prev0 = h0.contiguous();
  const at::Tensor w_hh = weight_hh.contiguous();
  const SequencePath path = sequence_path(op);
  const PersistentKernel kernel = persistent_kernel(op);
  const char* why_not = nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    const kernels::LeakyForwardCell<scalar_t> cell{output.data_ptr<scalar_t>(), dphi.data_ptr<scalar_t>(),
                                                   prev0.data_ptr<scalar_t>(), B * n, static_cast<scalar_t>(alpha), f};
    why_not = run_persistent_sequence<scalar_t>(path, kernel, w_hh, false, B, T, cell, nullptr, stream);
  });
  if (persistent_ran(op, path, why_not, n, B, T)) return {output, dphi};

  const std::vector<at::Tensor> h = output.unbind(0);  // holds h_t until overwritten by a_t
  const std::vector<at::Tensor> d = dphi.unbind(0);
  const at::Tensor w_hh_t = weight_hh.t();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), op, [&] {
    kernels::LeakyStepParams<scalar_t> p{};
    p.count = B * n;
    p.alpha = static_cast<scalar_t>(alpha);
    p.f = f;
    for (int64_t t = 0; t < T; ++t) {
      const at::Tensor& prev = t == 0 ? prev0 : h[t - 1];
      h[t].addmm_(prev, w_hh_t);
      p.state = h[t].data_ptr<scalar_t>();
      p.dphi = d[t].data_ptr<scalar_t>();
      p.prev = prev.data_ptr<scalar_t>();
      kernels::launch_leaky_step(p, stream);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {output, dphi};
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CUDA, m) { m.impl("leaky_rnn_forward", &leaky_rnn_forward_cuda); }

}  // namespace torch_local_rnn
