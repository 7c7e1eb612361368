// axe-core in a playwright page: its source injected as an inline script, then axe.run on the page.
import * as fs from 'node:fs';
import type { Page } from 'playwright-core';

// Run in the page (this project compiles without the DOM library).
declare const document: any;
declare const window: any;

const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeFinding {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** All violations axe finds on the page now (WCAG 2.x A/AA and best practices). */
export async function axeViolations(page: Page): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
}

/** The serious and critical ones (what the tests require to be none), with a readable summary. */
export async function seriousViolations(page: Page, screen: string): Promise<string[]> {
  const all = await axeViolations(page);
  return all.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${screen}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(', ')}`);
}
