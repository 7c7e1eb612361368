// The strength rule for a NEW practice passphrase (docs/PASSPHRASE.md, "Strength and cost").
import { MIN_PASSPHRASE, newPassphraseProblem, practiceWords } from '../../../src/services/crypto/passphrase-strength';

const WHO = { deviceName: 'Praxis-PC 1', userName: 'dr.muster' };

describe('newPassphraseProblem', () => {
  test.each([
    ['Passwort123!', /persönlich|Praxis/, /practice/],
    ['praxis2026praxis', /Jahreszahlen/, /Recent years/],
    ['Praxis-PC 1Praxis-PC 1', /Name dieses PCs/, /this PC's name/], // the device name repeated
    ['Praxis-PC 1 Praxis-PC 1', /Name dieses PCs/, /this PC's name/], // zxcvbn alone scores this 3: three known pieces
    ['qwertzuiop12', /Gerade Linien von Tasten/, /Straight rows of keys/], // the German keyboard's row
    ['Sommer-Praxis-Passwort', /Name dieses PCs/, /this PC's name/],
    ['dr.muster-therapie', /Benutzername/, /user name/],
    ['aaaaaaaaaaaaaaaa', /wiederholen|Wiederholung/i, /repeat/i],
  ])('%s is refused, with the reason and a hint in German and English', (pass, de, en) => {
    const p = newPassphraseProblem(pass, WHO);
    expect(p?.kind).toBe('weak');
    const text = p?.kind === 'weak' ? p.text : { de: '', en: '' };
    expect(text.de).toMatch(/^Dieses Praxis-Passwort ist zu leicht zu erraten\. .*Tipp: \S/);
    expect(text.en).toMatch(/^This practice passphrase is too easy to guess\. .*Hint: \S/);
    expect(text.de).toMatch(de);
    expect(text.en).toMatch(en);
    // zxcvbn's feedback comes translated: no key name ("userInputs", "straightRow") reaches a person
    expect(`${text.de} ${text.en}`).not.toMatch(/\b[a-z]+[A-Z][a-zA-Z]+\b/);
  });

  test.each(['Teekanne Nordstrand Abendrot', 'correct horse battery staple', 'Zitronenbaum Leuchtturm Gewitter', 'Therapiehund Bello frisst Gurken', 'x7#Qp!2zLm@9vB$4kW&1'])('%s is accepted', (pass) => {
    expect(newPassphraseProblem(pass, WHO)).toBeUndefined();
  });

  test('shorter than the minimum is refused as too short, before any estimate', () => {
    expect(MIN_PASSPHRASE).toBe(10);
    expect(newPassphraseProblem('Zk#8qL!', WHO)).toEqual({ kind: 'too-short' });
  });

  test("this PC's and user's names count as practice words, and so do the fixed ones", () => {
    const words = practiceWords({ deviceName: 'Empfang Süd', userName: 'Maria.Schäfer' });
    expect(words).toEqual(expect.arrayContaining(['empfang süd', 'empfang', 'süd', 'maria.schäfer', 'maria', 'schäfer', 'praxis', 'passwort', 'therapie']));
    // a phrase that is strong in general is weak once it is made of this PC's words
    expect(newPassphraseProblem('Empfang Süd Maria Schäfer', { deviceName: 'Empfang Süd', userName: 'Maria.Schäfer' })?.kind).toBe('weak');
    expect(newPassphraseProblem('Empfang Süd Maria Schäfer', WHO)).toBeUndefined();
  });

  test('names of any length and script do not break the check', () => {
    const who = { deviceName: 'Behandlungsraum 3 – ' + '😀'.repeat(990) + ' (x)[y]*+?', userName: 'e\u0301\u0323 '.repeat(100) };
    expect(newPassphraseProblem('Teekanne Nordstrand Abendrot', who)).toBeUndefined();
    expect(newPassphraseProblem('praxis2026praxis', who)?.kind).toBe('weak');
  });
});
