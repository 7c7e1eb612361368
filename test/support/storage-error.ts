// The one check every refusal of the store passes: a StorageError in German and English, never a raw Node error.
import { StorageError } from '../../src/host-api/storage';

export async function rejection(p: Promise<unknown>): Promise<StorageError> {
  const e = await p.then(
    () => undefined,
    (x) => x,
  );
  expect(StorageError.is(e)).toBe(true);
  const se = e as StorageError;
  expect(se.text.de.length).toBeGreaterThan(10);
  expect(se.text.en.length).toBeGreaterThan(10);
  expect(se.message).not.toMatch(/\bE[A-Z]{3,}:/); // never a raw Node error
  return se;
}
