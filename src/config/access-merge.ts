/**
 * A level's AccessConfig (allow/deny, satisfy, auth_basic, auth_request): the parent's overlaid
 * with what the level sets itself. Absent (undefined) while nothing differs from nginx's defaults,
 * so configs without these directives keep their shape and hash.
 */
import type { AccessConfig } from './types.js';
import type { OwnOf } from './directives/settings.js';

const NONE: AccessConfig = { rules: [], satisfy: 'all', authBasic: null, authBasicUserFile: null, authRequest: null, authRequestSet: [] };

export function mergeAccess(base: AccessConfig | undefined, own: OwnOf<'http'>): AccessConfig | undefined {
  if (own.accessRules === undefined && own.satisfy === undefined && own.authBasic === undefined && own.authBasicUserFile === undefined
    && own.authRequest === undefined && own.authRequestSet === undefined) return base;
  const b = base ?? NONE;
  const a: AccessConfig = {
    rules: own.accessRules ?? b.rules,
    satisfy: own.satisfy ?? b.satisfy,
    authBasic: own.authBasic !== undefined ? own.authBasic : b.authBasic,
    authBasicUserFile: own.authBasicUserFile !== undefined ? own.authBasicUserFile : b.authBasicUserFile,
    authRequest: own.authRequest !== undefined ? own.authRequest : b.authRequest,
    authRequestSet: own.authRequestSet ?? b.authRequestSet,
  };
  const unused = a.rules.length === 0 && a.satisfy === 'all' && a.authBasic === null && a.authBasicUserFile === null
    && a.authRequest === null && a.authRequestSet.length === 0;
  return unused ? undefined : a;
}
