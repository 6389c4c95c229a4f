// @ts-expect-error: a plain JavaScript build script, without type declarations.
import { buildCli } from '../build/build-cli.mjs';

/** The tests run the built CLI (dist/), as an installed package would: build it from the current sources first. */
export default async function setup(): Promise<void> {
  await (buildCli as () => Promise<void>)();
}
