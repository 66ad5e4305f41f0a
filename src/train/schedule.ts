// Learning-rate schedule of the LLaMA paper (§2.3): linear warmup, then cosine decay to a floor of
// 10% of the peak ("the final learning rate is equal to 10% of the maximal learning rate").
export interface ScheduleOptions {
  readonly peakLr: number;
  readonly warmupSteps: number;
  /** the step at which the cosine reaches its floor (usually the total number of steps) */
  readonly decaySteps: number;
  /** floor as a fraction of the peak; the paper uses 0.1 */
  readonly minLrRatio: number;
}

/** Learning rate of optimizer step `step` (0-based). */
export function learningRate(step: number, o: ScheduleOptions): number {
  const floor = o.peakLr * o.minLrRatio;
  if (step < o.warmupSteps) return (o.peakLr * (step + 1)) / o.warmupSteps;
  if (step >= o.decaySteps) return floor;
  const span = Math.max(1, o.decaySteps - o.warmupSteps);
  const progress = (step - o.warmupSteps) / span; // 0 .. 1
  return floor + 0.5 * (o.peakLr - floor) * (1 + Math.cos(Math.PI * progress));
}
