/**
 * nginx-compatible command line: `tsproxy [-?hvVtTq] [-s signal] [-p prefix] [-e filename]
 * [-c filename] [-g directives]`. Like nginx, flags may be grouped (`-tq`) and an option's value
 * may be glued to it (`-cfile`) or follow as the next argument.
 */
export type Signal = 'reload' | 'stop' | 'quit' | 'reopen';

export interface CliOptions {
  readonly action: 'run' | 'test' | 'dump' | 'signal' | 'version' | 'configure' | 'help';
  readonly configPath: string | null;
  readonly prefix: string | null;
  readonly errorLog: string | null;
  readonly globals: string | null;
  readonly quiet: boolean;
  readonly signal: Signal | null;
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
`;

export function parseArgs(argv: readonly string[]): CliOptions | { error: string } {
  let action: CliOptions['action'] = 'run';
  let configPath: string | null = null;
  let prefix: string | null = null;
  let errorLog: string | null = null;
  let globals: string | null = null;
  let quiet = false;
  let signal: Signal | null = null;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
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
        case 's': {
          let value: string;
          if (j + 1 < arg.length) value = arg.slice(j + 1);
          else if (i + 1 < argv.length) value = argv[++i]!;
          else return { error: `option "-${flag}" requires ${flag === 's' ? 'signal name' : flag === 'g' ? 'directives' : flag === 'p' ? 'directory name' : 'file name'}` };
          j = arg.length;
          if (flag === 'c') configPath = value;
          else if (flag === 'p') prefix = value;
          else if (flag === 'e') errorLog = value;
          else if (flag === 'g') globals = value;
          else {
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
  return { action, configPath, prefix, errorLog, globals, quiet, signal };
}
