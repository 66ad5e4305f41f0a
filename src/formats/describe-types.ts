// What `llama inspect` prints for a file, whatever its format.

export interface TensorDescription {
  readonly name: string;
  /** the file's own type name (F32, BF16, Q4_K, I64, FloatStorage→F32, llama2.c Q8 groups → Q8_G64, ...) */
  readonly type: string;
  /** PyTorch order (outermost first) */
  readonly shape: readonly number[];
  /** bytes on disk */
  readonly bytes: number;
}

export interface FileDescription {
  readonly format: string;
  readonly version: number | string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly tensors: readonly TensorDescription[];
}
