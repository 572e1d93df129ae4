/**
 * Bounds on what a config may be, so that a pathological file (random bytes, thousands of nested
 * blocks, a huge generated file, `include /dev/zero`) fails `-t` or a reload with a positioned
 * error in bounded time and memory instead of exhausting the stack or the heap of a running proxy.
 * nginx has no explicit limits (its parser is iterative and reads with a fixed buffer); tsproxy's
 * later stages (include expansion, the build walk, freezing, hashing) recurse over blocks, and it
 * keeps every file's text for error display, so it states its limits and names them in errors.
 */

/** Blocks nested deeper than this are an error (http > server > location > location ... is < 10). */
export const MAX_BLOCK_DEPTH = 100;

/** One config file (main, include, or a config given as text) larger than this is an error. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** All files of one config together (include globs can name many) larger than this is an error. */
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/**
 * Tokens (words, strings, braces, semicolons) of one load, all files together. A size limit alone
 * does not bound memory: 16 MiB of "{" or "a " is 8-16 million tokens, and every token costs a few
 * hundred bytes on the error path (Chevrotain tokens and CST). tsproxy's 10,000-server benchmark
 * config is 400,000 tokens (4 MB).
 */
export const MAX_TOKENS = 1_000_000;

export function tooManyTokensMessage(): string {
  return `too many tokens (the limit is ${MAX_TOKENS} in all configuration files)`;
}

/** Errors reported for one load; the rest are counted in one last "too many errors" message. */
export const MAX_REPORTED_ERRORS = 100;

/** A message longer than this (a directive "name" that is a megabyte of random bytes) is cut in the middle. */
export const MAX_MESSAGE_CHARS = 300;

export function tooDeepMessage(): string {
  return `too deeply nested blocks (the limit is ${MAX_BLOCK_DEPTH} levels)`;
}

/** Keep a message readable: the middle of an overlong one is replaced by "...". */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  const half = (MAX_MESSAGE_CHARS >> 1) - 2;
  return `${message.slice(0, half)}...${message.slice(-half)}`;
}
