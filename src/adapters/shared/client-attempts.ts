// Per attempt: a hung connection fails the attempt, and the SDK retries. The whole call, retries included, is
// cut by the request's deadline (config().requestBudget, docs/operations.md "Deadlines"), so a dependency that
// never answers becomes a 503 before the function times out.

/** What every SDK client of the broker is given per attempt, DynamoDB's excepted. */
export const ATTEMPTS = { maxAttempts: 3, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } } as const;

/** DynamoDB answers in milliseconds: two short attempts, so a paused table leaves time for the rest of the request. */
export const DYNAMODB_ATTEMPTS = { maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 1500 } } as const;
