import { describe, expect, test } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';

describe('parseArgs (nginx-compatible flags)', () => {
  test.each([
    [[], { action: 'run', configPath: null }],
    [['-t'], { action: 'test' }],
    [['-T'], { action: 'dump' }],
    [['-tT'], { action: 'dump' }],
    [['-Tt'], { action: 'dump' }],
    [['-tq'], { action: 'test', quiet: true }],
    [['-c', 'a.conf'], { configPath: 'a.conf' }],
    [['-ca.conf'], { configPath: 'a.conf' }],
    [['-p', '/srv/', '-c', 'x.conf'], { prefix: '/srv/', configPath: 'x.conf' }],
    [['-e', 'stderr'], { errorLog: 'stderr' }],
    [['-g', 'pid off;'], { globals: 'pid off;' }],
    [['-s', 'reload'], { action: 'signal', signal: 'reload' }],
    [['-squit'], { action: 'signal', signal: 'quit' }],
    [['-v'], { action: 'version' }],
    [['-V'], { action: 'configure' }],
    [['-h'], { action: 'help' }],
    [['-?'], { action: 'help' }],
  ])('%j', (argv, expected) => {
    expect(parseArgs(argv)).toMatchObject(expected);
  });

  test.each([
    [['-x'], 'invalid option: "x"'],
    [['file.conf'], 'invalid option: "file.conf"'],
    [['-c'], 'option "-c" requires file name'],
    [['-s'], 'option "-s" requires signal name'],
    [['-s', 'restart'], 'invalid option: "-s restart"'],
    [['-g'], 'option "-g" requires directives'],
  ])('%j is refused with nginx wording', (argv, message) => {
    expect(parseArgs(argv)).toEqual({ error: message });
  });
});

describe('parseArgs --explain', () => {
  test('the request, its headers and options', () => {
    expect(parseArgs(['-c', 'a.conf', '--explain', 'GET http://x/', '-H', 'A: 1', '-HB: 2', '--from=10.0.0.1', '--listen', '127.0.0.1:8080', '--sni', 'x', '--status', 'http://127.0.0.1:1/s', '--explain-format', 'json'])).toMatchObject({
      action: 'explain', configPath: 'a.conf',
      explain: { request: 'GET http://x/', headers: ['A: 1', 'B: 2'], from: '10.0.0.1', listen: '127.0.0.1:8080', sni: 'x', status: 'http://127.0.0.1:1/s', format: 'json' },
    });
    expect(parseArgs(['--explain', 'http://x/'])).toMatchObject({ action: 'explain', explain: { headers: [], from: null, format: 'text' } });
  });

  test.each([
    [['-H', 'A: 1'], 'option "-H" needs --explain'],
    [['--from', '10.0.0.1'], 'option "--from" needs --explain'],
    [['--explain'], 'option "--explain" requires a value'],
    [['--explain', 'GET http://x/', '--explain-format', 'yaml'], 'invalid option: "--explain-format yaml" (text or json)'],
    [['--explain', 'GET http://x/', '-t'], '--explain cannot be combined with -t, -T, -s, -v, -V or -h'],
    [['--explains', 'x'], 'invalid option: "--explains"'],
  ])('%j is refused', (argv, message) => {
    expect(parseArgs(argv)).toEqual({ error: message });
  });
});
