// The types of scatter.js, for the tests that import it from TypeScript.

export interface PlacedScatter {
  /** Each point's x where it is drawn, ascending. */
  xs: number[];
  ys: (number | null)[];
  /** The x each drawn point stands for. */
  values: number[];
  /** The x axis's range; undefined without points. */
  range: [number, number] | undefined;
}

export function placeScatter(points: [number, number | null][], options?: { log?: boolean; categories?: number }): PlacedScatter;
