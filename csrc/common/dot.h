// Inner products of the kernels, host and device. One running sum makes every add wait on the previous
// one (4 cycles each) and, without -ffast-math, stops the compiler from vectorising; eight
// independent partial sums let it do both (and give a GPU thread independent instructions to issue).
// At n = 256 the shared forward step ran 1.4 ms per online step for B = 32 streams on the CPU with a
// single running sum.
#pragma once

#include <cstdint>

#include "activation.h"

namespace torch_local_rnn {

// The total of eight partial sums and a tail, in the one order every eight-way sum here keeps (dot(),
// dot_rotated(), the CPU policy's Exec::sums), so that a sum's bits depend only on its partial sums.
template <typename T>
TLR_HOST_DEVICE T eight_sums_total(const T (&s)[8], T tail) {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

// The index type is the caller's (the execution policy's Index, common/online_step.h): int32_t in the GPU's
// one-block kernels, whose 64-bit address arithmetic was most of a term's instructions.

// sum_k a[k] b[k].
template <typename T, typename Index>
TLR_HOST_DEVICE T dot(const T* a, const T* b, Index count) {
  T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  Index k = 0;
  for (; k + 8 <= count; k += 8) {
    for (int u = 0; u < 8; ++u) s[u] += a[k + u] * b[k + u];
  }
  T tail = 0;
  for (; k < count; ++k) tail += a[k] * b[k];
  return eight_sums_total(s, tail);
}

// dot()'s sum (eight partial sums over the whole blocks of eight, then the tail in order) with the terms of each
// block and the order of the blocks permuted by `row`: with blocks = count / 8, the blocks are visited from block
// (row / 8) mod blocks on, cyclically, and partial sum u takes column (u + row) mod 8 of each block. (row = 0 is
// dot() bit for bit.) The GPU sums unit i's weight row this way (preactivation<true>, row = i): the 32 threads of
// a warp, one row each, then read 32 different shared-memory banks of a row-major matrix of 32 columns at every
// load (4 blocks x 8 columns), where reading all rows from column 0 put every load of the warp in one bank: a
// 32-way conflict, each of the forward's 34 loads split into 32 serial accesses at the papers' size, on a pipe
// the SM's member blocks share (docs/design.md §3.7). A term costs ~14 instructions in the SASS (each operand's
// address formed in 64 bits), dot()'s ~4: a few hundred issue slots of one warp a step, for ~1,100 accesses
// of the SM's shared pipe saved.
template <typename T, typename Index>
TLR_HOST_DEVICE T dot_rotated(const T* a, const T* b, Index count, Index row) {
  const Index blocks = count / 8;
  T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (blocks > 0) {
    const Index shift = row % 8;
    Index c = (row / 8) % blocks;
    for (Index step = 0; step < blocks; ++step) {
      for (int u = 0; u < 8; ++u) {
        const Index k = 8 * c + ((u + shift) & 7);
        s[u] += a[k] * b[k];
      }
      c = c + 1 == blocks ? 0 : c + 1;
    }
  }
  T tail = 0;
  for (Index k = 8 * blocks; k < count; ++k) tail += a[k] * b[k];
  return eight_sums_total(s, tail);
}

// h_i = b_i + W_hh[i, :] v + W_ih[i, :] x: unit i's pre-activation for the state v and input x
// (the forward step, and the rules that run a copy of it: KeRNL's perturbed network, UORO's
// forward difference, DNI(b)'s recorded basal potential). RotatedRows (the execution policy's
// kRotatedRows, common/online_step.h): row i's sums in dot_rotated's order for row i; every caller under one
// policy passes the same, so a rule's copy of the forward rounds as the forward does (UORO's difference
// quotient divides their difference by epsilon).
template <bool RotatedRows = false, typename T, typename Index>
TLR_HOST_DEVICE T preactivation(const T* weight_hh, const T* weight_ih, const T* bias, Index n, Index I, Index i,
                                const T* v, const T* x) {
  if constexpr (RotatedRows) {
    return bias[i] + dot_rotated(weight_hh + i * n, v, n, i) + dot_rotated(weight_ih + i * I, x, I, i);
  } else {
    return bias[i] + dot(weight_hh + i * n, v, n) + dot(weight_ih + i * I, x, I);
  }
}

}  // namespace torch_local_rnn
