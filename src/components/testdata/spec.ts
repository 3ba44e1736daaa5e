// What the component specs' tests plan with: stand-in credentials and addresses that name what they stand for.
import type { Credentials } from "../../state/credentials.ts";

export const TEST_CREDENTIALS: Credentials = {
  minioRoot: { user: "root-test", password: "root-password-test" },
  thanos: { accessKey: "thanos-test", secretKey: "thanos-secret-test" },
  grafana: { user: "admin", password: "grafana-test" },
};

export const TEST_ADDRESSES = {
  service: (c: string, s: string, p: number) => `svc.${s}.${c}:${p}`,
  pod: (c: string, w: string, i: number, p: number) => `pod.${w}-${i}.${c}:${p}`,
  exposed: (c: string, p: number) => `node.${c}:${p}`,
};
