// Box overlaps (detnb.ops.bbox_overlaps; explained in nbs/05_ops.ipynb), with the arithmetic of
// detnb.boxes.bbox_overlaps step for step so that both give the same bits: width = x2 - x1, and every
// denominator (the union, the first box's area for IoF, GIoU's enclosing area) clamped below by eps.
// mode: 0 = IoU, 1 = IoF (intersection over the area of the box from bboxes1), 2 = GIoU.

__device__ __forceinline__ float box_overlap(const float* a, const float* b, int mode, float eps) {
  const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  const float width = fmaxf(fminf(a[2], b[2]) - fmaxf(a[0], b[0]), 0.0f);
  const float height = fmaxf(fminf(a[3], b[3]) - fmaxf(a[1], b[1]), 0.0f);
  const float overlap = width * height;
  if (mode == 1) return overlap / fmaxf(area_a, eps);
  const float union_area = area_a + area_b - overlap;
  const float iou = overlap / fmaxf(union_area, eps);
  if (mode == 0) return iou;
  const float enclose_width = fmaxf(fmaxf(a[2], b[2]) - fminf(a[0], b[0]), 0.0f);
  const float enclose_height = fmaxf(fmaxf(a[3], b[3]) - fminf(a[1], b[1]), 0.0f);
  const float enclose_area = enclose_width * enclose_height;
  return iou - (enclose_area - union_area) / fmaxf(enclose_area, eps);
}

// Every pair: bboxes1 (batch, rows, 4), bboxes2 (batch, cols, 4) -> overlaps (batch, rows, cols).
// One thread per output element, grid-stride.
extern "C" __global__ void bbox_overlaps_pairwise(const float* __restrict__ bboxes1, const float* __restrict__ bboxes2,
                                                  int batch, int rows, int cols, int mode, float eps,
                                                  float* __restrict__ overlaps) {
  const long long per_batch = static_cast<long long>(rows) * cols;
  const long long total = per_batch * batch;
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  for (long long index = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; index < total;
       index += stride) {
    const long long b = index / per_batch;
    const long long i = index % per_batch / cols, j = index % cols;
    overlaps[index] = box_overlap(bboxes1 + (b * rows + i) * 4, bboxes2 + (b * cols + j) * 4, mode, eps);
  }
}

// Aligned pairs: bboxes1 and bboxes2 (count, 4) -> overlaps (count,), the i-th box with the i-th box.
extern "C" __global__ void bbox_overlaps_aligned(const float* __restrict__ bboxes1, const float* __restrict__ bboxes2,
                                                 long long count, int mode, float eps, float* __restrict__ overlaps) {
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    overlaps[i] = box_overlap(bboxes1 + i * 4, bboxes2 + i * 4, mode, eps);
}
