// What the folder field takes as a server address, and the words for what it refuses.
import { isLoopback, parseLocation } from '../../../src/services/remote/location';
import { displayAddress } from '../../../src/services/remote/server-access';
import { s3Address } from '../../../src/services/remote/s3-medium';

describe('server addresses in the folder field', () => {
  test('folders stay folders; https is WebDAV (a slash added at the end); s3+https names endpoint, bucket, prefix and region', () => {
    expect(parseLocation('/Users/praxis/Nextcloud/Praxis')).toEqual({ kind: 'folder', path: '/Users/praxis/Nextcloud/Praxis' });
    expect(parseLocation('D:\\Praxisdaten')).toEqual({ kind: 'folder', path: 'D:\\Praxisdaten' });
    expect(parseLocation(' https://cloud.example.de/remote.php/dav/files/praxis/Praxisdaten ')).toEqual({ kind: 'webdav', url: 'https://cloud.example.de/remote.php/dav/files/praxis/Praxisdaten/' });
    expect(parseLocation('s3+https://s3.fr-par.scw.cloud/praxis-bucket/praxis/daten?region=fr-par')).toEqual({
      kind: 's3',
      s3: { endpoint: 'https://s3.fr-par.scw.cloud', bucket: 'praxis-bucket', prefix: 'praxis/daten', region: 'fr-par' },
    });
    expect(parseLocation('s3+https://s3.eu-central-1.amazonaws.com/praxis-bucket')).toMatchObject({ kind: 's3', s3: { prefix: '', region: 'us-east-1' } });
    expect(parseLocation('http://127.0.0.1:8080/dav/')).toMatchObject({ kind: 'webdav' });
    expect(parseLocation('s3+http://localhost:9000/b-ucket')).toMatchObject({ kind: 's3', s3: { endpoint: 'http://localhost:9000' } });
    const s3 = parseLocation('s3+https://s3.fr-par.scw.cloud/praxis-bucket/praxis?region=fr-par');
    if (s3.kind !== 's3') throw new Error('not s3');
    expect(parseLocation(s3Address(s3.s3))).toEqual(s3); // the shown notation reads back as the same place
  });

  test.each([
    ['http://cloud.example.de/dav/', /nur zu diesem PC|only to this PC/],
    ['s3+http://s3.example.eu/bucket', /nur zu diesem PC|only to this PC/],
    ['https://praxis:geheim@cloud.example.de/dav/', /keine Anmeldedaten|login into the address/],
    ['https://praxis@cloud.example.de/dav/', /keine Anmeldedaten|login into the address/],
    ['ftp://nas.local/praxis', /nicht unterstützt|not supported/],
    ['smb://nas.local/praxis', /nicht unterstützt|not supported/],
    ['s3+https://s3.example.eu/', /Bucket|bucket/],
    ['s3+https://s3.example.eu/Praxis_Bucket', /Bucket|bucket/],
    ['s3+https://s3.example.eu/ab', /Bucket|bucket/],
    ['s3+https://s3.example.eu/bucket?region=eu central', /Region|region/],
    ['https://cloud.example.de/dav/?token=1', /„\?“|"\?"/],
    ['https://', /nicht lesbar|cannot be read/],
    [`s3+https://s3.example.eu/bucket/${'x'.repeat(600)}`, /zu lang|too long/],
  ])('%s is refused in words, German and English, without the login in the text', (text, why) => {
    const l = parseLocation(text);
    expect(l.kind).toBe('invalid');
    if (l.kind !== 'invalid') return;
    expect(`${l.text.de} ${l.text.en}`).toMatch(why);
    expect(l.text.de.length).toBeGreaterThan(20);
    expect(l.text.en.length).toBeGreaterThan(20);
    expect(`${l.text.de} ${l.text.en}`).not.toContain('geheim');
  });

  test('loopback only for plain http; a shown address never holds a login', () => {
    expect(['127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost', 'LOCALHOST'].every(isLoopback)).toBe(true);
    expect(['128.0.0.1', '10.0.0.1', 'localhost.example.de', '127.0.0.1.nip.io'].some(isLoopback)).toBe(false);
    expect(displayAddress('https://praxis:geheim@cloud.example.de/dav/x/')).toBe('https://cloud.example.de/dav/x/');
  });
});
