// PLACEHOLDER until the Kubernetes runtime lands.
import type { Runtime } from "../runtime.ts";
const missing = () => Promise.reject(new Error("the Kubernetes runtime is not built yet"));
export const kubeRuntime: Runtime = { name: "kubernetes", up: missing, down: missing, status: missing, endpoints: missing };
