import { randomUUID } from "node:crypto";
import { type StoredJob, type StoredJobInput, storedJobSchema } from "@/lib/jobs/job";

/**
 * A valid stored job, fresh in `pending` with a new id, version 0 and its first step not yet
 * submitted. Overrides are applied shallowly and the result is validated, so a test cannot build
 * a record the store would refuse. Fields with a schema default may be left out, as in older records.
 */
export function makeStoredJob(overrides: Partial<StoredJobInput> = {}): StoredJob {
  const id = overrides.id ?? randomUUID();
  const now = Date.now();
  return storedJobSchema.parse({
    id,
    version: 0,
    status: "pending",
    stepIndex: 0,
    current: { attempt: 1, startedAt: now, submittingAt: null, taskId: null, failures: 0, lastError: null },
    occasion: "Summer wedding guest",
    inputs: {
      person: { key: `${id}/person.jpg`, url: `/api/files/${id}/person.jpg` },
      garment: { key: `${id}/garment.jpg`, url: `/api/files/${id}/garment.jpg` },
    },
    artifacts: {},
    error: null,
    nextCheckAt: 0,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  });
}
