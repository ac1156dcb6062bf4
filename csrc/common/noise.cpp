// The noise counter's checks and reading (common/noise.h), and noise_reserve: the atomic advance of a
// module's noise offset (docs/algorithms.md §2.5), device-generic (it only runs ATen ops).
#include "noise.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <mutex>
#include <string>

#include "../include/torch_local_rnn/ops.h"
#include "checks.h"

namespace torch_local_rnn {

philox::NoiseKind parse_noise_kind(c10::string_view kind, const char* op) {
  if (kind == "discrete") return philox::NoiseKind::Discrete;
  if (kind == "gaussian") return philox::NoiseKind::Gaussian;
  TORCH_CHECK(kind == "uniform", op, ": expected kind to be one of 'discrete', 'gaussian', 'uniform', but got '",
              std::string(kind), "'");
  return philox::NoiseKind::Uniform;
}

void check_noise_fill(const at::Tensor& out, int64_t seed, int64_t offset, const char* op) {
  check_defined(out, op, "out");
  TORCH_CHECK(out.scalar_type() == at::kFloat || out.scalar_type() == at::kDouble, op,
              ": expected out to be float32 or float64, but got ", out.scalar_type());
  TORCH_CHECK(out.is_contiguous(), op, ": expected out to be contiguous (it is filled in place)");
  TORCH_CHECK(seed >= 0, op, ": expected seed >= 0, but got ", seed);
  TORCH_CHECK(offset >= 0, op, ": expected offset >= 0, but got ", offset);
}

at::Tensor noise_from_counter_tensor(const at::Tensor& counter, at::IntArrayRef shape, const at::Tensor& x,
                                     const char* op, const char* name) {
  TORCH_CHECK(counter.dim() == 1 && counter.numel() == 3, op, ": expected ", name,
              " as a noise counter to be a 1-D int64 tensor [seed, offset, kind], but got shape ",
              shape_str(counter.sizes()));
  const at::Tensor host = counter.cpu().contiguous();  // three integers: a sync on CUDA, no data copy to speak of
  const int64_t* v = host.data_ptr<int64_t>();
  TORCH_CHECK(v[2] >= 0 && v[2] < philox::kNoiseKinds, op, ": expected the kind of ", name,
              " to be 0 (discrete), 1 (gaussian) or 2 (uniform), but got ", v[2]);
  TORCH_CHECK(v[0] >= 0 && v[1] >= 0, op, ": expected the seed and offset of ", name, " to be >= 0, but got ", v[0],
              " and ", v[1]);
  static const char* kNames[] = {"discrete", "gaussian", "uniform"};
  at::Tensor nu = at::empty(shape, x.options());
  noise_from_counter(nu, kNames[v[2]], v[0], v[1]);  // through the dispatcher: x's backend fills it
  return nu;
}

namespace {

// One lock for every module's offset: a reservation is a few scalar ops, never a sequence.
std::mutex reserve_mutex;

at::Tensor noise_reserve_kernel(const at::Tensor& seed, at::Tensor& offset, int64_t count, c10::string_view kind) {
  const char* op = "noise_reserve";
  const auto code = static_cast<int64_t>(parse_noise_kind(kind, op));
  const at::Tensor* scalars[] = {&seed, &offset};
  for (const at::Tensor* t : scalars) {
    const char* name = t == &seed ? "seed" : "offset";
    check_defined(*t, op, name);
    TORCH_CHECK(t->scalar_type() == at::kLong && t->numel() == 1, op, ": expected ", name,
                " to be an int64 tensor of one element, but got a ", t->scalar_type(), " tensor of shape ",
                shape_str(t->sizes()));
  }
  TORCH_CHECK(seed.device() == offset.device(), op, ": expected seed and offset on one device, but got ",
              seed.device(), " and ", offset.device());
  TORCH_CHECK(count >= 0, op, ": expected count >= 0, but got ", count);
  const std::lock_guard<std::mutex> lock(reserve_mutex);  // read and advance as one step: disjoint ranges
  const at::Tensor before = offset.reshape({1}).clone();
  offset.add_(count);
  return at::cat({seed.reshape({1}), before, at::full({1}, code, offset.options())});
}

}  // namespace

TORCH_LIBRARY_IMPL(torch_local_rnn, CompositeExplicitAutograd, m) { m.impl("noise_reserve", &noise_reserve_kernel); }

}  // namespace torch_local_rnn
