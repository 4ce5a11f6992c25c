/**
 * Replicas average their gradients among themselves in shared memory, without a round trip through the
 * main thread (which cost 3–5 ms of a 17 ms book-cnn step: docs/training-speed.md). Each replica writes its
 * gradients into its own slot, waits at a barrier for the others, then sums every slot in rank order, so
 * all replicas compute bit-identical averages and their weights never drift apart.
 *
 * Slots come in two sets, alternating by step: a replica already writing the next step's gradients uses
 * the other set while a slower one may still be reading this step's, and the barrier keeps any replica
 * from getting two steps ahead.
 */

const HEADER_BYTES = 16; // Int32 [arrived, generation], padded
const [ARRIVED, GENERATION] = [0, 1];

const total = (sizes: readonly number[]) => sizes.reduce((sum, n) => sum + n, 0);

/** The memory for `workers` replicas exchanging gradient arrays of these lengths each step. */
export function exchangeMemory(workers: number, sizes: readonly number[]): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_BYTES + 2 * workers * total(sizes) * 4);
}

export class GradientExchange {
  private readonly control: Int32Array;
  private readonly slots: Float32Array;
  private readonly floats: number;
  private step = 0;

  constructor(
    memory: SharedArrayBuffer,
    private readonly rank: number,
    private readonly workers: number,
    /** Length of each gradient array, in the order they are exchanged. */
    private readonly sizes: readonly number[],
  ) {
    this.control = new Int32Array(memory, 0, 2);
    this.slots = new Float32Array(memory, HEADER_BYTES);
    this.floats = total(sizes);
    if (this.slots.length !== 2 * workers * this.floats) {
      throw new Error(
        `exchange memory holds ${this.slots.length} floats, expected ${2 * workers * this.floats}`,
      );
    }
  }

  /**
   * Σ weights[r] · gradients of replica r, once every replica has called this for the step. `own` is this
   * replica's gradients (undefined when its share of the batch was empty, weight 0).
   */
  average(own: Float32Array[] | undefined, weights: readonly number[]): Float32Array[] {
    const set = this.step++ % 2;
    const slot = (rank: number) => (set * this.workers + rank) * this.floats;
    if (own) {
      let at = slot(this.rank);
      own.forEach((g, k) => {
        if (g.length !== this.sizes[k])
          throw new Error(`gradient ${k} has ${g.length} values, not ${this.sizes[k]}`);
        this.slots.set(g, at);
        at += g.length;
      });
    }
    this.barrier();
    const sums = this.sizes.map((n) => new Float32Array(n));
    for (let rank = 0; rank < this.workers; rank++) {
      const weight = weights[rank] ?? 0;
      if (weight === 0) continue;
      let at = slot(rank);
      for (const sum of sums) {
        for (let j = 0; j < sum.length; j++) sum[j]! += weight * this.slots[at + j]!;
        at += sum.length;
      }
    }
    return sums;
  }

  /** Returns when all replicas have arrived; the last one in resets the count and wakes the others. */
  private barrier(): void {
    const generation = Atomics.load(this.control, GENERATION);
    if (Atomics.add(this.control, ARRIVED, 1) === this.workers - 1) {
      Atomics.store(this.control, ARRIVED, 0);
      Atomics.add(this.control, GENERATION, 1);
      Atomics.notify(this.control, GENERATION);
    } else {
      while (Atomics.load(this.control, GENERATION) === generation) {
        Atomics.wait(this.control, GENERATION, generation);
      }
    }
  }
}
