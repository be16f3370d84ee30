// Kernels for the tfjs backend (see src/tfjs-backend). Filled in by the Keras issue.
#include "common.h"

namespace fm {
void InitTfjsKernels(Napi::Env env, Napi::Object exports) {}
}  // namespace fm
