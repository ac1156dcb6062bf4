// A scope in which the CPU's BLAS runs on the calling thread (docs/design.md §1.5).
//
// The BLAS of torch's x86-64 wheels (MKL) opens an OpenMP region per call for a product of the online steps'
// sizes, and a region per product per step is what §1.5 keeps out of the online loop: on a machine where
// another process holds a core every region waits a time slice for the descheduled thread (measured: KeRNL at
// n = 256, B = 32 went from 7 to 35 ms a step with a 2-thread BLAS on a loaded 2-core machine, and ran faster
// than the matrix-vector loops with a 1-thread one). MKL_Set_Num_Threads_Local is mkl.h's
// mkl_set_num_threads_local (the lowercase symbol is the Fortran interface, which takes a pointer); weak:
// without MKL nothing changes. The previous setting is restored when the scope ends.
#pragma once

extern "C" int MKL_Set_Num_Threads_Local(int) __attribute__((weak));

namespace torch_local_rnn {

struct SerialBlasScope {
  int previous = -1;
  SerialBlasScope() {
    if (MKL_Set_Num_Threads_Local != nullptr) previous = MKL_Set_Num_Threads_Local(1);
  }
  ~SerialBlasScope() {
    if (previous >= 0) MKL_Set_Num_Threads_Local(previous);
  }
  SerialBlasScope(const SerialBlasScope&) = delete;
  SerialBlasScope& operator=(const SerialBlasScope&) = delete;
};

}  // namespace torch_local_rnn
