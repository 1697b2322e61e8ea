// Greedy non-maximum suppression as a bitmask (detnb.ops.nms; the algorithm is explained in nbs/05_ops.ipynb).
// `boxes` are sorted by decreasing score. Step 1, `nms_mask`: block (col_block, row_block) compares the 64 boxes
// of row_block with the 64 boxes of col_block and writes one 64-bit word per row box: bit k set when column box
// col_block * 64 + k comes later in the order and overlaps the row box by more than `iou_threshold`. Step 2,
// `nms_reduce`: one block walks the rows in order and keeps a box when no kept box before it has set its bit.

#define NMS_BLOCK 64  // boxes per block = bits per mask word

// torchvision's IoU test: no eps, so a zero-area pair gives 0/0 = NaN, which never exceeds the threshold.
__device__ __forceinline__ bool nms_overlaps(const float* a, const float* b, double iou_threshold) {
  const float width = fmaxf(fminf(a[2], b[2]) - fmaxf(a[0], b[0]), 0.0f);
  const float height = fmaxf(fminf(a[3], b[3]) - fmaxf(a[1], b[1]), 0.0f);
  const float inter = width * height;
  const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  return static_cast<double>(inter / (area_a + area_b - inter)) > iou_threshold;
}

// grid (col_blocks, col_blocks), block (NMS_BLOCK); mask is (n, col_blocks), row-major.
extern "C" __global__ void nms_mask(const float* __restrict__ boxes, int n, double iou_threshold,
                                    unsigned long long* __restrict__ mask) {
  const int row_block = blockIdx.y, col_block = blockIdx.x, tid = threadIdx.x;
  if (row_block > col_block) return;  // the reduction never reads words left of the diagonal
  const int col_blocks = (n + NMS_BLOCK - 1) / NMS_BLOCK;
  const int row_size = min(n - row_block * NMS_BLOCK, NMS_BLOCK);
  const int col_size = min(n - col_block * NMS_BLOCK, NMS_BLOCK);

  __shared__ float col_boxes[NMS_BLOCK * 4];
  if (tid < col_size) {
    const float* src = boxes + (col_block * NMS_BLOCK + tid) * 4;
    for (int d = 0; d < 4; ++d) col_boxes[tid * 4 + d] = src[d];
  }
  __syncthreads();

  if (tid < row_size) {
    const int row = row_block * NMS_BLOCK + tid;
    const float* row_box = boxes + row * 4;
    unsigned long long bits = 0;
    const int start = row_block == col_block ? tid + 1 : 0;  // only boxes after `row` in the order
    for (int k = start; k < col_size; ++k)
      if (nms_overlaps(row_box, col_boxes + k * 4, iou_threshold)) bits |= 1ULL << k;
    mask[static_cast<long long>(row) * col_blocks + col_block] = bits;
  }
}

// grid (1), block (any multiple of 32); removed is (col_blocks,) zeros, keep is (n,).
// Thread t owns the words j of `removed` with j % blockDim.x == t, so only the read of removed[b] by thread 0
// crosses threads, and the first barrier of each step orders it after the writes of the step before.
extern "C" __global__ void nms_reduce(const unsigned long long* __restrict__ mask, int n,
                                      unsigned long long* __restrict__ removed, unsigned char* __restrict__ keep) {
  const int tid = threadIdx.x, threads = blockDim.x;
  const int col_blocks = (n + NMS_BLOCK - 1) / NMS_BLOCK;
  __shared__ unsigned long long diagonal[NMS_BLOCK];  // this block's rows against itself
  __shared__ unsigned long long kept_bits;

  for (int b = 0; b < col_blocks; ++b) {
    const int row_start = b * NMS_BLOCK;
    const int rows = min(n - row_start, NMS_BLOCK);
    for (int k = tid; k < rows; k += threads)
      diagonal[k] = mask[static_cast<long long>(row_start + k) * col_blocks + b];
    __syncthreads();

    if (tid == 0) {  // the sequential part: 64 bit tests on shared memory
      unsigned long long suppressed = removed[b], kept = 0;
      for (int k = 0; k < rows; ++k)
        if (!((suppressed >> k) & 1ULL)) {
          kept |= 1ULL << k;
          suppressed |= diagonal[k];
        }
      kept_bits = kept;
    }
    __syncthreads();

    const unsigned long long kept = kept_bits;
    for (int k = tid; k < rows; k += threads) keep[row_start + k] = (kept >> k) & 1ULL;
    // the kept rows of block b suppress boxes in the blocks after it
    for (int j = tid; j < col_blocks; j += threads) {
      if (j <= b) continue;  // this thread's words up to b are final
      unsigned long long word = removed[j];
      for (unsigned long long rest = kept; rest; rest &= rest - 1)
        word |= mask[static_cast<long long>(row_start + __ffsll(static_cast<long long>(rest)) - 1) * col_blocks + j];
      removed[j] = word;
    }
  }
}
