// `node --import tsx testing/envtest/measure.ts [N]`: how long a test control plane takes to start and stop
// (median of N, default 5; then 4 and 6 started side by side), for sizing the envtest suite.

import { startControlPlane, startControlPlanes } from "./controlplane.ts";

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

const n = Number(process.argv[2] ?? 5);
const starts: number[] = [];
const stops: number[] = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const cp = await startControlPlane({ name: `measure-${i}` });
  const t1 = performance.now();
  await cp.stop();
  starts.push(t1 - t0);
  stops.push(performance.now() - t1);
}
console.log(`one control plane: start median ${secs(median(starts))} (${starts.map(secs).join(", ")})`);
console.log(`                   stop median ${secs(median(stops))}`);
for (const k of [4, 6]) {
  const t0 = performance.now();
  const fleet = await startControlPlanes(Array.from({ length: k }, (_, i) => `measure-${k}-${i}`));
  const t1 = performance.now();
  await fleet.stop();
  console.log(`${k} side by side: start ${secs(t1 - t0)}, stop ${secs(performance.now() - t1)}`);
}
