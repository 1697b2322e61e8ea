// Soft-NMS (Bodla et al. 2017; detnb.ops.soft_nms, whose torch reference in nbs/05_ops.ipynb defines the result).
// Instead of deleting the boxes that overlap a selected box, soft-NMS lowers their scores:
//   linear:   s_j <- s_j * (1 - IoU)         where IoU > iou_threshold
//   gaussian: s_j <- s_j * exp(-IoU^2 / sigma)
// and repeats with the highest remaining score until no score reaches min_score. The selection is sequential,
// so one block does it all: each step is a block-wide argmax (warp shuffles, then one warp over the warps'
// winners) followed by the decay of every remaining score, each thread owning the boxes j with
// j % blockDim.x == threadIdx.x. Ties go to the lower index, as torch.argmax does.

#define SOFT_NMS_LINEAR 0
#define SOFT_NMS_GAUSSIAN 1
#define FULL_WARP 0xffffffffu

// IoU with detnb.boxes.bbox_overlaps' arithmetic (union clamped below by eps = 1e-6).
__device__ __forceinline__ float soft_nms_iou(const float* a, const float* b) {
  const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  const float width = fmaxf(fminf(a[2], b[2]) - fmaxf(a[0], b[0]), 0.0f);
  const float height = fmaxf(fminf(a[3], b[3]) - fmaxf(a[1], b[1]), 0.0f);
  const float overlap = width * height;
  return overlap / fmaxf(area_a + area_b - overlap, 1e-6f);
}

// Keeps the better of (score, index) and the candidate from `lane + offset`: higher score, then lower index.
__device__ __forceinline__ void warp_argmax(float& score, int& index) {
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float other_score = __shfl_down_sync(FULL_WARP, score, offset);
    const int other_index = __shfl_down_sync(FULL_WARP, index, offset);
    if (other_score > score || (other_score == score && other_index < index)) {
      score = other_score;
      index = other_index;
    }
  }
}

// grid (1), block (a multiple of 32, at most 1024). scores (n,) is a working copy, decayed in place; removed
// boxes get -inf. Writes the selected indices and their scores at selection, in order, and their number.
extern "C" __global__ void soft_nms(const float* __restrict__ boxes, float* __restrict__ scores, int n,
                                    float iou_threshold, float sigma, float min_score, int method,
                                    long long* __restrict__ keep, float* __restrict__ kept_scores,
                                    int* __restrict__ num_kept) {
  const int tid = threadIdx.x, threads = blockDim.x, lane = tid % 32, warp = tid / 32;
  const float removed = __uint_as_float(0xff800000u);  // -inf
  __shared__ float warp_scores[32];
  __shared__ int warp_indices[32];
  __shared__ int selected;

  int step = 0;
  for (; step < n; ++step) {
    float best = removed;
    int best_index = n;
    for (int j = tid; j < n; j += threads)
      if (scores[j] > best) {  // j grows, so '>' keeps the lowest index among equal scores
        best = scores[j];
        best_index = j;
      }
    warp_argmax(best, best_index);
    if (lane == 0) {
      warp_scores[warp] = best;
      warp_indices[warp] = best_index;
    }
    __syncthreads();
    if (warp == 0) {
      best = lane < threads / 32 ? warp_scores[lane] : removed;
      best_index = lane < threads / 32 ? warp_indices[lane] : n;
      warp_argmax(best, best_index);
      if (lane == 0) {
        selected = best >= min_score ? best_index : -1;
        if (selected >= 0) {
          keep[step] = best_index;
          kept_scores[step] = best;
        }
      }
    }
    __syncthreads();
    const int chosen = selected;
    if (chosen < 0) break;  // the same value in every thread: the whole block leaves together

    const float* chosen_box = boxes + chosen * 4;
    for (int j = tid; j < n; j += threads) {
      if (j == chosen) {
        scores[j] = removed;
        continue;
      }
      const float score = scores[j];
      if (score == removed) continue;
      const float iou = soft_nms_iou(chosen_box, boxes + j * 4);
      float weight = 1.0f;
      if (method == SOFT_NMS_LINEAR) {
        if (iou > iou_threshold) weight = 1.0f - iou;
      } else {
        weight = expf(-(iou * iou) / sigma);
      }
      const float decayed = score * weight;
      scores[j] = decayed >= min_score ? decayed : removed;
    }
  }
  if (tid == 0) *num_kept = step;
}
