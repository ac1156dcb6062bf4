// cuda_version(): lets Python check at import that the library and torch agree on CUDA.
#include <cstdint>

#ifdef WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace torch_local_rnn {

int64_t cuda_version_impl() {
#ifdef WITH_CUDA
  return CUDART_VERSION;
#else
  return -1;
#endif
}

}  // namespace torch_local_rnn
