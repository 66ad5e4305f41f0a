// out (M, N) (+)= A (M, K) · Bᵀ, B stored (N, K): every output is a dot product of two contiguous
// rows. 4x4 register blocking (16 float64 accumulators, 8 loads per 16 multiply-adds) instead of
// one dot product at a time (2 loads per multiply-add). Each output still sums k = 0, 1, ... in
// order in float64, so the result is bit-identical to the plain loop in JsBackend.matmul.
export function gemmNT(out: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, accumulate: boolean): void {
  // Panels of B rows small enough to stay in L2 (~128 KB) while every row block of A passes over them.
  const panel = Math.max(4, Math.min(N, (Math.floor(32768 / Math.max(1, K)) >> 2) << 2));
  for (let n0 = 0; n0 < N; n0 += panel) gemmPanel(out, A, B, M, N, K, accumulate, n0, Math.min(N, n0 + panel));
}

function gemmPanel(out: Float32Array, A: Float32Array, B: Float32Array, M: number, N: number, K: number, accumulate: boolean, n0: number, n1: number): void {
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = m * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    let n = n0;
    for (; n + 4 <= n1; n += 4) {
      const b0 = n * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k]!, x1 = A[a1 + k]!, x2 = A[a2 + k]!, x3 = A[a3 + k]!;
        const y0 = B[b0 + k]!, y1 = B[b1 + k]!, y2 = B[b2 + k]!, y3 = B[b3 + k]!;
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const o0 = m * N + n, o1 = o0 + N, o2 = o1 + N, o3 = o2 + N;
      if (accumulate) {
        out[o0]! += s00; out[o0 + 1]! += s01; out[o0 + 2]! += s02; out[o0 + 3]! += s03;
        out[o1]! += s10; out[o1 + 1]! += s11; out[o1 + 2]! += s12; out[o1 + 3]! += s13;
        out[o2]! += s20; out[o2 + 1]! += s21; out[o2 + 2]! += s22; out[o2 + 3]! += s23;
        out[o3]! += s30; out[o3 + 1]! += s31; out[o3 + 2]! += s32; out[o3 + 3]! += s33;
      } else {
        out[o0] = s00; out[o0 + 1] = s01; out[o0 + 2] = s02; out[o0 + 3] = s03;
        out[o1] = s10; out[o1 + 1] = s11; out[o1 + 2] = s12; out[o1 + 3] = s13;
        out[o2] = s20; out[o2 + 1] = s21; out[o2 + 2] = s22; out[o2 + 3] = s23;
        out[o3] = s30; out[o3 + 1] = s31; out[o3 + 2] = s32; out[o3 + 3] = s33;
      }
    }
    for (; n < n1; n++) for (let i = 0; i < 4; i++) dotInto(out, (m + i) * N + n, A, (m + i) * K, B, n * K, K, accumulate);
  }
  for (; m < M; m++) for (let n = n0; n < n1; n++) dotInto(out, m * N + n, A, m * K, B, n * K, K, accumulate);
}

function dotInto(out: Float32Array, o: number, A: Float32Array, a: number, B: Float32Array, b: number, K: number, accumulate: boolean): void {
  let s = 0;
  for (let k = 0; k < K; k++) s += A[a + k]! * B[b + k]!;
  if (accumulate) out[o]! += s;
  else out[o] = s;
}

/** dst (cols, rows) = src (rows, cols)ᵀ */
export function transpose(src: Float32Array, rows: number, cols: number, dst: Float32Array = new Float32Array(rows * cols)): Float32Array {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[o + c]!;
  }
  return dst;
}
