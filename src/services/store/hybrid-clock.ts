// A hybrid logical clock: versions sort by time, stay monotonic when the wall clock jumps back,
// and a change always sorts after every version it has seen (docs/STORE-FORMAT.md, "Segment plaintext").
const WALL_DIGITS = 9; // base 36: enough for milliseconds until the year 5188
const COUNT_DIGITS = 4;
const MAX_COUNT = 36 ** COUNT_DIGITS - 1;

export class HybridClock {
  protected wall = 0;
  protected count = 0;

  constructor(
    protected readonly deviceId: string,
    protected readonly now: () => number = Date.now,
  ) {}

  /** The next version id of this device: `<wall>.<count>.<deviceId>`. */
  next(): string {
    const t = this.now();
    if (t > this.wall) {
      this.wall = t;
      this.count = 0;
    } else if (this.count < MAX_COUNT) {
      this.count++;
    } else {
      this.wall++;
      this.count = 0;
    }
    return HybridClock.format(this.wall, this.count, this.deviceId);
  }

  /** Moves the clock past a version seen from any device. */
  observe(version: string): void {
    const p = HybridClock.parse(version);
    if (!p) return;
    if (p.wall > this.wall || (p.wall === this.wall && p.count > this.count)) {
      this.wall = p.wall;
      this.count = p.count;
    }
  }

  static format(wall: number, count: number, deviceId: string): string {
    return `${wall.toString(36).padStart(WALL_DIGITS, '0')}.${count.toString(36).padStart(COUNT_DIGITS, '0')}.${deviceId}`;
  }

  static parse(version: string): { wall: number; count: number; deviceId: string } | undefined {
    const [w, c, d] = version.split('.');
    if (!w || !c || !d) return undefined;
    return { wall: parseInt(w, 36), count: parseInt(c, 36), deviceId: d };
  }
}
