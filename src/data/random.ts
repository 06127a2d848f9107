// Seeded randomness for data: generators, shuffles and splits. Math.random cannot be
// seeded, and a dataset must come out the same for the same seed on every machine.

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128 bits of state, 32-bit
 * integer arithmetic only, so it is fast and exact in JavaScript. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d = 1;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    // Seeds up to 2^53: both halves go into the state; 12 rounds mix them in.
    this.a = seed >>> 0;
    this.b = Math.floor(seed / 2 ** 32) >>> 0;
    this.c = 0x9e3779b9;
    for (let round = 0; round < 12; round += 1) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const result = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + result) >>> 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return ((this.next() >>> 5) * 67108864 + (this.next() >>> 6)) / 9007199254740992;
  }

  /** Standard normal, Box-Muller; the second draw is kept for the next call. */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Uniform integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.uniform() * bound);
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[] | Int32Array): void {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = this.below(i + 1);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
  }
}
