/**
 * nginx-compatible command line: `tsproxy [-?hvVtTq] [-s signal] [-p prefix] [-e filename]
 * [-c filename] [-g directives]`, and tsproxy's own `--explain` with its long options. Like nginx, flags may be grouped (`-tq`) and an option's value
 * may be glued to it (`-cfile`) or follow as the next argument.
 */
import type { ExplainArgs } from '../runtime/explain/command.js';

export type Signal = 'reload' | 'stop' | 'quit' | 'reopen';

export interface CliOptions {
  readonly action: 'run' | 'test' | 'dump' | 'signal' | 'version' | 'configure' | 'help' | 'explain';
  readonly configPath: string | null;
  readonly prefix: string | null;
  readonly errorLog: string | null;
  readonly globals: string | null;
  readonly quiet: boolean;
  readonly signal: Signal | null;
  /** Set with action 'explain'. */
  readonly explain: ExplainArgs | null;
}

export const DEFAULT_CONFIG_PATH = '/etc/tsproxy/tsproxy.conf';

const SIGNALS: readonly Signal[] = ['reload', 'stop', 'quit', 'reopen'];

export const USAGE = `Usage: tsproxy [-?hvVtTq] [-s signal] [-p prefix]
               [-e filename] [-c filename] [-g directives]

Options:
  -?,-h         : this help
  -v            : show version and exit
  -V            : show version and configure options then exit
  -t            : test configuration and exit
  -T            : test configuration, dump it and exit
  -q            : suppress non-error messages during configuration testing
  -s signal     : send signal to the running instance: stop, quit, reopen, reload
  -p prefix     : set prefix path (default: the configuration file's directory)
  -e filename   : set error log file used when the configuration names none (default: stderr)
  -c filename   : set configuration file (default: ${DEFAULT_CONFIG_PATH})
  -g directives : set global directives out of configuration file

  --explain 'METHOD URL'  : show how the configuration routes that request, send nothing
  -H 'Name: value'        : a request header for --explain (repeatable)
  --from ADDRESS          : the client address for --explain (default: 127.0.0.1)
  --listen ADDRESS:PORT   : the listen socket the request arrives on (default: by the URL's port)
  --sni NAME              : the TLS server name for an https URL (default: the URL's host)
  --status URL            : a running instance's check_status JSON, for the peers' health
  --explain-format FORMAT : text (default) or json
`;

export function parseArgs(argv: readonly string[]): CliOptions | { error: string } {
  let action: CliOptions['action'] = 'run';
  let configPath: string | null = null;
  let prefix: string | null = null;
  let errorLog: string | null = null;
  let globals: string | null = null;
  let quiet = false;
  let signal: Signal | null = null;
  const explain = { request: null as string | null, headers: [] as string[], from: null as string | null, listen: null as string | null, sni: null as string | null, status: null as string | null, format: 'text' as 'text' | 'json' };
  let explainOnly: string | null = null;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (!LONG_OPTIONS.has(name)) return { error: `invalid option: "${arg}"` };
      let value: string;
      if (eq !== -1) value = arg.slice(eq + 1);
      else if (i + 1 < argv.length) value = argv[++i]!;
      else return { error: `option "--${name}" requires a value` };
      switch (name) {
        case 'explain': explain.request = value; break;
        case 'from': explain.from = value; break;
        case 'listen': explain.listen = value; break;
        case 'sni': explain.sni = value; break;
        case 'status': explain.status = value; break;
        case 'explain-format':
          if (value !== 'text' && value !== 'json') return { error: `invalid option: "--explain-format ${value}" (text or json)` };
          explain.format = value;
          break;
      }
      if (name !== 'explain') explainOnly = `--${name}`;
      continue;
    }
    if (!arg.startsWith('-') || arg.length < 2) return { error: `invalid option: "${arg}"` };
    for (let j = 1; j < arg.length; j++) {
      const flag = arg[j]!;
      switch (flag) {
        case '?':
        case 'h':
          action = 'help';
          break;
        case 'v':
          action = 'version';
          break;
        case 'V':
          action = 'configure';
          break;
        case 't':
          if (action !== 'dump') action = 'test';
          break;
        case 'T':
          action = 'dump';
          break;
        case 'q':
          quiet = true;
          break;
        case 'c':
        case 'p':
        case 'e':
        case 'g':
        case 'H':
        case 's': {
          let value: string;
          if (j + 1 < arg.length) value = arg.slice(j + 1);
          else if (i + 1 < argv.length) value = argv[++i]!;
          else return { error: `option "-${flag}" requires ${flag === 's' ? 'signal name' : flag === 'g' ? 'directives' : flag === 'p' ? 'directory name' : flag === 'H' ? 'a header' : 'file name'}` };
          j = arg.length;
          if (flag === 'c') configPath = value;
          else if (flag === 'p') prefix = value;
          else if (flag === 'e') errorLog = value;
          else if (flag === 'g') globals = value;
          else if (flag === 'H') {
            explain.headers.push(value);
            explainOnly = '-H';
          } else {
            if (!(SIGNALS as readonly string[]).includes(value)) return { error: `invalid option: "-s ${value}"` };
            signal = value as Signal;
            action = 'signal';
          }
          break;
        }
        default:
          return { error: `invalid option: "${arg.slice(j)}"` };
      }
    }
  }
  if (explain.request === null) {
    if (explainOnly !== null) return { error: `option "${explainOnly}" needs --explain` };
    return { action, configPath, prefix, errorLog, globals, quiet, signal, explain: null };
  }
  if (action !== 'run') return { error: '--explain cannot be combined with -t, -T, -s, -v, -V or -h' };
  return { action: 'explain', configPath, prefix, errorLog, globals, quiet, signal, explain: { ...explain, request: explain.request } };
}

const LONG_OPTIONS: ReadonlySet<string> = new Set(['explain', 'from', 'listen', 'sni', 'status', 'explain-format']);
