// The digits MLP's forward pass on the GPU: dense layers and a row-wise argmax.
//
// Compiled to mlp.ptx offline by build_ptx.py (NVRTC from PyPI, pinned), which keeps
// `--fmad=false`: every product and sum is rounded on its own, in the CPU loop's order
// (examples/digits/mlp.rs: `-0.0 + w0*x0 + w1*x1 + ... + bias`), so GPU and CPU give the same
// bits and the same predictions.

// y[r][o] = sum_i w[o][i] * x[r][i] + b[o]; one thread per (row, output).
__device__ float dot_bias(const float* x, const float* w, const float* b,
                          unsigned r, unsigned o, unsigned in) {
    float s = -0.0f;
    const float* xr = x + (size_t)r * in;
    const float* wo = w + (size_t)o * in;
    for (unsigned i = 0; i < in; ++i) {
        s = __fadd_rn(s, __fmul_rn(wo[i], xr[i]));
    }
    return __fadd_rn(s, b[o]);
}

extern "C" __global__ void dense_relu(const float* x, const float* w, const float* b, float* y,
                                      unsigned rows, unsigned in, unsigned out) {
    unsigned idx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned r = idx / out, o = idx % out;
    if (r >= rows) return;
    y[(size_t)r * out + o] = fmaxf(dot_bias(x, w, b, r, o, in), 0.0f);
}

extern "C" __global__ void dense(const float* x, const float* w, const float* b, float* y,
                                 unsigned rows, unsigned in, unsigned out) {
    unsigned idx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned r = idx / out, o = idx % out;
    if (r >= rows) return;
    y[(size_t)r * out + o] = dot_bias(x, w, b, r, o, in);
}

// best[r] = the index of the largest of x[r][0..width] (the first, on ties).
extern "C" __global__ void argmax_rows(const float* x, int* best, unsigned rows, unsigned width) {
    unsigned r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* xr = x + (size_t)r * width;
    unsigned b = 0;
    for (unsigned i = 1; i < width; ++i) {
        if (xr[i] > xr[b]) b = i;
    }
    best[r] = (int)b;
}
