// LoRA adapter files, read and written in the two formats people exchange:
//
//  - PEFT (Hugging Face): a folder with adapter_config.json ({peft_type: "LORA", r, lora_alpha,
//    target_modules, use_rslora, ...}) and adapter_model.safetensors holding
//    `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` (r, in) and `...lora_B.weight`
//    (out, r). Its q_proj/k_proj rows are in HF's rotate-half order, so B's rows of wq/wk are
//    un-permuted on load (and permuted back on save), exactly like the base weights (names.ts).
//  - llama.cpp's LoRA GGUF (convert_lora_to_gguf.py; read by src/llama-adapter.cpp):
//    `general.type` = "adapter", `adapter.type` = "lora", `adapter.lora.alpha` (f32), tensors
//    `<base weight name>.lora_a` (ne [in, r]) and `.lora_b` (ne [r, out]), q/k already in the
//    interleaved order GGUF base weights use.
import { existsSync, mkdirSync, readFileSync, statSync } from '../platform/fs.js';
import { dirname, join } from '../platform/path.js';
import { LlamaError } from '../errors.js';
import { DType } from '../tensor/dtype.js';
import { dequantize } from '../tensor/quant.js';
import { f32Tensor, numElements, type HostTensor } from '../tensor/tensor.js';
import { openGguf } from '../formats/gguf.js';
import { gv, writeGguf } from '../formats/gguf-write.js';
import { ADAPTER, GENERAL } from '../formats/gguf-keys.js';
import { SafetensorsFile, writeSafetensors } from '../formats/safetensors.js';
import { writeFileAtomic } from '../formats/file-io.js';
import type { LlamaConfig } from './config.js';
import { layerName, permuteToHf, unpermuteHf } from './names.js';
import { checkLoraFits, LORA_TARGET_KEYS, type LoraAdapter, type LoraPair, type LoraTargetKey } from './lora.js';

export const PEFT_CONFIG = 'adapter_config.json';
export const PEFT_WEIGHTS = 'adapter_model.safetensors';
const PEFT_PREFIX = 'base_model.model.';

export type LoraFileFormat = 'gguf' | 'peft';

/** Which format a path holds: a .gguf adapter, or a PEFT folder / its safetensors / its config. */
export function detectLoraFormat(path: string): { format: LoraFileFormat; weights: string; config?: string } {
  if (!existsSync(path)) throw new LlamaError('FILE_NOT_FOUND', 'LoRA adapter not found', { file: path, hint: 'pass a .gguf adapter or a PEFT folder holding adapter_config.json and adapter_model.safetensors' });
  if (statSync(path).isDirectory()) {
    const config = join(path, PEFT_CONFIG);
    const weights = join(path, PEFT_WEIGHTS);
    if (!existsSync(config) || !existsSync(weights)) {
      throw new LlamaError('LORA', `the folder holds no PEFT adapter (${PEFT_CONFIG} + ${PEFT_WEIGHTS})`, { file: path, hint: 'pass a .gguf adapter or a PEFT adapter folder' });
    }
    return { format: 'peft', weights, config };
  }
  const head = readFileSync(path, { flag: 'r' }).subarray(0, 4);
  if (head.length === 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) return { format: 'gguf', weights: path };
  const dir = dirname(path);
  const base = path.slice(dir.length + 1);
  if (base === PEFT_CONFIG) return detectLoraFormat(dir);
  if (base.endsWith('.safetensors')) {
    const config = join(dir, PEFT_CONFIG);
    if (!existsSync(config)) throw new LlamaError('LORA', `a PEFT adapter needs ${PEFT_CONFIG} beside its weights`, { file: path, hint: 'keep the folder PEFT saved together' });
    return { format: 'peft', weights: path, config };
  }
  throw new LlamaError('LORA', 'not a LoRA adapter (neither GGUF nor PEFT safetensors)', { file: path, hint: 'pass a .gguf adapter or a PEFT folder' });
}

/** Read an adapter and check it against the model it will be applied to. */
export function readLoraAdapter(path: string, config: LlamaConfig): LoraAdapter {
  const det = detectLoraFormat(path);
  const adapter = det.format === 'gguf' ? readGgufAdapter(det.weights, config) : readPeftAdapter(det.weights, det.config!, config);
  checkLoraFits(adapter, config);
  return adapter;
}

const GGUF_BASE = new Map<string, { layer: number; key: LoraTargetKey }>();
function ggufTarget(base: string, nLayers: number): { layer: number; key: LoraTargetKey } | undefined {
  if (GGUF_BASE.size === 0 || !GGUF_BASE.has(layerName('gguf', 'wq', nLayers - 1))) {
    for (let l = 0; l < nLayers; l++) for (const key of LORA_TARGET_KEYS) GGUF_BASE.set(layerName('gguf', key, l), { layer: l, key });
  }
  return GGUF_BASE.get(base);
}

function toF32(t: HostTensor): Float32Array {
  return t.type === DType.F32 ? new Float32Array(t.data.slice().buffer) : dequantize(t.type, t.data, numElements(t.shape));
}

function readGgufAdapter(path: string, config: LlamaConfig): LoraAdapter {
  const g = openGguf(path);
  try {
    const str = (k: string): string | undefined => {
      const v = g.metadata.get(k);
      return v && typeof v.value === 'string' ? v.value : undefined;
    };
    const bad = (msg: string, hint: string) => new LlamaError('LORA', msg, { file: path, hint });
    if (str(GENERAL.TYPE) !== ADAPTER.GENERAL_TYPE_VALUE) throw bad(`general.type is ${JSON.stringify(str(GENERAL.TYPE) ?? null)}, not "adapter": this is not a LoRA adapter`, 'pass the adapter file, not a model');
    if (str(ADAPTER.TYPE) !== ADAPTER.TYPE_LORA) throw bad(`adapter.type is ${JSON.stringify(str(ADAPTER.TYPE) ?? null)}; only "lora" adapters are supported`, 'control vectors and other adapter kinds are not supported');
    const arch = str(GENERAL.ARCHITECTURE);
    if (arch !== 'llama') throw bad(`the adapter is for architecture ${JSON.stringify(arch ?? null)}, not llama`, 'use an adapter trained for this llama-architecture model');
    const alphaV = g.metadata.get(ADAPTER.LORA_ALPHA);
    const alpha = alphaV && typeof alphaV.value === 'number' ? alphaV.value : undefined;
    const halves = new Map<string, { a?: HostTensor; b?: HostTensor }>();
    for (const info of g.tensors) {
      const isA = info.name.endsWith(ADAPTER.SUFFIX_A);
      const isB = info.name.endsWith(ADAPTER.SUFFIX_B);
      if (!isA && !isB) {
        if (info.name.endsWith('_norm.weight')) continue; // llama.cpp ignores adapted norms too
        throw bad(`tensor ${info.name} is neither .lora_a nor .lora_b`, 'the adapter file is damaged or of another kind');
      }
      const base = info.name.slice(0, -ADAPTER.SUFFIX_A.length);
      const h = halves.get(base) ?? {};
      h[isA ? 'a' : 'b'] = g.readTensor(info);
      halves.set(base, h);
    }
    const pairs: LoraPair[] = [];
    for (const [base, h] of halves) {
      if (!h.a || !h.b) throw bad(`${base} has only one of lora_a / lora_b`, 'the adapter file is damaged');
      const target = ggufTarget(base, config.nLayers);
      if (!target) throw bad(`the adapter targets ${base}, which this project cannot adapt (or the model does not have)`, `adapters may target ${LORA_TARGET_KEYS.join(', ')} of each block`);
      const [rank, cols] = h.a.shape as [number, number];
      const [rows, rankB] = h.b.shape as [number, number];
      if (h.a.shape.length !== 2 || h.b.shape.length !== 2 || rank !== rankB) throw bad(`${base}: lora_a ${JSON.stringify(h.a.shape)} and lora_b ${JSON.stringify(h.b.shape)} do not share a rank`, 'the adapter file is damaged (or from the old llama.cpp finetune, which is not supported)');
      pairs.push({ ...target, rank, rows, cols, a: toF32(h.a), b: toF32(h.b) });
    }
    return { source: path, alpha, pairs: sortPairs(pairs) };
  } finally {
    g.close();
  }
}

interface PeftConfig {
  peft_type?: string;
  r?: number;
  lora_alpha?: number;
  use_rslora?: boolean;
  fan_in_fan_out?: boolean;
  bias?: string;
  use_dora?: boolean;
  rank_pattern?: Record<string, unknown>;
  alpha_pattern?: Record<string, unknown>;
  modules_to_save?: unknown[] | null;
  target_modules?: string[] | string;
  base_model_name_or_path?: string;
}

const HF_MODULE: Record<string, LoraTargetKey> = {
  'self_attn.q_proj': 'wq', 'self_attn.k_proj': 'wk', 'self_attn.v_proj': 'wv', 'self_attn.o_proj': 'wo',
  'mlp.gate_proj': 'w1', 'mlp.down_proj': 'w2', 'mlp.up_proj': 'w3',
};
const HF_MODULE_OF: Record<LoraTargetKey, string> = Object.fromEntries(Object.entries(HF_MODULE).map(([m, k]) => [k, m])) as Record<LoraTargetKey, string>;

function readPeftAdapter(weights: string, configPath: string, config: LlamaConfig): LoraAdapter {
  let pc: PeftConfig;
  try {
    pc = JSON.parse(readFileSync(configPath, 'utf8')) as PeftConfig;
  } catch (e) {
    throw new LlamaError('LORA', `cannot read the adapter config: ${(e as Error).message}`, { file: configPath, hint: 'adapter_config.json must be the JSON PEFT wrote' });
  }
  const bad = (msg: string, hint: string) => new LlamaError('LORA', msg, { file: configPath, hint });
  if (pc.peft_type !== undefined && pc.peft_type !== 'LORA') throw bad(`peft_type is ${JSON.stringify(pc.peft_type)}; only LORA adapters are supported`, 'IA3, prefix tuning and other PEFT methods are not supported');
  if (pc.use_dora) throw bad('DoRA adapters (use_dora) are not supported', 'train a plain LoRA adapter');
  if (pc.fan_in_fan_out) throw bad('fan_in_fan_out adapters (GPT-2-style Conv1D) do not fit LLaMA linear layers', 'the adapter was made for another architecture');
  if (pc.bias !== undefined && pc.bias !== 'none') throw bad(`bias "${pc.bias}" adapters are not supported`, 'train with bias="none"');
  if (pc.modules_to_save && pc.modules_to_save.length > 0) throw bad(`modules_to_save (${pc.modules_to_save.join(', ')}) are full weights, not LoRA pairs; they are not supported`, 'merge them into the base model first');
  for (const pat of ['rank_pattern', 'alpha_pattern'] as const) {
    if (pc[pat] && Object.keys(pc[pat]!).length > 0) throw bad(`${pat} (per-module ranks or alphas) is not supported`, 'use one rank and alpha for every module');
  }
  if (!(typeof pc.r === 'number' && pc.r > 0)) throw bad('r (the rank) is missing', 'adapter_config.json must hold r and lora_alpha');
  const r = pc.r;
  const loraAlpha = typeof pc.lora_alpha === 'number' ? pc.lora_alpha : r;
  // rsLoRA scales by alpha/sqrt(r); expressed in the alpha/r convention: alpha' = alpha·sqrt(r)
  const alpha = pc.use_rslora ? loraAlpha * Math.sqrt(r) : loraAlpha;

  const st = SafetensorsFile.open(weights);
  try {
    const halves = new Map<string, { a?: HostTensor; b?: HostTensor }>();
    for (const name of st.entries.keys()) {
      const m = /^(?:base_model\.model\.)?model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
      if (!m) {
        throw new LlamaError('LORA', `tensor ${name} is not a LoRA A/B weight of a LLaMA linear layer`, { file: weights, hint: `adapters may target ${Object.keys(HF_MODULE).join(', ')}` });
      }
      const id = `${m[1]}.${m[2]}`;
      const h = halves.get(id) ?? {};
      h[m[3] === 'A' ? 'a' : 'b'] = st.readTensor(name);
      halves.set(id, h);
    }
    const pairs: LoraPair[] = [];
    for (const [id, h] of halves) {
      if (!h.a || !h.b) throw new LlamaError('LORA', `${id} has only one of lora_A / lora_B`, { file: weights, hint: 'the adapter file is damaged' });
      const dot = id.indexOf('.');
      const layer = Number(id.slice(0, dot));
      const key = HF_MODULE[id.slice(dot + 1)]!;
      const [rank, cols] = h.a.shape as [number, number];
      const [rows, rankB] = h.b.shape as [number, number];
      if (rank !== rankB) throw new LlamaError('LORA', `${id}: lora_A and lora_B do not share a rank`, { file: weights, hint: 'the adapter file is damaged' });
      let b = h.b;
      if (key === 'wq' || key === 'wk') b = unpermuteHf(b, key === 'wq' ? config.nHeads : config.nKvHeads);
      pairs.push({ layer, key, rank, rows, cols, a: toF32(h.a), b: toF32(b) });
    }
    return { source: weights, alpha, pairs: sortPairs(pairs), baseModel: pc.base_model_name_or_path };
  } finally {
    st.close();
  }
}

function sortPairs(pairs: LoraPair[]): LoraPair[] {
  const order = (k: LoraTargetKey) => LORA_TARGET_KEYS.indexOf(k);
  return pairs.sort((x, y) => x.layer - y.layer || order(x.key) - order(y.key));
}

/** The one rank an adapter has (both writers need it: GGUF's alpha and PEFT's r are per adapter). */
function uniformRank(adapter: LoraAdapter): number {
  const ranks = new Set(adapter.pairs.map((p) => p.rank));
  if (ranks.size !== 1) throw new LlamaError('LORA', `the adapter mixes ranks ${[...ranks].join(', ')}; the file formats hold one rank per adapter`, { hint: 'train with one --lora-r' });
  return [...ranks][0]!;
}

/** llama.cpp's LoRA GGUF (F32 tensors). */
export function writeLoraGguf(path: string, adapter: LoraAdapter, meta: { name?: string } = {}): number {
  uniformRank(adapter);
  const metadata: [string, ReturnType<typeof gv.str>][] = [
    [GENERAL.ARCHITECTURE, gv.str('llama')],
    [GENERAL.TYPE, gv.str(ADAPTER.GENERAL_TYPE_VALUE)],
    [ADAPTER.TYPE, gv.str(ADAPTER.TYPE_LORA)],
    [ADAPTER.LORA_ALPHA, gv.f32(adapter.alpha ?? 0)],
  ];
  if (meta.name) metadata.push([GENERAL.NAME, gv.str(meta.name)]);
  const tensors: HostTensor[] = [];
  for (const p of adapter.pairs) {
    const base = layerName('gguf', p.key, p.layer);
    tensors.push(f32Tensor(base + ADAPTER.SUFFIX_A, [p.rank, p.cols], p.a));
    tensors.push(f32Tensor(base + ADAPTER.SUFFIX_B, [p.rows, p.rank], p.b));
  }
  return writeGguf(path, { metadata, tensors });
}

/** A PEFT folder: adapter_model.safetensors (F32) + adapter_config.json. */
export function writeLoraPeft(dir: string, adapter: LoraAdapter, config: LlamaConfig, meta: { baseModel?: string; dropout?: number } = {}): void {
  const r = uniformRank(adapter);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new LlamaError('FILE_WRITE', `cannot create the adapter folder: ${(e as Error).message}`, { file: dir, hint: 'choose a writable output path' });
  }
  const tensors: HostTensor[] = [];
  const modules = new Set<string>();
  for (const p of adapter.pairs) {
    const mod = HF_MODULE_OF[p.key];
    modules.add(mod.split('.')[1]!);
    const prefix = `${PEFT_PREFIX}model.layers.${p.layer}.${mod}`;
    tensors.push(f32Tensor(`${prefix}.lora_A.weight`, [p.rank, p.cols], p.a));
    let b = f32Tensor(`${prefix}.lora_B.weight`, [p.rows, p.rank], p.b);
    if (p.key === 'wq' || p.key === 'wk') b = permuteToHf(b, p.key === 'wq' ? config.nHeads : config.nKvHeads);
    tensors.push(b);
  }
  writeSafetensors(join(dir, PEFT_WEIGHTS), tensors, { format: 'pt' });
  const cfg = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r,
    lora_alpha: adapter.alpha ?? r,
    lora_dropout: meta.dropout ?? 0,
    target_modules: [...modules].sort(),
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    inference_mode: true,
    modules_to_save: null,
    base_model_name_or_path: meta.baseModel ?? adapter.baseModel ?? null,
  };
  writeFileAtomic(join(dir, PEFT_CONFIG), [new TextEncoder().encode(JSON.stringify(cfg, null, 2) + '\n')]);
}
