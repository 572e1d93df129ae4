import { describe, expect, test } from 'vitest';
import { allGenerators, grammarGenerators, renderCstDts, renderDiagrams, staleFiles } from '../../grammar/generate.js';

describe('generated grammar files are current (run `npm run grammar` to refresh)', () => {
  test('src/config/cst.d.ts and grammar/diagrams.html match the parser', async () => {
    expect(await staleFiles(grammarGenerators)).toEqual([]);
  });

  test('every registered generator, including other modules\' (grammar/directives.md)', async () => {
    expect(await staleFiles(await allGenerators())).toEqual([]);
  });

  test('the generators describe this grammar', () => {
    const dts = renderCstDts();
    expect(dts).toContain('export interface ICstNodeVisitor<IN, OUT>');
    for (const rule of ['config', 'statement', 'block']) expect(dts).toContain(`${rule}(children:`);
    const html = renderDiagrams();
    expect(html).toContain('drawDiagramsFromSerializedGrammar');
    expect(html).toContain('"statement"');
  });

  test('staleFiles notices a difference', async () => {
    expect(await staleFiles([{ path: 'src/config/cst.d.ts', render: () => 'not the file' }])).toEqual(['src/config/cst.d.ts']);
  });
});
