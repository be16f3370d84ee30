// The one rule for when a 2-D float matrix product runs through oneDNN instead of BLAS. Both engines use it:
// native/ops.cc (the PyTorch engine's linear) and native/tfjs/matmul.cc (mm2d, the tfjs backend's MatMul), so
// the threshold and the FMNIST_BLAS_LINEAR switch are the same on both sides.
//
// Why: libtorch's BLAS on Debian is the reference libblas (~3 GFLOP/s here); oneDNN's 1x1 convolution computes the
// same product ~8x faster (CNN's Linear(1600,128): 4.7 ms -> 0.6 ms). Autograd goes through conv2d's own backward,
// so gradients stay exact to float32 rounding. Small products stay on BLAS: there the convolution's setup costs more
// than it saves.
#pragma once
#include <torch/torch.h>

#include <cstdlib>
#include <vector>

namespace fm {

// Products with M*K*N below this, or fewer than kOneDnnMinRows rows, stay on BLAS.
constexpr int64_t kOneDnnMinProduct = 1 << 16;
constexpr int64_t kOneDnnMinRows = 16;

// FMNIST_BLAS_LINEAR=1 turns the oneDNN route off everywhere (for A/B benchmarks). Read once.
inline bool oneDnnMatmulEnabled() {
  static const bool on = !std::getenv("FMNIST_BLAS_LINEAR") && at::hasMKLDNN();
  return on;
}

// Whether C[M,N] = A[M,K] B[K,N] in float32 should go through oneDNN.
inline bool useOneDnnMatmul(int64_t M, int64_t K, int64_t N) {
  return oneDnnMatmulEnabled() && M >= kOneDnnMinRows && M * K * N >= kOneDnnMinProduct;
}

// x[M,K] w[N,K]^T (+ bias[N]) as a 1x1 convolution: x as [M,K,1,1], w as [N,K,1,1]. A transposed w (tfjs's
// transposeB) is already the weight's layout; reshape copies only when w is not contiguous.
inline at::Tensor oneDnnLinear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias) {
  const int64_t M = x.size(0), K = x.size(1), N = w.size(0);
  const std::vector<int64_t> ones{1, 1}, zeros{0, 0};
  return at::conv2d(x.reshape({M, K, 1, 1}), w.reshape({N, K, 1, 1}), bias, ones, zeros, ones, 1).view({M, N});
}

// at::linear, through oneDNN when the rule says so.
inline at::Tensor fastLinear(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias) {
  if (x.dim() == 2 && w.dim() == 2 && x.scalar_type() == at::kFloat && w.size(1) == x.size(1) &&
      useOneDnnMatmul(x.size(0), x.size(1), w.size(0)))
    return oneDnnLinear(x, w, bias);
  return at::linear(x, w, bias);
}

}  // namespace fm
