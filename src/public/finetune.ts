// Instruction fine-tuning (docs/finetune.md): LoRA through the training tape over a frozen (possibly
// quantized) base, instruction data with masked prompts, the fine-tuning loop, merging, and the
// story instruction set.
export { finetune, evalLoss, FINETUNE_CHECKPOINT } from '../finetune/finetune.js';
export type { FinetuneOptions, FinetuneHooks, FinetuneResult } from '../finetune/finetune.js';
export { createLoraTrainingModel, loadLoraValues, trainedAdapter, parseLoraTargets, LoraTrainBackend, LoraTrainWeight, LORA_TRAIN_DEFAULTS } from '../finetune/lora-train.js';
export type { LoraTrainOptions, LoraTrainingModel, LoraTrainPair } from '../finetune/lora-train.js';
export { loadInstructData, alpacaPrompt, alpacaExamples, chatExamples, textExamples, maskedExample, parseAlpaca, parseChat, FINETUNE_FORMATS } from '../finetune/data.js';
export type { Example, FinetuneFormat, InstructData, AlpacaRecord } from '../finetune/data.js';
export { mergedModel, f32Weights } from '../finetune/merge.js';
export { storyInstructions, splitStories, splitByStory, requiredWordsShare } from '../finetune/story-instruct.js';
export type { StoryInstruction } from '../finetune/story-instruct.js';
