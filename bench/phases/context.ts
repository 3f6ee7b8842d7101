export interface PhaseCtx {
  quick: boolean;
  /** Extra node flags for the watch processes (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  nodeArgs?: string[];
  /** Progress messages (stderr). */
  progress: (msg: string) => void;
}

/** Sizes for the full run and the quick (CI smoke) run. */
export function sizes(quick: boolean) {
  return quick
    ? { latencySeconds: 10, latencyRate: 10, latencyBytes: 50 << 10, burst: 500, burstBytes: 50 << 10, bigFiles: 4, bigBytes: 32 << 20, scale: 10_000, scaleBytes: 4 << 10, idleMs: 5_000 }
    : { latencySeconds: 60, latencyRate: 10, latencyBytes: 50 << 10, burst: 5_000, burstBytes: 50 << 10, bigFiles: 4, bigBytes: 256 << 20, scale: 100_000, scaleBytes: 4 << 10, idleMs: 5_000 };
}
