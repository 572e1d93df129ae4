/** Version and the feature list `tsproxy -V` prints, in nginx's configure-argument style. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const VERSION: string = (require('../package.json') as { version: string }).version;

/** Tools that probe nginx-style binaries grep these; keep them in step with the README feature table. */
export const FEATURES: readonly string[] = [
  '--with-http_proxy_module',
  '--with-http_upstream_keepalive_module',
  '--with-http_upstream_least_conn_module',
  '--with-http_upstream_ip_hash_module',
  '--with-http_upstream_hash_module',
  '--with-http_upstream_random_module',
  '--with-http_upstream_check_module',
  '--with-http_realip_module',
  '--with-websocket',
  '--with-stream',
  '--with-stream_ssl_preread_module',
  '--with-tcp_proxy_module',
  '--without-http_ssl_module',
  '--without-http_v2_module',
];
