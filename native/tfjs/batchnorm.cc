// BatchNorm in training mode, forward and backward, each one kernel: what tfjs-layers' BatchNormalization otherwise
// composes from ~15 kernels forward (tf.moments, tf.batchNorm) and ~40 backward (their gradients), for every layer
// of every step. Neither is a tfjs kernel: src/tfjs-backend/batch_norm_layer.ts runs the first, and the gradient
// registered for it (src/tfjs-backend/kernels/BatchNormTraining.ts) the second.
// The channels are x's last axis (tfjs is NHWC); every other axis is reduced.
#include <algorithm>
#include <cmath>

#include "kargs.h"

namespace fm {
namespace tfjs {
namespace {

// x as [rows, C] (a view: x is contiguous), checking that `param` holds one value per channel.
Tensor rows(const KArgs& k, const Tensor& x, int64_t c) {
  TORCH_CHECK(x.scalar_type() == at::kFloat, k.kernel, ": float32 only");
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) == c && c > 0, k.kernel, ": x ", x.sizes(), " must have ", c,
              " channels on its last axis");
  return x.view({-1, c});
}

Tensor channels(const KArgs& k, const char* name, int64_t c) {
  Tensor p = k.flat(name);
  TORCH_CHECK(p.scalar_type() == at::kFloat, k.kernel, ": attrs.", name, " must be a Float32Array");
  TORCH_CHECK(p.numel() == c, k.kernel, ": attrs.", name, " has ", p.numel(), " values for ", c, " channels");
  return p;
}

// Column sums over rows [r0, r1) of x [*, c], of x itself (mean == nullptr) or of (x - mean)^2, added to acc in double.
__attribute__((optimize("O3"))) void sumRows(const float* __restrict px, int64_t r0, int64_t r1, int64_t c,
                                             const double* __restrict mean, double* __restrict acc) {
  px += r0 * c;
  if (!mean) {
    for (int64_t r = r0; r < r1; r++, px += c)
      for (int64_t j = 0; j < c; j++) acc[j] += px[j];
  } else {
    for (int64_t r = r0; r < r1; r++, px += c)
      for (int64_t j = 0; j < c; j++) {
        double d = px[j] - mean[j];
        acc[j] += d * d;
      }
  }
}

// Per-channel mean and biased variance of x [n, c], in two passes (the variance about the mean, not E[x^2] - mean^2,
// which cancels), each split into one block of rows per thread with its own double accumulators. at::var_mean over
// dim 0 made the whole forward 6 ms a call on cnn-bn's first BatchNorm ([64, 26, 26, 32]); this way it is about 1 ms.
std::vector<double> channelStats(const float* px, int64_t n, int64_t c, std::vector<double>& var) {
  int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n * c / (1 << 15)));
  std::vector<double> acc(blocks * c);
  auto pass = [&](const double* mean, std::vector<double>& out) {
    std::fill(acc.begin(), acc.end(), 0.0);
    at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; b++) sumRows(px, n * b / blocks, n * (b + 1) / blocks, c, mean, &acc[b * c]);
    });
    out.assign(c, 0.0);
    for (int64_t b = 0; b < blocks; b++)
      for (int64_t j = 0; j < c; j++) out[j] += acc[b * c + j];
    for (double& v : out) v /= static_cast<double>(n);
  };
  std::vector<double> mean;
  pass(nullptr, mean);
  pass(mean.data(), var);
  return mean;
}

// BatchNormTraining: {x, xShape, scale, offset, varianceEpsilon, meanOut, varianceOut}. Writes the normalized x into
// the output, and the batch mean and (biased, as tf.moments) variance per channel into meanOut and varianceOut.
Tensor forward(const KArgs& k) {
  Tensor x = k.in("x", "xShape");
  int64_t c = x.dim() ? x.size(-1) : 0;
  Tensor x2 = rows(k, x, c);
  Tensor scale = channels(k, "scale", c), offset = channels(k, "offset", c);
  Tensor meanOut = channels(k, "meanOut", c), varianceOut = channels(k, "varianceOut", c);
  Tensor o = k.out(x.sizes());
  int64_t n = x2.size(0);
  TORCH_CHECK(n > 0, k.kernel, ": x ", x.sizes(), " has no values to normalize over");
  const float* px = x2.data_ptr<float>();
  std::vector<double> var;
  std::vector<double> mean = channelStats(px, n, c, var);
  // a = scale / sqrt(var + eps) in double, as FusedBatchNorm: tfjs computes the whole expression in double.
  std::vector<float> m(c), a(c);
  const float* ps = scale.data_ptr<float>();
  float *pmo = meanOut.data_ptr<float>(), *pvo = varianceOut.data_ptr<float>();
  for (int64_t j = 0; j < c; j++) {
    m[j] = pmo[j] = static_cast<float>(mean[j]);
    pvo[j] = static_cast<float>(var[j]);
    a[j] = static_cast<float>(ps[j] / std::sqrt(var[j] + k.d("varianceEpsilon")));
  }
  const float* pb = offset.data_ptr<float>();
  float* po = o.data_ptr<float>();
  at::parallel_for(0, n, std::max<int64_t>(1, (1 << 16) / c), [&](int64_t b, int64_t e) {
    batchNormRows(px + b * c, po + b * c, e - b, c, m.data(), a.data(), pb);  // FusedBatchNorm's, same rounding
  });
  return o;
}

// Column sums over rows [r0, r1) of dy and of dy * (x - mean), added to sdy and sdyx in double.
__attribute__((optimize("O3"))) void gradSums(const float* __restrict pdy, const float* __restrict px, int64_t r0,
                                              int64_t r1, int64_t c, const float* __restrict mean,
                                              double* __restrict sdy, double* __restrict sdyx) {
  pdy += r0 * c;
  px += r0 * c;
  for (int64_t r = r0; r < r1; r++, pdy += c, px += c)
    for (int64_t j = 0; j < c; j++) {
      sdy[j] += pdy[j];
      sdyx[j] += pdy[j] * (px[j] - mean[j]);
    }
}

// dx = k * (dy - p - (x - mean) * q), row by row.
__attribute__((optimize("O3"))) void gradRows(const float* __restrict pdy, const float* __restrict px,
                                              float* __restrict po, int64_t rows, int64_t c,
                                              const float* __restrict mean, const float* __restrict k,
                                              const float* __restrict p, const float* __restrict q) {
  for (int64_t r = 0; r < rows; r++, pdy += c, px += c, po += c)
    for (int64_t j = 0; j < c; j++) po[j] = k[j] * (pdy[j] - p[j] - (px[j] - mean[j]) * q[j]);
}

// BatchNormTrainingGrad: {dy, x, xShape, mean, variance, scale, varianceEpsilon, dScaleOut, dOffsetOut}: the gradient
// of BatchNormTraining's output with the batch statistics as functions of x (what the composed ops' tape gives).
// Writes dx into the output, and the scale's and offset's gradients into dScaleOut and dOffsetOut. With
// s = 1 / sqrt(variance + eps) and x̂ = (x - mean) * s: dOffset = Σ dy, dScale = Σ dy x̂, and
// dx = scale * s * (dy - dOffset / n - x̂ * dScale / n). Two passes, as the forward's statistics. (libtorch's
// native_batch_norm_backward on x seen as NCHW [n, C, 1, 1] gave the same values, no faster, on cnn-bn's shapes.)
Tensor backward(const KArgs& k) {
  Tensor x = k.in("x", "xShape");
  int64_t c = x.dim() ? x.size(-1) : 0;
  Tensor x2 = rows(k, x, c);
  Tensor dy = k.flat("dy");
  TORCH_CHECK(dy.scalar_type() == at::kFloat && dy.numel() == x.numel(), k.kernel, ": attrs.dy has ", dy.numel(),
              " values for x ", x.sizes());
  Tensor mean = channels(k, "mean", c), var = channels(k, "variance", c), scale = channels(k, "scale", c);
  Tensor dScale = channels(k, "dScaleOut", c), dOffset = channels(k, "dOffsetOut", c);
  Tensor o = k.out(x.sizes());
  int64_t n = x2.size(0);
  if (n == 0) return o;
  const float *px = x2.data_ptr<float>(), *pdy = dy.data_ptr<float>(), *pm = mean.data_ptr<float>();
  int64_t blocks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), n * c / (1 << 15)));
  std::vector<double> acc(2 * blocks * c, 0.0);
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++)
      gradSums(pdy, px, n * b / blocks, n * (b + 1) / blocks, c, pm, &acc[2 * b * c], &acc[(2 * b + 1) * c]);
  });
  const float *pv = var.data_ptr<float>(), *pg = scale.data_ptr<float>();
  float *pds = dScale.data_ptr<float>(), *pdo = dOffset.data_ptr<float>();
  std::vector<float> kk(c), p(c), q(c);
  const double eps = k.d("varianceEpsilon");
  for (int64_t j = 0; j < c; j++) {
    double sdy = 0, sdyx = 0;
    for (int64_t b = 0; b < blocks; b++) {
      sdy += acc[2 * b * c + j];
      sdyx += acc[(2 * b + 1) * c + j];
    }
    double s = 1.0 / std::sqrt(pv[j] + eps);
    pdo[j] = static_cast<float>(sdy);
    pds[j] = static_cast<float>(sdyx * s);
    kk[j] = static_cast<float>(pg[j] * s);
    p[j] = static_cast<float>(sdy / n);
    q[j] = static_cast<float>(sdyx * s * s / n);
  }
  float* po = o.data_ptr<float>();
  at::parallel_for(0, n, std::max<int64_t>(1, (1 << 16) / c), [&](int64_t b, int64_t e) {
    gradRows(pdy + b * c, px + b * c, po + b * c, e - b, c, pm, kk.data(), p.data(), q.data());
  });
  return o;
}

}  // namespace

void addBatchNormKernels(KernelTable& t) {
  t.push_back({"BatchNormTraining", 1, forward});
  t.push_back({"BatchNormTrainingGrad", 1, backward});
}

}  // namespace tfjs
}  // namespace fm
