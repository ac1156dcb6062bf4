// What a call of a factored rule (UORO, KF-RTRL, R-KF-RTRL; docs/algorithms.md §3.3-3.5) checks and
// allocates before the shared step (rules/factored/factored_step.h) runs, the same for both backends'
// glue (factored_cpu.cpp, factored_cuda.cu): the layout's checks (rules/factored/factored_layout.h), the
// workspace, and the views the step reads.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>

#include <cstdint>

#include "factored_layout.h"
#include "factored_step.h"
#include "kf_rtrl_step.h"
#include "rkf_rtrl_step.h"
#include "uoro_step.h"

namespace torch_local_rnn {

using FactoredLayoutFn = FactoredLayout (*)(int64_t, int64_t);

// The checked inputs and the buffers of `streams` streams: factors (sequence form only: online, they
// are the carried state) and the step's workspace, followed by G (n, m) online.
struct FactoredCall {
  FactoredLayout L;
  FactoredInputs in;
  int64_t n, I, m, jcols, streams;
  at::Tensor factors, work;

  template <typename T>
  FactoredCtx<T> ctx(const T* w_hh, const T* w_ih, const T* bias, double alpha, double alpha_m, Nonlinearity f) const {
    return {w_hh, w_ih, bias, static_cast<T>(alpha), static_cast<T>(alpha_m), f, n, I, m, L.a_size, L.b_cols,
            in.options.rho0, in.options.rho1, in.options.epsilon};
  }
  template <typename T>
  T* after_streams() const {
    return work.data_ptr<T>() + streams * factored_work_per_stream(n, m, jcols);
  }
};

// online_learn: state = [A (batch, a_size), B (batch, b_rows, b_cols)], updated in place.
template <typename Exec, template <typename, typename> class Rule>
FactoredCall factored_online_call(const OnlineCall& c, FactoredLayoutFn layout) {
  const int64_t B = c.args.B, n = c.args.n, I = c.args.I, m = n + I + 1, jcols = Rule<Exec, float>::jcols(n, m);
  const FactoredLayout L = layout(n, m);
  FactoredInputs in = check_factored_online(c, L, "online_learn");
  at::Tensor work = at::empty({B * factored_work_per_stream(n, m, jcols) + n * m}, c.x.options());
  return {L, std::move(in), n, I, m, jcols, B, at::Tensor(), std::move(work)};
}

// The rule of the online loop over the call's buffers.
template <typename Exec, template <typename, typename> class Rule, typename T>
FactoredOnline<Exec, Rule, T> factored_online_rule(const OnlineCall& c, const FactoredCall& f) {
  return {f.ctx<T>(nullptr, nullptr, nullptr, c.alpha, immediate_alpha(c.options, c.alpha), c.args.f),
          carve_factored(c.state[0].data_ptr<T>(), c.state[1].data_ptr<T>(), f.work.data_ptr<T>(), f.streams, f.n,
                         f.m, f.jcols, f.L.noise_width),
          f.in.noise.data_ptr<T>(), f.after_streams<T>(), rec_grad_ptr<T>(c)};
}

// leaky_rnn_rule_backward: buffers for `streams` streams run at once (the CPU runs one at a time).
template <typename Exec, template <typename, typename> class Rule>
FactoredCall factored_sequence_call(const SequenceArgs& a, FactoredLayoutFn layout, int64_t streams) {
  const int64_t I = a.x.size(2), n = a.weight_hh.size(0), m = n + I + 1, jcols = Rule<Exec, float>::jcols(n, m);
  const FactoredLayout L = layout(n, m);
  FactoredInputs in = check_factored_sequence(a, L, "leaky_rnn_rule_backward");
  at::Tensor factors = at::empty({streams * (L.a_size + n * L.b_cols)}, a.x.options());
  at::Tensor work = at::empty({streams * factored_work_per_stream(n, m, jcols)}, a.x.options());
  return {L, std::move(in), n, I, m, jcols, streams, std::move(factors), std::move(work)};
}

// The sequence form's context: frozen weights, no bias (the descriptor refuses the forward difference).
template <typename T>
FactoredCtx<T> factored_sequence_ctx(const SequenceArgs& a, const FactoredCall& f) {
  return f.ctx<T>(a.weight_hh.data_ptr<T>(), a.weight_ih.data_ptr<T>(), nullptr, a.alpha,
                  immediate_alpha(a.options, a.alpha), Nonlinearity::Tanh /* read by UORO's epsilon variant only */);
}

template <typename T>
FactoredSequence<T> factored_sequence(const SequenceArgs& a, const FactoredCall& f) {
  return {a.x.data_ptr<T>(),      a.h0.data_ptr<T>(),          a.output.data_ptr<T>(), a.dphi.data_ptr<T>(),
          a.grad_output.data_ptr<T>(), f.in.noise.data_ptr<T>(), a.x.size(0),            a.x.size(1)};
}

// Adds the three rules to a backend's tables: Forms<Rule, Layout>::backward (leaky_rnn_rule_backward) and
// Forms<Rule, Layout>::online (online_learn).
template <typename SequenceTable, typename OnlineTable,
          template <template <typename, typename> class, FactoredLayoutFn> class Forms>
bool register_factored_rules() {
  return SequenceTable::add("uoro", &Forms<UoroStep, uoro_layout>::backward) &&
         OnlineTable::add("uoro", &Forms<UoroStep, uoro_layout>::online) &&
         SequenceTable::add("kf_rtrl", &Forms<KfRtrlStep, kf_rtrl_layout>::backward) &&
         OnlineTable::add("kf_rtrl", &Forms<KfRtrlStep, kf_rtrl_layout>::online) &&
         SequenceTable::add("rkf_rtrl", &Forms<RkfRtrlStep, rkf_rtrl_layout>::backward) &&
         OnlineTable::add("rkf_rtrl", &Forms<RkfRtrlStep, rkf_rtrl_layout>::online);
}

}  // namespace torch_local_rnn
