// The ATen side of the counter-based noise (common/philox.h, docs/algorithms.md §2.5): the checks the fill
// and reservation ops share with the CPU and CUDA kernels, and the "noise counter" a stochastic rule reads
// in place of an explicit noise tensor: rule_tensors[0] = int64 [seed, offset, kind] (kind: the code of
// philox::NoiseKind), from which the rule draws nu (T, B, width) on x's device.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include "philox.h"

namespace torch_local_rnn {

// "discrete", "gaussian", "uniform" -> the kind; an error naming `kind` and op otherwise.
philox::NoiseKind parse_noise_kind(c10::string_view kind, const char* op);

// noise_from_counter's checks: out a defined, contiguous float32 / float64 tensor, seed and offset >= 0.
void check_noise_fill(const at::Tensor& out, int64_t seed, int64_t offset, const char* op);

// Whether rule_tensors[k] is a noise counter (an int64 tensor) rather than the noise itself.
inline bool is_noise_counter(const at::Tensor& t) { return t.defined() && t.scalar_type() == at::kLong; }

// nu of `shape`, x's dtype and device, drawn from a noise counter (checked: 1-D int64 [seed, offset, kind],
// seed and offset >= 0, a known kind; on any device, read on the host). `name` names it in the errors.
at::Tensor noise_from_counter_tensor(const at::Tensor& counter, at::IntArrayRef shape, const at::Tensor& x,
                                     const char* op, const char* name);

}  // namespace torch_local_rnn
