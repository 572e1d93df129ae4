/**
 * The scope chain directive specs use for inheritance (the drafts they fill are in drafts.ts),
 * and small helpers that turn argument values into settings with nginx's messages.
 * build.ts walks the AST with these; only the table files know directive names.
 */
import { TsproxyError, type ErrorCode, type Loc } from '../../errors.js';
import type { Arg, Directive } from '../ast.js';
import type { LogFormatConfig } from '../types.js';
import { translatePcre, type JsRegex } from '../pcre.js';
import type { TemplateUse } from '../variables.js';
import { isBareNumber, parseDuration, parseFlag, parseNumber, parseSize, parseTrustedSource } from '../units.js';
import type { TargetDraft, UpstreamDraft, LocationDraft, HttpServerDraft, StreamServerDraft, AreaDraft, JsDraft, StreamJsPhases } from './drafts.js';
import { NO_ITEMS } from './drafts.js';
import type { ItemsByKind, Lists, OwnOf, OwnSettings, PathArg, SettingKind, ValuesByKind } from './settings.js';

export type { SettingKind } from './settings.js';
/** The drafts blocks are built into live in drafts.ts. */
export type { StreamJsPhases } from './drafts.js';
export type { TargetDraft, CheckDraft, UpstreamDraft, RewriteExtraDraft, LocationDraft, HttpServerDraft, StreamServerDraft, AreaDraft, JsDraft } from './drafts.js';

export type Context =
  | 'main' | 'events' | 'http' | 'server' | 'location' | 'upstream'
  | 'stream' | 'stream_server' | 'stream_upstream' | 'map'
  /** `if` in a location (an anonymous location: rewrite directives and some content ones) and in a server (rewrite directives only). */
  | 'if' | 'sif';

export interface Reporter {
  error(code: ErrorCode, message: string, loc: Loc): void;
  warn(code: ErrorCode, message: string, loc: Loc): void;
  /**
   * What `-t` says and nothing else prints (`-q` silences it): a directive with no effect.
   * Optional: a reporter that does not collect notices drops them.
   */
  notice?(code: ErrorCode, message: string, loc: Loc): void;
  /** Enough errors to report (MAX_REPORTED_ERRORS): costly messages ("did you mean") may be skipped. */
  readonly full?: boolean;
}

/** Everything one build collects while walking the tree; its main scope is the root of every scope chain. */
export class BuildState {
  readonly prefix: string;
  readonly report: Reporter;
  readonly mainScope: Scope;
  /** `authRequestVariables`: what auth_request_set declares (directives/access.ts). */
  http: (AreaDraft & { readonly servers: HttpServerDraft[]; authRequestVariables?: string[]; js?: JsDraft }) | null = null;
  /** Directory of the main config file (njs resolves js_import against it). */
  confDir = '';
  stream: (AreaDraft & { readonly servers: StreamServerDraft[]; js?: JsDraft; jsPhases?: StreamJsPhases }) | null = null;
  readonly targets: TargetDraft[] = [];
  /** Every template argument met, checked against the declared variables at the end (variables.ts). */
  readonly templates: TemplateUse[] = [];

  constructor(prefix: string, report: Reporter) {
    this.prefix = prefix;
    this.report = report;
    this.mainScope = {
      state: this, context: 'main', parent: null, settings: {}, seen: NO_ITEMS,
      server: undefined, location: undefined, upstream: undefined, streamServer: undefined,
    };
  }
}

export interface Scope {
  readonly state: BuildState;
  readonly context: Context;
  readonly parent: Scope | null;
  /** Own values of inherited settings (a child reads parent values through merging). */
  readonly settings: OwnSettings;
  /**
   * Single-use directives seen in this block, for `"x" directive is duplicate` (a few per block:
   * an array beats a Set). Grown with drafts.ts `append`, not pushed to: NO_ITEMS until the
   * first, then an array of exactly their number while short (a push grows an empty array to
   * 17 slots; tens of thousands of blocks kept 4.5 MB of them until the build ended).
   */
  seen: readonly string[];
  /** The draft this block fills; set once, right after the draft is made (it points back here). */
  server: HttpServerDraft | undefined;
  location: LocationDraft | undefined;
  upstream: UpstreamDraft | undefined;
  streamServer: StreamServerDraft | undefined;
}

/**
 * A block's scope. Every scope has the same fields in the same order (one hidden class for tens
 * of thousands of blocks); a location inherits its server's draft.
 */
export function childScope(parent: Scope, context: Context, settings: OwnSettings = {}): Scope {
  return {
    state: parent.state, context, parent, settings, seen: NO_ITEMS,
    server: parent.server, location: undefined, upstream: undefined, streamServer: undefined,
  };
}

export type TemplateArgs = 'all' | 'rest' | 'last' | number;

/** Record the template arguments `which` names (no array is made: this runs per directive). */
export function noteTemplateArgs(scope: Scope, args: readonly Arg[], which: TemplateArgs): void {
  if (typeof which === 'number' || which === 'last') {
    const a = which === 'last' ? args[args.length - 1] : args[which];
    if (a !== undefined) noteTemplate(scope, a.value, a.loc);
    return;
  }
  for (let i = which === 'rest' ? 1 : 0; i < args.length; i++) noteTemplate(scope, args[i]!.value, args[i]!.loc);
}

/** Record a template written in the config, for the variable check at the end of the walk. */
export function noteTemplate(scope: Scope, value: string, loc: Loc): void {
  if (!value.includes('$')) return;
  const stream = scope.context === 'stream' || scope.context === 'stream_server' || scope.context === 'stream_upstream';
  scope.state.templates.push({ area: stream ? 'stream' : 'http', value, loc });
}

/** Returns the value, or undefined after reporting why it is invalid. */
export type ValueParser<V> = (args: readonly Arg[], d: Directive, r: Reporter) => V | undefined;

/** Applies one directive to the scope; a block directive returns the scope of its block (null: skip it). */
export type Apply = (scope: Scope, d: Directive) => Scope | null | void;

export interface DirectiveSpec {
  readonly name: string;
  readonly contexts: readonly Context[];
  /** [min, max] argument count (Infinity for "1 or more"). */
  readonly args: readonly [number, number];
  /** The context of the block's children; present means the directive needs `{`. */
  readonly block?: Context;
  /** The block holds data, not directives (map entries, types); apply reads it itself. */
  readonly rawBlock?: boolean;
  /** May appear more than once in one block. */
  readonly multiple?: boolean;
  readonly summary: string;
  readonly syntax: string;
  readonly default?: string;
  /** How tsproxy differs from nginx here (rendered in grammar/directives.md). */
  readonly note?: string;
  /**
   * Which arguments are templates (`$variables` resolved per request): every one, all but the
   * first, the last, or one by index. build.ts records them for the variable check.
   */
  readonly templates?: TemplateArgs;
  /** For inherited settings: where the value goes, and how its default enters the defaults. */
  readonly setting?: SettingSlot;
  readonly apply: Apply;
}

export function err(r: Reporter, code: ErrorCode, message: string, loc: Loc): undefined {
  r.error(code, message, loc);
  return undefined;
}

/**
 * Where `length` characters at `offset` of a value sit in the file, for a caret under them: the
 * value's token at `loc` is the value itself or the value in quotes; when escapes or line breaks
 * make the mapping unclear, the whole token.
 */
export function spanLoc(loc: Loc, value: string, offset: number, length: number): Loc {
  const written = loc.length ?? 0;
  const lead = written === value.length ? 0 : written === value.length + 2 ? 1 : -1;
  if (lead < 0 || value.includes('\n')) return loc;
  return { file: loc.file, line: loc.line, column: loc.column + lead + offset, length: Math.max(1, length) };
}

/**
 * A config regex as PCRE reads it (pcre.ts): its translation, or undefined after reporting what
 * PCRE refuses or tsproxy cannot run faithfully, with a caret under the construct. The pattern
 * starts at `at` in `value`, the token written at `loc` (`~*` before it, for instance).
 */
export function checkRegex(r: Reporter, value: string, at: number, caseless: boolean, loc: Loc): JsRegex | undefined {
  const source = value.slice(at);
  const t = translatePcre(source, caseless);
  if (t.ok) return t.value;
  return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid regex "${source}": ${t.error.message}`, spanLoc(loc, value, at + t.error.offset, t.error.length));
}

export const invalidValue = (r: Reporter, a: Arg, d: Directive): undefined =>
  err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${a.value}" in "${d.name}" directive`, a.loc);

export const invalidParameter = (r: Reporter, a: Arg, text = a.value): undefined =>
  err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${text}"`, a.loc);

// ---------------------------------------------------------------------------------------------
// value parsers shared by the table files

export const flag: ValueParser<boolean> = (args, d, r) => {
  const v = parseFlag(args[0]!.value);
  if (v === null) {
    return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid value "${args[0]!.value}" in "${d.name}" directive, it must be "on" or "off"`, args[0]!.loc);
  }
  return v;
};

/** nginx time directives: a bare number is seconds; > 1000 bare seconds draws a warning. */
export const seconds: ValueParser<number> = (args, d, r) => {
  const a = args[0]!;
  const v = parseDuration(a.value, 's');
  if (v === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, a.loc);
  if (isBareNumber(a.value) && Number(a.value) > 1000) {
    r.warn('TSP_ERR_CONFIG_VALUE', `"${d.name}" value "${a.value}" is in seconds; write "${a.value}ms" if milliseconds were meant`, a.loc);
  }
  return v;
};

export const size: ValueParser<number> = (args, d, r) => {
  const v = parseSize(args[0]!.value);
  return v === null ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, args[0]!.loc) : v;
};

export const count: ValueParser<number> = (args, d, r) => {
  const v = parseNumber(args[0]!.value);
  return v === null ? err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid number`, args[0]!.loc) : v;
};

export const positive: ValueParser<number> = (args, d, r) => {
  const v = parseNumber(args[0]!.value);
  return v === null || v === 0 ? invalidValue(r, args[0]!, d) : v;
};

export const text: ValueParser<string> = (args) => args[0]!.value;

/** A file path argument with its place (files are read when the tree is assembled, errors point here). */
export const pathArg: ValueParser<PathArg> = (args) => ({ path: args[0]!.value, loc: args[0]!.loc });

/** `set_real_ip_from address | CIDR | unix:` (http and stream realip). */
export const trustedSource: ValueParser<string> = (args, d, r) => {
  const a = args[0]!;
  const v = parseTrustedSource(a.value, d.name);
  if (!v.ok) return err(r, 'TSP_ERR_CONFIG_VALUE', v.message, a.loc);
  if (v.value.warning !== null) r.warn('TSP_ERR_CONFIG_VALUE', v.value.warning, a.loc);
  return a.value;
};

/**
 * `log_format name ...` in an area: nginx refuses a second format of one name, `combined` in http
 * included. Stream's `basic` is only tsproxy's default and may be redefined (nginx's stream docs
 * define their own `basic`); pass null for it.
 */
export function addLogFormat(scope: Scope, area: AreaDraft, predefined: string | null, d: Directive, format: LogFormatConfig): void {
  if (format.name === predefined || area.logFormats.some((f) => f.name === format.name)) {
    err(scope.state.report, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate "log_format" name "${format.name}"`, d.args[0]!.loc);
    return;
  }
  area.logFormats.push(format);
}

/** The value among `values` that `text` is, undefined when none. */
export function member<T extends string>(values: readonly T[], text: string): T | undefined {
  return values.find((v) => v === text);
}

export function oneOf<T extends string>(values: readonly T[]): ValueParser<T> {
  return (args, d, r) => member(values, args[0]!.value) ?? invalidValue(r, args[0]!, d);
}

// ---------------------------------------------------------------------------------------------
// spec constructors

type Docs = Pick<DirectiveSpec, 'summary' | 'syntax' | 'note' | 'multiple'>;

export const DEFAULT_LOC: Loc = { file: '<default>', line: 0, column: 0 };
const THROWING: Reporter = {
  error(_code, message) {
    throw new TsproxyError('TSP_ERR_INTERNAL', `bad default in directive table: ${message}`);
  },
  warn() {},
};

function defaultValue<V>(name: string, parse: ValueParser<V>, text: string): V {
  const args = text.split(' ').map((value) => ({ value, quoted: false, loc: DEFAULT_LOC }));
  const v = parse(args, { name, args, block: null, loc: DEFAULT_LOC }, THROWING);
  if (v === undefined) throw new TsproxyError('TSP_ERR_INTERNAL', `bad default in directive table: "${name} ${text}"`);
  return v;
}

/** Fields of single values and of lists, per kind. */
export type ValueField<K extends SettingKind> = keyof ValuesByKind[K] & string;
export type ListField<K extends SettingKind> = keyof ItemsByKind[K] & string;

/** The values `kind` this block sets itself, made at its first setting. */
export function ownSettings<K extends SettingKind>(scope: Scope, kind: K): OwnOf<K> {
  return (scope.settings[kind] ??= {});
}

/**
 * Where an inherited setting goes. `seed` puts its default into a defaults store unless an earlier
 * spec of the same field did (the first spec of a field gives the default, as settingDefaults reads).
 */
export interface SettingSlot {
  readonly kind: SettingKind;
  readonly field: string;
  seed(defaults: OwnSettings): void;
}

export function valueSlot<K extends SettingKind, F extends ValueField<K>>(kind: K, field: F, initial: ValuesByKind[K][F]): SettingSlot {
  return {
    kind, field,
    seed(defaults) {
      const values: Partial<ValuesByKind[K]> = (defaults[kind] ??= {});
      if (!Object.hasOwn(values, field)) values[field] = initial;
    },
  };
}

function listSlot<K extends SettingKind, F extends ListField<K>>(kind: K, field: F, initial: readonly ItemsByKind[K][F][]): SettingSlot {
  return {
    kind, field,
    seed(defaults) {
      const lists: Partial<Lists<ItemsByKind[K]>> = (defaults[kind] ??= {});
      if (!Object.hasOwn(lists, field)) lists[field] = [...initial];
    },
  };
}

export type SettingOptions<K extends SettingKind, F extends ValueField<K>> = Docs & {
  name: string; contexts: readonly Context[]; kind: K; field: F; parse: ValueParser<ValuesByKind[K][F]>;
  args?: readonly [number, number]; default?: string; initial?: ValuesByKind[K][F]; templates?: TemplateArgs;
};

export type ListSettingOptions<K extends SettingKind, F extends ListField<K>> = Docs & {
  name: string; contexts: readonly Context[]; kind: K; field: F; parse: ValueParser<ItemsByKind[K][F]>;
  args: readonly [number, number]; default?: string; initial?: readonly ItemsByKind[K][F][]; templates?: TemplateArgs;
};

/**
 * An inherited single-value setting (`proxy_read_timeout 30s;`) filling `field` of its kind's
 * draft (settings.ts): the parser must return that field's type. Its default is `initial`, else
 * `default` parsed as the directive would be.
 */
export function setting<K extends SettingKind, F extends ValueField<K>>(o: SettingOptions<K, F>): DirectiveSpec {
  let initial: ValuesByKind[K][F];
  if (o.initial !== undefined) initial = o.initial;
  else if (o.default !== undefined) initial = defaultValue(o.name, o.parse, o.default);
  else throw new TsproxyError('TSP_ERR_INTERNAL', `directive table: "${o.name}" has neither a default nor an initial value`);
  return {
    name: o.name, contexts: o.contexts, args: o.args ?? [1, 1], summary: o.summary, syntax: o.syntax,
    ...(o.templates !== undefined ? { templates: o.templates } : {}),
    ...(o.default !== undefined ? { default: o.default } : {}),
    ...(o.note !== undefined ? { note: o.note } : {}),
    ...(o.multiple ? { multiple: true } : {}),
    setting: valueSlot(o.kind, o.field, initial),
    apply(scope, d) {
      const v = o.parse(d.args, d, scope.state.report);
      if (v === undefined) return;
      const own: Partial<ValuesByKind[K]> = ownSettings(scope, o.kind);
      own[o.field] = v;
    },
  };
}

/**
 * An inherited list (`proxy_set_header`, `add_header`, ...) of `field`'s element type: every
 * directive adds an entry, and a level that has any entry replaces the parent's whole list
 * (nginx merge rule).
 */
export function listSetting<K extends SettingKind, F extends ListField<K>>(o: ListSettingOptions<K, F>): DirectiveSpec {
  return {
    name: o.name, contexts: o.contexts, args: o.args, summary: o.summary, syntax: o.syntax, multiple: true,
    ...(o.templates !== undefined ? { templates: o.templates } : {}),
    ...(o.default !== undefined ? { default: o.default } : {}),
    ...(o.note !== undefined ? { note: o.note } : {}),
    setting: listSlot(o.kind, o.field, o.initial ?? []),
    apply(scope, d) {
      const v = o.parse(d.args, d, scope.state.report);
      if (v === undefined) return;
      // Pushed in place: one level may hold many entries (a copy per entry would be quadratic).
      const own: Partial<Lists<ItemsByKind[K]>> = ownSettings(scope, o.kind);
      const list = own[o.field];
      if (list === undefined) own[o.field] = [v];
      else list.push(v);
    },
  };
}

/**
 * Accepted for nginx compatibility, with no effect: `-t` says so in a notice. `check` validates
 * the value as nginx would (a typo is still an error), and the value is then ignored; without
 * one, a syntax of `on | off`, `size` or `number` checks the value as such.
 */
export function noEffect(
  name: string, contexts: readonly Context[], args: readonly [number, number], summary: string, syntax: string,
  check?: ValueParser<unknown>,
): DirectiveSpec {
  const validate = check ?? checkBySyntax(name, syntax);
  return {
    name, contexts, args, summary, syntax, note: 'Accepted for nginx compatibility; has no effect.',
    apply(scope, d) {
      const r = scope.state.report;
      if (validate?.(d.args, d, r) === undefined && validate !== undefined) return;
      r.notice?.('TSP_ERR_CONFIG_NO_EFFECT', `"${d.name}" directive has no effect in tsproxy`, d.loc);
    },
  };
}

/** The value check a one-argument syntax line implies: `x on | off;`, `x size;`, `x number;`. */
function checkBySyntax(name: string, syntax: string): ValueParser<unknown> | undefined {
  const rest = syntax.startsWith(`${name} `) ? syntax.slice(name.length + 1) : '';
  if (rest === 'on | off;') return flag;
  if (rest === 'size;') return size;
  if (rest === 'number;') return count;
  return undefined;
}

/** Resolve a path against the prefix as nginx does (absolute paths and stderr/stdout kept). */
export function resolvePath(prefix: string, path: string): string {
  if (path.startsWith('/') || path === 'stderr' || path === 'stdout') return path;
  return `${prefix.replace(/\/+$/, '')}/${path}`;
}

export function isVariableName(v: string): boolean {
  return /^\$[A-Za-z_][A-Za-z0-9_]*$/.test(v);
}
