/**
 * Smooth weighted round robin (nginx's algorithm), the one implementation: every pick adds each
 * candidate's weight to its running score, the highest score wins and pays back the pick's total.
 * Over any run of picks with steady weights each slot is chosen in proportion to its weight,
 * spread out rather than in bursts, and deterministically. Weights are given at each pick, so
 * the candidates may change between picks (endpoints becoming unusable, slow start, locality
 * shares). Used by weighted endpoint round robin (balancer.ts), locality `distribute`
 * (locality.ts) and route destination splits (router/smooth-weighted.ts). No garbage per pick.
 */

/** The scores of a fixed list of slots; a pick is offer() for each candidate, then take(). */
export class SmoothRotation {
  private readonly score: Float64Array;
  private best = -1;
  private total = 0;

  /** One slot per element of `slots` (their values are not used). */
  constructor(slots: readonly unknown[]) {
    this.score = new Float64Array(slots.length);
  }

  /** Slot `i` is a candidate of this pick with weight `w`. */
  offer(i: number, w: number): void {
    const score = this.score;
    const s = score[i]! + w;
    score[i] = s;
    this.total += w;
    const best = this.best;
    if (best < 0 || s > score[best]!) this.best = i;
  }

  /** The slot this pick chose (-1 when nothing was offered); the next offer() starts the next pick. */
  take(): number {
    const b = this.best;
    if (b >= 0) this.score[b]! -= this.total;
    this.best = -1;
    this.total = 0;
    return b;
  }
}
