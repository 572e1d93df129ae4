/**
 * The variable engine shared by http and stream: a template is compiled once into literal parts
 * and getters chosen at compile time (`$http_x_foo` becomes a getter with "x-foo" baked in), so
 * evaluating it per request / session is a loop of string concatenations. It is generic over the
 * context a getter reads (http's RequestInfo, stream's SessionInfo); each protocol supplies its
 * VariableTable. Names and syntax live in config/template.ts: the config check has refused every
 * name nothing defines before anything here runs, and this compiler throws on one it meets anyway.
 */
import { UnknownVariableError, parseTemplate } from '../../config/template.js';

export type Captures = {
  readonly numbered: readonly (string | undefined)[];
  readonly named: Readonly<Record<string, string | undefined>> | null;
};

/**
 * What the engine itself keeps on a context (a request, a session): values of `set`, `map` and
 * named regex captures by name (made at the first one), and the captures of the last regex
 * that matched ($1..$9).
 */
export interface VariableScope {
  captures?: Captures | null;
  vars?: Map<string, string> | null;
}

export type Getter<C> = (c: C) => string;

/** A protocol's variables: built-in getters by name and the `$prefix<suffix>` families. */
export interface VariableTable<C> {
  /** Every built-in name of the area (config/template.ts lists them; a test keeps both equal). */
  readonly builtins: Readonly<Record<string, Getter<C>>>;
  /** `$http_<name>` etc.: prefix → the getter for a suffix, made at compile time. */
  readonly families: Readonly<Record<string, (suffix: string) => Getter<C>>>;
  /** Built-ins whose empty value is a value (a log line prints ""), not nginx's not-found ("-"). */
  readonly emptyIsSet: ReadonlySet<string>;
}

/** `map` variables by name (without `$`), each computed lazily and cached in the context's vars. */
export type CompiledMaps<C> = ReadonlyMap<string, Getter<C>>;

export interface TemplateScope<C> {
  readonly maps?: CompiledMaps<C>;
  /** Names made by `set`, `map` and named regex captures; read from vars / captures. */
  readonly declared?: ReadonlySet<string>;
}

export interface CompiledTemplate<C> {
  (c: C): string;
  /** The value when the template has no variables, else null. */
  readonly constant: string | null;
}

/**
 * A regex matched (server_name, location, rewrite, map): $1..$9 follow it, and its named
 * captures become variables of the context, as nginx stores them when the regex matches, so they
 * outlive the next regex (a server_name `(?<sub>)` still reads after a capturing location).
 */
export function useCaptures(c: VariableScope, captures: Captures): void {
  c.captures = captures;
  if (captures.named !== null) storeNamedCaptures(c, captures.named);
}

export function storeNamedCaptures(c: VariableScope, named: Readonly<Record<string, string | undefined>>): void {
  const vars = (c.vars ??= new Map());
  for (const k in named) vars.set(k, named[k] ?? '');
}

function declaredGetter<C extends VariableScope>(name: string, map: Getter<C> | undefined): Getter<C> {
  return (c) => {
    const v = c.vars?.get(name);
    if (v !== undefined) return v;
    const n = c.captures?.named?.[name];
    if (n !== undefined) return n;
    return map !== undefined ? map(c) : '';
  };
}

/** The getter for `$name`; throws UnknownVariableError when nothing defines it. */
export function variableGetter<C extends VariableScope>(name: string, table: VariableTable<C>, scope?: TemplateScope<C>): Getter<C> {
  // set/map/capture names shadow nothing built in: nginx rejects `set $host`, so builtins first
  if (Object.hasOwn(table.builtins, name)) return table.builtins[name]!;
  const map = scope?.maps?.get(name);
  if (map !== undefined || scope?.declared?.has(name)) return declaredGetter(name, map);
  for (const prefix in table.families) {
    if (name.length > prefix.length && name.startsWith(prefix)) return table.families[prefix]!(name.slice(prefix.length));
  }
  throw new UnknownVariableError(name);
}

export function captureGetter<C extends VariableScope>(index: number): Getter<C> {
  return (c) => c.captures?.numbered[index] ?? '';
}

/** Literal parts and getters → one function; the common shapes get a closure without a loop. */
export function joinParts<C>(parts: readonly (string | Getter<C>)[]): CompiledTemplate<C> {
  let fn: Getter<C>;
  let constant: string | null = null;
  if (parts.length === 0) {
    constant = '';
    fn = () => '';
  } else if (parts.length === 1) {
    const only = parts[0]!;
    if (typeof only === 'string') {
      constant = only;
      fn = () => only;
    } else fn = only;
  } else if (parts.length === 2) {
    const [a, b] = parts as [string | Getter<C>, string | Getter<C>];
    fn = typeof a === 'string' ? (c) => a + (b as Getter<C>)(c)
      : typeof b === 'string' ? (c) => a(c) + b
      : (c) => a(c) + b(c);
  } else {
    fn = (c) => {
      let s = '';
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        s += typeof p === 'string' ? p : p(c);
      }
      return s;
    };
  }
  const template = fn as CompiledTemplate<C>;
  Object.defineProperty(template, 'constant', { value: constant, enumerable: true });
  return template;
}

/**
 * Compile a template once; calling the result per request / session evaluates it. Throws
 * UnknownVariableError / TemplateSyntaxError (the config layer reports them with a position).
 */
export function compileTemplate<C extends VariableScope>(t: string, table: VariableTable<C>, scope?: TemplateScope<C>): CompiledTemplate<C> {
  return joinParts(parseTemplate(t).map((p) =>
    p.kind === 'literal' ? p.text : p.kind === 'capture' ? captureGetter<C>(p.index) : variableGetter(p.name, table, scope)));
}
