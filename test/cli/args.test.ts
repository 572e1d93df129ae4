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
