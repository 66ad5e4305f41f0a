// File formats (llama-ts's `formats` namespace): GGUF (read, write, split), safetensors, PyTorch
// .pth, llama2.c, the describe/inspect registry, quantized block layouts, atomic writes.
export { DType, dtypeName, dtypeInfo, dtypeFromName } from '../tensor/dtype.js';
export type { HostTensor } from '../tensor/tensor.js';
export { ByteSource, ByteCursor, withSource } from '../formats/source.js';
export { openGguf, GgufFile, GgufType, ggufValueToJson } from '../formats/gguf.js';
export type { GgufValue, GgufArray, GgufTensorInfo } from '../formats/gguf.js';
export * as ggufKeys from '../formats/gguf-keys.js';
export { writeGguf, gv } from '../formats/gguf-write.js';
export type { GgufWriteInput, LazyTensor } from '../formats/gguf-write.js';
export { openGgufModel, writeGgufSplit, splitPartPath, parseSplitPath } from '../formats/gguf-split.js';
export { dequantize, dequantizeRow, dequantizeTensor, quantize, DEQUANTIZABLE, QUANTIZABLE } from '../tensor/quant.js';
export { describe, registerFormat, FORMATS } from '../formats/describe.js';
export type { FileDescription, FormatDescriber, MetadataEntry, TensorEntry } from '../formats/describe.js';
export { SafetensorsFile, SafetensorsModel, writeSafetensors, writeSafetensorsSharded } from '../formats/safetensors.js';
export { PthFile } from '../formats/pth.js';
export { Llama2cFile } from '../formats/llama2c.js';
export { writeFileAtomic } from '../formats/file-io.js';
export { readTextFile, decodeUtf8Strict, firstInvalidUtf8 } from '../formats/text-file.js';
