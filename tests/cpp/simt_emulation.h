// A GPU grid on the CPU, for the kernel bodies written as host-device code of one thread over its primitives
// (kernels/device_thread.cuh on the GPU; here the same names): every thread of every block is a fiber (ucontext)
// with a stack of its own, and a fiber runs until it waits (a block barrier, a warp's shuffle, a cluster barrier,
// a flag), when the scheduler resumes another whose wait is over. So the very function each GPU thread runs runs
// here, its barriers, shuffles, distributed shared memory and flags included, in the order a Schedule picks:
//   LowestFirst / HighestFirst  the lowest (highest) numbered fiber that can run: one block runs ahead of the
//                               others as far as its waits let it, as a block that an SM starts first may;
//   Random                      a random one (a seed);
//   RoundRobin                  in turn, which keeps the warps of the grid roughly in step.
// A body that reads what a slower block has not written yet, or overwrites what a slower block still reads,
// computes other numbers under some order; one that waits for what never comes is reported as a deadlock instead
// of hanging. What this cannot show is the hardware's memory order: a store here is seen at once.
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace simt {

enum class Schedule { LowestFirst, HighestFirst, Random, RoundRobin };

struct GridShape {
  int blocks = 1;
  int threads = 32;         // per block, a multiple of 32
  int cluster_blocks = 1;   // consecutive blocks form a cluster (the launch's cluster dimension)
  size_t shared_bytes = 0;  // per block
};

class Grid;

// One thread's primitives (kernels/device_thread.cuh's names).
class Thread {
 public:
  int thread() const { return thread_; }
  int threads() const;
  int block() const { return block_; }
  void sync_block();
  template <typename T>
  T shfl(T v, int lane) {
    return exchange(v, lane);
  }
  template <typename T>
  T shfl_xor(T v, int mask) {
    return exchange(v, thread_ % 32 ^ mask);
  }
  template <typename T>
  T load_l2(const T* at) const {
    return *at;
  }
  template <typename T>
  T* cluster_map(T* local, int rank) const;
  void cluster_arrive();
  void cluster_wait();
  void fence() const {}
  void wait_flag(const unsigned* flag, unsigned at_least);
  void set_flag(unsigned* flag, unsigned value);

 private:
  friend class Grid;
  template <typename T>
  T exchange(T v, int partner);
  Grid* grid_ = nullptr;
  int block_ = 0, thread_ = 0, fiber_ = 0;
  uint64_t cluster_phase_ = 0;  // the cluster barrier's generation this thread arrived in
  uint64_t shuffles_ = 0;       // how many shuffles this thread took part in (picks the slot set)
};

class Grid {
 public:
  using Body = std::function<void(Thread&, unsigned char* shared)>;

  Grid(GridShape shape, Schedule schedule, unsigned seed = 0) : shape_(shape), schedule_(schedule), rng_(seed) {
    if (shape.threads % 32 != 0 || shape.blocks % shape.cluster_blocks != 0) {
      throw std::invalid_argument("simt::Grid: threads must be a multiple of 32 and blocks of the cluster size");
    }
    shared_.resize(shape.blocks);
    for (auto& memory : shared_) memory.assign(shape.shared_bytes + 16, 0);
    block_barriers_.resize(shape.blocks);
    for (Barrier& barrier : block_barriers_) barrier.expected = shape.threads;
    const int warps = shape.blocks * shape.threads / 32;
    warp_barriers_.resize(warps);
    for (Barrier& barrier : warp_barriers_) barrier.expected = 32;
    slots_.assign(static_cast<size_t>(warps) * 2 * 32, 0);
    cluster_barriers_.resize(shape.blocks / shape.cluster_blocks);
    for (Barrier& barrier : cluster_barriers_) barrier.expected = shape.cluster_blocks * shape.threads;
  }

  // Runs body on every thread; returns "" when every thread returned, else why not (a deadlock: who waits where;
  // or what a body threw).
  std::string run(Body body) {
    body_ = std::move(body);
    const int count = shape_.blocks * shape_.threads;
    fibers_.clear();
    fibers_.resize(count);
    for (int f = 0; f < count; ++f) {
      Fiber& fiber = fibers_[f];
      fiber.thread.grid_ = this;
      fiber.thread.block_ = f / shape_.threads;
      fiber.thread.thread_ = f % shape_.threads;
      fiber.thread.fiber_ = f;
      fiber.stack.reset(new char[kStackBytes]);
      getcontext(&fiber.context);
      fiber.context.uc_stack.ss_sp = fiber.stack.get();
      fiber.context.uc_stack.ss_size = kStackBytes;
      fiber.context.uc_link = &scheduler_;
      makecontext(&fiber.context, &Grid::entry, 0);
      make_ready(f);
    }
    int live = count;
    while (live > 0) {
      if (!any_ready()) return errors_ + deadlock_report();
      const int f = next_ready();
      resume(f);
      if (fibers_[f].done) --live;
    }
    return errors_;
  }

  unsigned char* shared(int block) { return aligned(shared_[block]); }

 private:
  friend class Thread;
  static constexpr size_t kStackBytes = 64 * 1024;

  struct Barrier {
    int expected = 0, count = 0;
    uint64_t generation = 0;
    std::vector<int> waiters;
  };
  struct Fiber {
    ucontext_t context;
    std::unique_ptr<char[]> stack;
    Thread thread;
    const char* waits_at = nullptr;  // while blocked
    bool done = false;
  };

  static unsigned char* aligned(std::vector<unsigned char>& memory) {
    const auto at = reinterpret_cast<uintptr_t>(memory.data());
    return memory.data() + ((16 - at % 16) % 16);
  }

  static Grid*& current() {
    static thread_local Grid* grid = nullptr;
    return grid;
  }

  static void entry() {
    Grid* const grid = current();
    Fiber& fiber = grid->fibers_[grid->running_];
    try {
      grid->body_(fiber.thread, grid->shared(fiber.thread.block_));
    } catch (const std::exception& error) {
      grid->errors_ += "block " + std::to_string(fiber.thread.block_) + " thread " +
                       std::to_string(fiber.thread.thread_) + " threw: " + error.what() + "\n";
    }
    fiber.done = true;  // uc_link returns to the scheduler
  }

  void make_ready(int f) {
    fibers_[f].waits_at = nullptr;
    if (schedule_ == Schedule::RoundRobin) {
      queue_.push_back(f);
    } else if (schedule_ == Schedule::Random) {
      pool_.push_back(f);
    } else {
      ready_.insert(f);
    }
  }

  bool any_ready() const { return !queue_.empty() || !pool_.empty() || !ready_.empty(); }

  int next_ready() {
    int f = 0;
    if (schedule_ == Schedule::RoundRobin) {
      f = queue_.front();
      queue_.pop_front();
    } else if (schedule_ == Schedule::Random) {
      const size_t at = std::uniform_int_distribution<size_t>(0, pool_.size() - 1)(rng_);
      f = pool_[at];
      pool_[at] = pool_.back();
      pool_.pop_back();
    } else {
      f = schedule_ == Schedule::LowestFirst ? *ready_.begin() : *ready_.rbegin();
      ready_.erase(f);
    }
    return f;
  }

  void resume(int f) {
    Grid*& slot = current();
    Grid* const outer = slot;
    slot = this;
    running_ = f;
    swapcontext(&scheduler_, &fibers_[f].context);
    slot = outer;
  }

  // From the running fiber: blocks it until someone makes it ready.
  void block(const char* where) {
    Fiber& fiber = fibers_[running_];
    fiber.waits_at = where;
    swapcontext(&fiber.context, &scheduler_);
  }

  // The last arrival releases the others and goes on; `wait` false: arrive only (the caller waits later).
  void arrive(Barrier& barrier, int fiber, bool wait, const char* where) {
    if (++barrier.count == barrier.expected) {
      barrier.count = 0;
      ++barrier.generation;
      for (const int waiter : barrier.waiters) make_ready(waiter);
      barrier.waiters.clear();
      return;
    }
    if (!wait) return;
    barrier.waiters.push_back(fiber);
    block(where);
  }

  std::string deadlock_report() const {
    std::string report = "deadlock: no thread can go on;";
    int shown = 0;
    for (const Fiber& fiber : fibers_) {
      if (fiber.done || shown == 8) continue;
      report += " block " + std::to_string(fiber.thread.block_) + " thread " + std::to_string(fiber.thread.thread_) +
                " waits at " + (fiber.waits_at != nullptr ? fiber.waits_at : "?") + ";";
      ++shown;
    }
    return report;
  }

  GridShape shape_;
  Schedule schedule_;
  std::mt19937 rng_;
  Body body_;
  std::vector<std::vector<unsigned char>> shared_;
  std::vector<Barrier> block_barriers_, warp_barriers_, cluster_barriers_;
  std::vector<uint64_t> slots_;  // per warp two sets of 32 lanes' shuffled values
  std::map<const unsigned*, std::vector<std::pair<int, unsigned>>> flag_waiters_;  // fiber, the value it waits for
  std::vector<Fiber> fibers_;
  std::set<int> ready_;     // LowestFirst, HighestFirst
  std::vector<int> pool_;   // Random
  std::deque<int> queue_;   // RoundRobin
  ucontext_t scheduler_{};
  int running_ = 0;
  std::string errors_;
};

inline int Thread::threads() const { return grid_->shape_.threads; }

inline void Thread::sync_block() { grid_->arrive(grid_->block_barriers_[block_], fiber_, true, "a block barrier"); }

// A shuffle: each lane posts v, the warp's barrier, each reads its partner's. The slot sets alternate, so the next
// shuffle's posts cannot overwrite a value before every lane has read it (a lane posts again only after the barrier
// that every lane reaches after its read).
template <typename T>
T Thread::exchange(T v, int partner) {
  static_assert(sizeof(T) <= sizeof(uint64_t), "a shuffled value is at most 8 bytes");
  const int warp = (block_ * grid_->shape_.threads + thread_) / 32, lane = thread_ % 32;
  uint64_t* const set = grid_->slots_.data() + (static_cast<size_t>(warp) * 2 + shuffles_ % 2) * 32;
  ++shuffles_;
  std::memcpy(&set[lane], &v, sizeof(T));
  grid_->arrive(grid_->warp_barriers_[warp], fiber_, true, "a shuffle");
  T value;
  std::memcpy(&value, &set[partner], sizeof(T));
  return value;
}

template <typename T>
T* Thread::cluster_map(T* local, int rank) const {
  const GridShape& shape = grid_->shape_;
  if (rank < 0 || rank >= shape.cluster_blocks) {
    throw std::out_of_range("cluster_map: rank " + std::to_string(rank) + " in a cluster of " +
                            std::to_string(shape.cluster_blocks) + " blocks");
  }
  unsigned char* const own = grid_->shared(block_);
  const auto offset = reinterpret_cast<unsigned char*>(local) - own;
  if (offset < 0 || static_cast<size_t>(offset) + sizeof(T) > shape.shared_bytes) {
    throw std::out_of_range("cluster_map: an address outside the block's shared memory");
  }
  const int peer = block_ / shape.cluster_blocks * shape.cluster_blocks + rank;
  return reinterpret_cast<T*>(grid_->shared(peer) + offset);
}

inline void Thread::cluster_arrive() {
  if (grid_->shape_.cluster_blocks < 2) throw std::logic_error("cluster_arrive in a launch without clusters");
  Grid::Barrier& barrier = grid_->cluster_barriers_[block_ / grid_->shape_.cluster_blocks];
  cluster_phase_ = barrier.generation;
  grid_->arrive(barrier, fiber_, false, "a cluster barrier");
}

inline void Thread::cluster_wait() {
  Grid::Barrier& barrier = grid_->cluster_barriers_[block_ / grid_->shape_.cluster_blocks];
  if (barrier.generation != cluster_phase_) return;
  barrier.waiters.push_back(fiber_);
  grid_->block("a cluster barrier");
}

inline void Thread::wait_flag(const unsigned* flag, unsigned at_least) {
  if (*flag >= at_least) return;
  grid_->flag_waiters_[flag].emplace_back(fiber_, at_least);
  grid_->block("a flag");
}

inline void Thread::set_flag(unsigned* flag, unsigned value) {
  *flag = value;
  const auto waiting = grid_->flag_waiters_.find(flag);
  if (waiting == grid_->flag_waiters_.end()) return;
  auto& list = waiting->second;
  for (auto at = list.begin(); at != list.end();) {
    if (at->second <= value) {
      grid_->make_ready(at->first);
      at = list.erase(at);
    } else {
      ++at;
    }
  }
}

}  // namespace simt
