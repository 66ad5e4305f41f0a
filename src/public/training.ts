// Training (llama-ts's `training` namespace): the tape (backward), AdamW, schedules, data shards
// and mixtures, the trainer, checkpoints, export, plots.
export { TapeBackend } from '../train/tape.js';
export type { ParamKey, ParamGrads } from '../train/tape.js';
export { createTrainingModel, lossAndGrad, lossOnly } from '../train/model.js';
export type { TrainingModel } from '../train/model.js';
export { trainableParams, snapshotWeights, countParams } from '../train/params.js';
export type { Param } from '../train/params.js';
export { initWeights, INIT_STD } from '../train/init.js';
export { AdamW, ADAMW_DEFAULTS } from '../train/optimizer.js';
export type { AdamWOptions } from '../train/optimizer.js';
export { learningRate } from '../train/schedule.js';
export type { ScheduleOptions } from '../train/schedule.js';
export { Rng } from '../train/rng.js';
export { writeShard, readShard, prepareSource, MixtureSampler, validationWindows, unigramLoss, splitText, tokenizeText } from '../train/data.js';
export type { SourceSpec, PreparedSource, Shard, Sample } from '../train/data.js';
export { charTokenizer, charSpmModel } from '../train/char-tokenizer.js';
export { loadTrainConfig, modelConfig, TRAIN_DEFAULTS } from '../train/config.js';
export type { TrainConfig, ModelShape, TokenizerSpec } from '../train/config.js';
export { train, prepareTrainingData, trainFlopsPerToken, PEAK_FLOPS_PER_THREAD, checkpointPath, formatDuration } from '../train/trainer.js';
export type { TrainHooks, TrainResult, TrainOptions } from '../train/trainer.js';
export { RESUME_APPLIED, RESUME_REFUSED } from '../train/trainer.js';
export { saveCheckpoint, loadCheckpoint } from '../train/checkpoint.js';
export type { LoadedCheckpoint, CheckpointHeader, CheckpointTensor } from '../train/checkpoint.js';
export { exportGguf, exportHf, trainedModelFromCheckpoint, EXPORT_TYPES } from '../train/export.js';
export type { ExportType, TrainedModel } from '../train/export.js';
export { plotSvg } from '../train/plot.js';
export { greedyTokens } from '../train/sample.js';
