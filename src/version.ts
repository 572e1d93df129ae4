/** Version and the feature list `tsproxy -V` prints, in nginx's configure-argument style. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const VERSION: string = (require('../package.json') as { version: string }).version;

/**
 * What is built in, as the nginx configure arguments of the same features (tools that probe
 * nginx-style binaries grep these, e.g. for --with-http_ssl_module). Each entry names a
 * directive that only exists with the feature, and test/cli/version.test.ts checks that the
 * directive table has it, so the list cannot claim what is not there. Third-party nginx modules
 * tsproxy implements are listed as nginx lists them, with --add-module. gzip is in nginx's
 * default build (no flag); gzip_static and sub_filter are opt-in modules there.
 */
export const FEATURE_DIRECTIVES: readonly (readonly [flag: string, directive: string | null])[] = [
  ['--with-http_ssl_module', 'ssl_certificate'],
  ['--with-http_v2_module', 'http2'],
  ['--with-http_realip_module', 'real_ip_header'],
  ['--with-stream', 'stream'],
  ['--with-stream_ssl_module', 'ssl_certificate'],
  ['--with-stream_ssl_preread_module', 'ssl_preread'],
  ['--with-stream_realip_module', 'set_real_ip_from'],
  ['--with-http_gzip_static_module', 'gzip_static'],
  ['--with-http_sub_module', 'sub_filter'],
  ['--add-module=nginx_upstream_check_module', 'check'],
  ['--add-module=nginx_tcp_proxy_module', 'websocket_pass'],
];

export const FEATURES: readonly string[] = FEATURE_DIRECTIVES.map(([flag]) => flag);
