// Multi-scale deformable attention (Zhu et al. 2021, Deformable DETR) forward and backward
// (detnb.models.layers.ms_deform_attn; the formulas are worked out in nbs/models/layers/03_ms_deform_attn.ipynb).
// Layouts, all row-major: value (batch, spatial_size, num_heads, channels) holds the levels one after another,
// level l starting at row level_start_index[l] with spatial_shapes[l] = (height, width); sampling_loc
// (batch, num_query, num_heads, num_levels, num_points, 2) as (x, y) in [0, 1]; attn_weight
// (batch, num_query, num_heads, num_levels, num_points); output (batch, num_query, num_heads, channels).
// Sampling is bilinear with zero padding and align_corners=False: pixel coordinates x * width - 1/2,
// y * height - 1/2, as torch's grid_sample. One thread per output element (query, head, channel), grid-stride.

// The four corners of a bilinear sample at pixel coordinates (x, y) of a height x width map, and their weights;
// a corner outside the map is marked, never read or written (zero padding).
struct Corners {
  long long offset[4];  // rows of the level, times the row stride: top-left, top-right, bottom-left, bottom-right
  float weight[4];
  bool inside[4];
  float lx, ly;  // the fractional parts, for the derivatives
};

__device__ __forceinline__ Corners bilinear_corners(float x, float y, int height, int width, long long row_stride) {
  const float x0f = floorf(x), y0f = floorf(y);
  const int x0 = static_cast<int>(x0f), y0 = static_cast<int>(y0f);
  Corners c;
  c.lx = x - x0f;
  c.ly = y - y0f;
  const float hx = 1.0f - c.lx, hy = 1.0f - c.ly;
  const float weights[4] = {hy * hx, hy * c.lx, c.ly * hx, c.ly * c.lx};
  for (int k = 0; k < 4; ++k) {
    const int xk = x0 + (k & 1), yk = y0 + (k >> 1);
    c.inside[k] = xk >= 0 && xk < width && yk >= 0 && yk < height;
    c.offset[k] = (static_cast<long long>(yk) * width + xk) * row_stride;
    c.weight[k] = weights[k];
  }
  return c;
}

// output[b, q, h, c] = sum over levels l and points p of attn_weight[b, q, h, l, p] * value_l(sampling_loc).
extern "C" __global__ void ms_deform_attn_forward(const float* __restrict__ value,
                                                  const long long* __restrict__ spatial_shapes,
                                                  const long long* __restrict__ level_start_index,
                                                  const float* __restrict__ sampling_loc,
                                                  const float* __restrict__ attn_weight, int batch, int spatial_size,
                                                  int num_heads, int channels, int num_levels, int num_query,
                                                  int num_points, float* __restrict__ output) {
  const long long total = static_cast<long long>(batch) * num_query * num_heads * channels;
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  const long long row_stride = static_cast<long long>(num_heads) * channels;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int c = static_cast<int>(i % channels), h = static_cast<int>(i / channels % num_heads);
    const long long b = i / (static_cast<long long>(channels) * num_heads * num_query);
    const long long point = i / channels * num_levels * num_points;  // first (l, p) of this (b, q, h)
    float sum = 0.0f;
    for (int l = 0; l < num_levels; ++l) {
      const int height = static_cast<int>(spatial_shapes[2 * l]), width = static_cast<int>(spatial_shapes[2 * l + 1]);
      const float* level = value + (b * spatial_size + level_start_index[l]) * row_stride + h * channels + c;
      for (int p = 0; p < num_points; ++p) {
        const long long j = point + l * num_points + p;
        const float x = sampling_loc[2 * j] * width - 0.5f, y = sampling_loc[2 * j + 1] * height - 0.5f;
        if (!(x > -1.0f && y > -1.0f && x < width && y < height)) continue;
        const Corners k = bilinear_corners(x, y, height, width, row_stride);
        float sample = 0.0f;
        for (int n = 0; n < 4; ++n)
          if (k.inside[n]) sample += k.weight[n] * level[k.offset[n]];
        sum += attn_weight[j] * sample;
      }
    }
    output[i] = sum;
  }
}

// The gradients of the forward pass for grad_output (batch, num_query, num_heads, channels). grad_value,
// grad_sampling_loc and grad_attn_weight must be zero on entry: every thread adds its share with atomicAdd
// (value rows are shared by many queries, locations and weights by the channels of a head).
extern "C" __global__ void ms_deform_attn_backward(const float* __restrict__ value,
                                                   const long long* __restrict__ spatial_shapes,
                                                   const long long* __restrict__ level_start_index,
                                                   const float* __restrict__ sampling_loc,
                                                   const float* __restrict__ attn_weight,
                                                   const float* __restrict__ grad_output, int batch, int spatial_size,
                                                   int num_heads, int channels, int num_levels, int num_query,
                                                   int num_points, float* __restrict__ grad_value,
                                                   float* __restrict__ grad_sampling_loc,
                                                   float* __restrict__ grad_attn_weight) {
  const long long total = static_cast<long long>(batch) * num_query * num_heads * channels;
  const long long stride = static_cast<long long>(blockDim.x) * gridDim.x;
  const long long row_stride = static_cast<long long>(num_heads) * channels;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int c = static_cast<int>(i % channels), h = static_cast<int>(i / channels % num_heads);
    const long long b = i / (static_cast<long long>(channels) * num_heads * num_query);
    const long long point = i / channels * num_levels * num_points;
    const float grad = grad_output[i];
    for (int l = 0; l < num_levels; ++l) {
      const int height = static_cast<int>(spatial_shapes[2 * l]), width = static_cast<int>(spatial_shapes[2 * l + 1]);
      const long long first = (b * spatial_size + level_start_index[l]) * row_stride + h * channels + c;
      const float* level = value + first;
      float* grad_level = grad_value + first;
      for (int p = 0; p < num_points; ++p) {
        const long long j = point + l * num_points + p;
        const float x = sampling_loc[2 * j] * width - 0.5f, y = sampling_loc[2 * j + 1] * height - 0.5f;
        if (!(x > -1.0f && y > -1.0f && x < width && y < height)) continue;
        const Corners k = bilinear_corners(x, y, height, width, row_stride);
        const float weighted_grad = attn_weight[j] * grad;
        float v[4], sample = 0.0f;
        for (int n = 0; n < 4; ++n) {
          v[n] = k.inside[n] ? level[k.offset[n]] : 0.0f;
          sample += k.weight[n] * v[n];
          if (k.inside[n]) atomicAdd(grad_level + k.offset[n], weighted_grad * k.weight[n]);
        }
        atomicAdd(grad_attn_weight + j, sample * grad);
        // d sample / dx and / dy, in pixels; x = loc_x * width - 1/2, so d / d loc_x = width * d / dx
        const float dx = (1.0f - k.ly) * (v[1] - v[0]) + k.ly * (v[3] - v[2]);
        const float dy = (1.0f - k.lx) * (v[2] - v[0]) + k.lx * (v[3] - v[1]);
        atomicAdd(grad_sampling_loc + 2 * j, weighted_grad * dx * width);
        atomicAdd(grad_sampling_loc + 2 * j + 1, weighted_grad * dy * height);
      }
    }
  }
}
