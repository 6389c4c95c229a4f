const REDACTED = '[redacted]';

/**
 * A value that must never reach a log, an error message or a stored record. Serialising or printing it
 * yields `[redacted]`; only an explicit `reveal()`, where the value must leave (to its owner, or to the
 * service that checks it; docs/architecture.md lists each call), gets the value. This turns "remember not
 * to log the secret key" into something the type system and `JSON.stringify` enforce.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return REDACTED;
  }

  toString(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}
