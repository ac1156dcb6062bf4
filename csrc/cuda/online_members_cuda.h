// online_learn_members on the GPU in one launch (docs/design.md §3.7, docs/algorithms.md §2.10). The op runs
// each member's online_learn as it would alone (common/online_learn_members_impl.h: the same checks, the same
// glue, the same views); BatchedMembers, its member loop here, only opens an OnlineMemberBatch around them.
// While a batch is open on the thread, run_online_call (cuda/online_cuda.h) does not launch a member's
// one-block kernel: it appends the member's kernel params and keeps the member's buffers alive; the batch then
// copies the members' params to the device and launches one kernel with a block per member for each kind of
// member (kernels/online_members.cuh; one kind unless members differ in an option or size). A member's block
// runs the solo kernel's body on the member's params, so its result is bitwise its solo run.
//
// What may be deferred is explicit: run_online_call takes, through rule_buffers(...), every object the glue
// made that the rule's pointers reach, and a glue does nothing after run_online_call; a member on the grid
// path (large networks, which fill the GPU alone) launches at once. The members are independent (disjoint
// outputs, read-only shared inputs), so their launch order does not matter. A member whose checks fail inside
// its glue (e.g. a rule's counter) stops the op before the batch launches: then no deferred member has run.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "../common/gpu_paths.h"
#include "../kernels/online_members.cuh"

namespace torch_local_rnn {

class OnlineMemberBatch {
 public:
  OnlineMemberBatch() : outer_(slot()) { slot() = this; }
  ~OnlineMemberBatch() { slot() = outer_; }  // members never launched (an error before flush) are dropped
  OnlineMemberBatch(const OnlineMemberBatch&) = delete;
  OnlineMemberBatch& operator=(const OnlineMemberBatch&) = delete;

  // The batch open on this thread, or null.
  static OnlineMemberBatch* current() { return slot(); }

  // Appends a member: its params (prepared by kernels::prepare_online_block, which returned shared_bytes) for the
  // kernel of policy Exec, the stream its kernel must run on, and `held`, what must outlive the launch. Members
  // of one kernel, shared-memory size and stream form a group, one launch at the flush: an ensemble whose
  // members differ in an option (l2 = 0 for some: the build without the options' paths, cuda/online_cuda.h)
  // makes one launch per kind of member, not one per member.
  template <typename Exec, typename T, typename Rule>
  void add(const kernels::OnlineRuleParams<T, Rule>& p, size_t shared_bytes, const c10::cuda::CUDAStream& stream,
           std::shared_ptr<const void> held) {
    using Params = kernels::OnlineRuleParams<T, Rule>;
    static_assert(std::is_trivially_copyable<Params>::value, "the member params are copied to the device as bytes");
    const Launch launch = &launch_members<Exec, T, Rule>;
    Group* group = nullptr;
    for (Group& g : groups_) {
      if (g.launch == launch && g.shared_bytes == shared_bytes && g.stream == stream) group = &g;
    }
    if (group == nullptr) group = &groups_.emplace_back(Group{launch, shared_bytes, stream, {}, 0});
    const auto* bytes = reinterpret_cast<const unsigned char*>(&p);
    group->params.insert(group->params.end(), bytes, bytes + sizeof(Params));
    ++group->members;
    held_.push_back(std::move(held));
  }

  // Launches the pending groups, if any: each group's params copied to the device (one copy from pageable host
  // memory, consumed before cudaMemcpyAsync returns), then one kernel on its stream. The buffers held for them
  // are released after the launches are queued, so the caching allocator reuses them only after them.
  void flush() {
    std::vector<Group> groups = std::move(groups_);
    groups_.clear();
    if (groups.empty()) {  // every member ran at once (the grid path) or none was added
      held_.clear();
      return;
    }
    const MembersChoice choice = members_choice();  // TLR_CUDA_MEMBERS, read per call (an error if bad)
    kernels::MembersLaunch forced;
    forced.capped = choice.capped;
    forced.threads = choice.threads;
    for (const Group& g : groups) {
      const c10::cuda::CUDAStreamGuard guard(g.stream);  // the params' allocation is then ordered on that stream
      const at::Tensor device_params = at::empty({static_cast<int64_t>(g.params.size())},
                                                 at::TensorOptions().dtype(at::kByte).device(g.stream.device()));
      C10_CUDA_CHECK(cudaMemcpyAsync(device_params.data_ptr(), g.params.data(), g.params.size(),
                                     cudaMemcpyHostToDevice, g.stream.stream()));
      C10_CUDA_CHECK(g.launch(device_params.data_ptr(), g.members, g.shared_bytes, g.stream.stream(),
                              choice.automatic ? nullptr : &forced));
    }
    held_.clear();
  }

 private:
  using Launch = cudaError_t (*)(const void*, int64_t, size_t, cudaStream_t, const kernels::MembersLaunch*);

  struct Group {
    Launch launch;
    size_t shared_bytes;
    c10::cuda::CUDAStream stream;
    std::vector<unsigned char> params;
    int64_t members;
  };

  template <typename Exec, typename T, typename Rule>
  static cudaError_t launch_members(const void* params, int64_t members, size_t shared_bytes, cudaStream_t stream,
                                    const kernels::MembersLaunch* forced) {
    return kernels::launch_online_members<Exec>(static_cast<const kernels::OnlineRuleParams<T, Rule>*>(params),
                                                members, shared_bytes, stream, forced);
  }

  static OnlineMemberBatch*& slot() {
    static thread_local OnlineMemberBatch* open = nullptr;
    return open;
  }

  OnlineMemberBatch* outer_;
  std::vector<Group> groups_;
  std::vector<std::shared_ptr<const void>> held_;
};

// online_learn_members' member loop on the GPU (common/online_learn_members_impl.h's MemberLoop): every member
// run inside one batch, launched together at the end.
struct BatchedMembers {
  template <typename F>
  static void run(int64_t E, const F& f) {
    OnlineMemberBatch batch;
    for (int64_t e = 0; e < E; ++e) f(e);
    batch.flush();
  }
};

}  // namespace torch_local_rnn
