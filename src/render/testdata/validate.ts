// Validates a rendered object against the Kubernetes API schema of its kind (kubernetes-models).
import assert from "node:assert/strict";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import type { KubeObject } from "../types.ts";

/** The API schema of every kind render may produce; anything else fails the test. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "batch/v1/Job": Job,
};

export function validateObject(obj: KubeObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  assert.ok(
    Model,
    `${obj.apiVersion} ${obj.kind} ${obj.metadata.name}: render produced a kind the tests do not know`,
  );
  try {
    new Model(structuredClone(obj) as never).validate();
  } catch (error) {
    assert.fail(`${obj.kind} ${obj.metadata.name} fails the Kubernetes API schema: ${(error as Error).message}`);
  }
}
