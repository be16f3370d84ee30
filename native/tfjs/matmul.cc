// Matrix products: BatchMatMul and _FusedMatMul (Dense layers and their gradients).
#include "../linear.h"
#include "kargs.h"

namespace fm {
namespace tfjs {
namespace {

// C[M,N] = A[M,K] B[K,N] (+ bias[N]). Large products take the oneDNN route of native/linear.h, the same rule as the
// PyTorch engine's Linear (B^T is the 1x1 convolution's weight; a transposed B is already in that layout).
// `direct`: the product is the whole result, so at::mm may write it straight into the output.
Tensor mm2d(const KArgs& k, const Tensor& A, const Tensor& B, const c10::optional<Tensor>& bias, bool direct) {
  int64_t M = A.size(0), K = A.size(1), N = B.size(1);
  if (useOneDnnMatmul(M, K, N)) return oneDnnLinear(A, B.t(), bias);
  if (!direct) return bias ? at::addmm(*bias, A, B) : at::mm(A, B);
  Tensor o = k.out({M, N});
  return bias ? at::addmm_out(o, *bias, A, B) : at::mm_out(o, A, B);
}

// {a, aShape, b, bShape, transposeA, transposeB} and for _FusedMatMul {bias?, biasShape?, activation?,
// leakyreluAlpha?}
Tensor matmul(const KArgs& k, bool fused) {
  Tensor A = k.in("a", "aShape"), B = k.in("b", "bShape");
  TORCH_CHECK(A.dim() >= 2 && B.dim() >= 2, "matMul needs rank >= 2 inputs");
  if (k.b("transposeA")) A = A.transpose(-1, -2);
  if (k.b("transposeB")) B = B.transpose(-1, -2);
  TORCH_CHECK(A.size(-1) == B.size(-2), "matMul: inner dimensions differ (", A.size(-1), " vs ", B.size(-2), ")");
  c10::optional<Tensor> bias;
  if (fused && k.has("bias")) bias = k.in("bias", "biasShape");
  std::string act = fused ? k.s("activation", "linear") : "linear";
  double alpha = fused ? k.d("leakyreluAlpha", 0.2) : 0.2;

  Tensor y;
  auto batchOf = [](const Tensor& t) {
    int64_t b = 1;
    for (int64_t d = 0; d < t.dim() - 2; d++) b *= t.size(d);
    return b;
  };
  if (batchOf(A) == 1 && batchOf(B) == 1) {
    Tensor A2 = A.reshape({A.size(-2), A.size(-1)}), B2 = B.reshape({B.size(-2), B.size(-1)});
    int64_t N = B2.size(1);
    bool vectorBias = bias && bias->numel() == N && bias->dim() >= 1 && bias->size(-1) == N;
    y = mm2d(k, A2, B2, vectorBias ? c10::optional<Tensor>(bias->reshape({N})) : c10::nullopt, !bias || vectorBias);
    if (bias && !vectorBias) y = y + *bias;
  } else {
    y = at::matmul(A, B);
    if (bias) y = y + *bias;
  }
  return activate(y, act, alpha);
}

}  // namespace

void addMatmulKernels(KernelTable& t) {
  t.push_back({"BatchMatMul", 1, [](const KArgs& k) { return matmul(k, false); }});
  t.push_back({"_FusedMatMul", 1, [](const KArgs& k) { return matmul(k, true); }});
}

}  // namespace tfjs
}  // namespace fm
