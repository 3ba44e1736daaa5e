// PLACEHOLDER until the local runtime lands.
import type { Runtime } from "../runtime.ts";
const missing = () => Promise.reject(new Error("the local runtime is not built yet"));
export const localRuntime: Runtime = { name: "local", up: missing, down: missing, status: missing, endpoints: missing };
