// Files in the shared folder that are not what they should be: reported and ignored, never applied, never deleted.
import { badFileCorpus } from '../../reliability/faults';

describe('files in the shared folder that are not what they should be', () => {
  test('each is reported and ignored, named by verify (with its reason), never applied, never deleted', async () => {
    const r = await badFileCorpus();
    expect(r.failures).toEqual([]);
    expect(r.kinds).toEqual(expect.arrayContaining(['truncated', 'flipped bits', 'wrong key', 'other store', 'future version', 'huge', 'zero bytes', 'folder where a file should be', 'symlink out of the folder']));
    expect(new Set(r.kinds).size).toBe(r.kinds.length);
    expect(r.kinds.length).toBeGreaterThanOrEqual(50);
  });
});
