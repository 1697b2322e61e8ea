// Sigmoid focal loss (Lin et al. 2017) forward and backward in one pass each (detnb.ops.sigmoid_focal_loss; the
// formulas and the derivative are worked out in nbs/05_ops.ipynb). pred (num_rows, num_classes) are logits,
// target (num_rows,) class indices where any value outside [0, num_classes) (num_classes by convention) marks
// background. With p = sigmoid(x), q = 1 - p and y = 1 for the target class, 0 for the others:
//   loss      = -alpha q^gamma log p                    (y = 1)    -(1 - alpha) p^gamma log q              (y = 0)
//   dloss/dx  =  alpha q^gamma (gamma p log p - q)      (y = 1)     (1 - alpha) p^gamma (p - gamma q log q)  (y = 0)
// weight is read at row * weight_row_stride + class * weight_col_stride, so one buffer serves a (num_rows,
// num_classes) weight, a (num_rows,) weight (strides 1, 0) and no weight (a single 1 with strides 0, 0).

#define FULL_WARP 0xffffffffu

struct FocalTerms {
  float loss, grad;
};

// p, q = 1 - p, log p and log q from one exp and one log1p, accurate for logits of either sign.
__device__ __forceinline__ FocalTerms focal_terms(float x, bool positive, float gamma, float alpha) {
  const float e = expf(-fabsf(x));
  const float p = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
  const float q = x >= 0.0f ? e / (1.0f + e) : 1.0f / (1.0f + e);
  const float softplus_tail = log1pf(e);
  FocalTerms terms;
  if (positive) {
    const float log_p = fminf(x, 0.0f) - softplus_tail;
    const float modulator = powf(q, gamma);
    terms.loss = -alpha * modulator * log_p;
    terms.grad = alpha * modulator * (gamma * p * log_p - q);
  } else {
    const float log_q = fminf(-x, 0.0f) - softplus_tail;
    const float modulator = powf(p, gamma);
    terms.loss = -(1.0f - alpha) * modulator * log_q;
    terms.grad = (1.0f - alpha) * modulator * (p - gamma * q * log_q);
  }
  return terms;
}

// The weighted loss of element `index` of the row-major (num_rows, num_classes) grid.
__device__ __forceinline__ float focal_loss_at(const float* pred, const long long* target, const float* weight,
                                               long long weight_row_stride, long long weight_col_stride,
                                               int num_classes, float gamma, float alpha, long long index) {
  const long long row = index / num_classes;
  const int cls = static_cast<int>(index % num_classes);
  const FocalTerms terms = focal_terms(pred[index], target[row] == cls, gamma, alpha);
  return terms.loss * weight[row * weight_row_stride + cls * weight_col_stride];
}

// loss (num_rows, num_classes): the weighted loss of every element. Grid-stride.
extern "C" __global__ void sigmoid_focal_loss_forward(const float* __restrict__ pred, const long long* __restrict__ target,
                                                      const float* __restrict__ weight, long long weight_row_stride,
                                                      long long weight_col_stride, long long num_rows, int num_classes,
                                                      float gamma, float alpha, float* __restrict__ loss) {
  const long long total = num_rows * num_classes;
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride)
    loss[i] = focal_loss_at(pred, target, weight, weight_row_stride, weight_col_stride, num_classes, gamma, alpha, i);
}

// block_sums (gridDim.x,): each block's sum of the weighted losses, for reduction 'sum' and 'mean' without a
// (num_rows, num_classes) buffer. Block size: a multiple of 32, at most 1024. Deterministic for a given launch
// shape: the order of the additions does not depend on timing (no atomics).
extern "C" __global__ void sigmoid_focal_loss_forward_sum(const float* __restrict__ pred,
                                                          const long long* __restrict__ target,
                                                          const float* __restrict__ weight, long long weight_row_stride,
                                                          long long weight_col_stride, long long num_rows,
                                                          int num_classes, float gamma, float alpha,
                                                          float* __restrict__ block_sums) {
  const long long total = num_rows * num_classes;
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  float sum = 0.0f;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride)
    sum += focal_loss_at(pred, target, weight, weight_row_stride, weight_col_stride, num_classes, gamma, alpha, i);

  __shared__ float warp_sums[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(FULL_WARP, sum, offset);
  if (lane == 0) warp_sums[warp] = sum;
  __syncthreads();
  if (warp == 0) {
    sum = lane < warps ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(FULL_WARP, sum, offset);
    if (lane == 0) block_sums[blockIdx.x] = sum;
  }
}

// grad_pred (num_rows, num_classes) = dloss/dpred * weight * grad_loss[i * grad_loss_stride] * grad_scale:
// grad_loss is the incoming gradient, (num_rows, num_classes) for reduction 'none' (stride 1) or one value for
// 'sum' and 'mean' (stride 0; grad_scale = 1 / count for 'mean'). Grid-stride.
extern "C" __global__ void sigmoid_focal_loss_backward(const float* __restrict__ pred, const long long* __restrict__ target,
                                                       const float* __restrict__ weight, long long weight_row_stride,
                                                       long long weight_col_stride, long long num_rows, int num_classes,
                                                       float gamma, float alpha, const float* __restrict__ grad_loss,
                                                       long long grad_loss_stride, float grad_scale,
                                                       float* __restrict__ grad_pred) {
  const long long total = num_rows * num_classes;
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const long long row = i / num_classes;
    const int cls = static_cast<int>(i % num_classes);
    const FocalTerms terms = focal_terms(pred[i], target[row] == cls, gamma, alpha);
    grad_pred[i] = terms.grad * weight[row * weight_row_stride + cls * weight_col_stride] *
                   (grad_loss[i * grad_loss_stride] * grad_scale);
  }
}
