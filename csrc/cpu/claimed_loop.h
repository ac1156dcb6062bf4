// The online step's parallel loop on the CPU (docs/design.md §1.5): chunks claimed from one atomic ticket by the
// calling thread and by helper tasks on ATen's inter-op pool, and the call returns when every chunk is DONE, not
// when every thread has ARRIVED. An OpenMP region ends at a barrier that waits for every thread of the team, and
// on a busy machine (a competing process on one of the cores) a thread the OS has not scheduled holds the whole
// step for a time slice, every step: 2-thread online runs were 4-10x slower than 1-thread runs under load. Here a
// helper that starts late finds nothing left to claim and returns at once; the caller only ever waits for a chunk
// a helper has claimed and is running. Which thread runs a chunk does not change its arithmetic, so results are
// bitwise those of a serial run. Nothing is allocated per call but the pool's queue entry of each helper task
// (a loop runs only for phases of >= kWorkGrain multiply-adds, tens of microseconds).
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>

namespace torch_local_rnn {

class ClaimedLoop {
 public:
  // body(lo, hi) over [begin, end) in chunks of at least `grain`; serial when there is one chunk, one thread, or
  // when called inside a parallel region (a nested loop runs inline, as at::parallel_for's does). body must not
  // call run() itself: the calling thread's block holds this loop until it returns (the online step's phases
  // are flat, common/online_step.h).
  template <typename Body>
  static void run(int64_t begin, int64_t end, int64_t grain, const Body& body) {
    const int64_t count = end - begin;
    const int threads = at::get_num_threads();
    if (count <= 0) return;
    if (threads <= 1 || count <= grain || at::in_parallel_region()) {
      body(begin, end);
      return;
    }
    // a few chunks per thread, so the caller can take a late helper's share
    const int64_t chunks = std::min<int64_t>({(count + grain - 1) / grain, int64_t(4) * threads, kMaxChunks});
    Block& block = this_threads_block();
    block.begin = begin;
    block.end = end;
    block.chunk = (count + chunks - 1) / chunks;
    block.context = &body;
    block.call = [](const void* context, int64_t lo, int64_t hi) { (*static_cast<const Body*>(context))(lo, hi); };
    block.done.store(0, std::memory_order_relaxed);
    const uint64_t generation = (block.generation + 1) & kGenerationMask;
    block.generation = generation;
    block.ticket.store(pack(generation, chunks, 0), std::memory_order_release);
    Block* const shared = &block;
    for (int h = 1; h < threads; ++h) at::launch([shared, generation] { shared->claim(generation); });
    block.claim(generation);
    while (block.done.load(std::memory_order_acquire) < chunks) std::this_thread::yield();  // a claimed chunk runs
  }

 private:
  // ticket = generation (24 bits) | chunks (20) | next chunk (20): one atomic snapshot, so a helper of an older
  // loop can never claim a chunk of a newer one with the old loop's sizes.
  static constexpr int kBits = 20;
  static constexpr uint64_t kField = (uint64_t(1) << kBits) - 1;
  static constexpr uint64_t kGenerationMask = (uint64_t(1) << 24) - 1;
  static constexpr int64_t kMaxChunks = int64_t(kField);

  static uint64_t pack(uint64_t generation, int64_t chunks, int64_t next) {
    return (generation << (2 * kBits)) | (uint64_t(chunks) << kBits) | uint64_t(next);
  }

  struct Block {
    std::atomic<uint64_t> ticket{0};
    std::atomic<int64_t> done{0};
    uint64_t generation = 0;  // the caller's own count
    // the current loop's: written before the ticket is published, read by a claimer after its claim succeeded
    int64_t begin = 0, end = 0, chunk = 1;
    const void* context = nullptr;
    void (*call)(const void*, int64_t, int64_t) = nullptr;

    void claim(uint64_t generation) {
      uint64_t t = ticket.load(std::memory_order_acquire);
      for (;;) {
        const uint64_t gen = t >> (2 * kBits);
        const int64_t chunks = int64_t((t >> kBits) & kField), next = int64_t(t & kField);
        if (gen != generation || next >= chunks) return;  // another loop's, or nothing left
        if (!ticket.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        // claimed chunk `next` of this loop: its caller waits for it, so the loop's fields stay valid meanwhile
        const int64_t lo = begin + next * chunk, hi = std::min(end, lo + chunk);
        if (lo < hi) call(context, lo, hi);
        done.fetch_add(1, std::memory_order_acq_rel);
        t = ticket.load(std::memory_order_acquire);
      }
    }
  };

  static Block& this_threads_block() {
    // never freed: a helper task still queued when its caller's thread exits may read the ticket after that
    static thread_local Block* const block = new Block();
    return *block;
  }
};

}  // namespace torch_local_rnn
