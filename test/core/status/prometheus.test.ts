import { describe, expect, test } from 'vitest';
import { LATENCY_BOUNDS_S } from '../../../src/core/status/document.js';
import { labelValue, renderPrometheus } from '../../../src/core/status/prometheus.js';
import { HAVE_PROMTOOL, promtoolCheck } from '../../helpers/promtool.js';
import { sampleDocument } from './fixture.js';

const APP = 'context="http",upstream="app"';

describe('renderPrometheus', () => {
  const text = renderPrometheus(sampleDocument());
  const lines = text.trimEnd().split('\n');
  const samples = lines.filter((l) => !l.startsWith('#'));

  test.skipIf(!HAVE_PROMTOOL)('promtool parses and lints it clean', () => {
    expect(promtoolCheck(text)).toEqual({ status: 0, output: '' });
  });

  test('every family has HELP and TYPE once, before its samples; every series is unique', () => {
    const types = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!);
    expect(new Set(types).size).toBe(types.length);
    expect(lines.filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2])).toEqual(types);
    for (const s of samples) {
      const name = /^[a-z_]+/.exec(s)![0];
      const family = types.find((t) => name === t || (name.startsWith(t) && /^_(bucket|sum|count)$/.test(name.slice(t.length))));
      expect(family, s).toBeDefined();
    }
    const series = samples.map((s) => s.slice(0, s.lastIndexOf(' ')));
    expect(new Set(series).size).toBe(series.length);
  });

  test('the names that existed before keep their labels and meaning', () => {
    expect(samples).toContain(`tsproxy_upstream_peer_up{${APP},peer="127.0.0.1:9001"} 1`);
    expect(samples).toContain(`tsproxy_upstream_peer_up{${APP},peer="127.0.0.1:9002"} 0`);
    expect(samples).toContain(`tsproxy_upstream_peer_active_connections{${APP},peer="127.0.0.1:9001"} 2`);
    expect(samples).toContain(`tsproxy_upstream_peer_requests_total{${APP},peer="127.0.0.1:9001"} 120`);
    expect(samples).toContain(`tsproxy_upstream_peer_fails{${APP},peer="127.0.0.1:9002"} 1`);
    expect(lines).toContain('# TYPE tsproxy_upstream_peer_requests_total counter');
  });

  test('counters by status class, bytes, peer detail, process facts', () => {
    expect(samples).toContain('tsproxy_http_responses_total{server="example.com",listen="127.0.0.1:8080 [::1]:8080",code="2xx"} 180');
    expect(samples).toContain('tsproxy_http_responses_total{server="example.com",listen="127.0.0.1:8080 [::1]:8080",code="xxx"} 1');
    expect(samples).toContain('tsproxy_http_sent_bytes_total{server="example.com",listen="127.0.0.1:8080 [::1]:8080"} 3000000');
    expect(samples).toContain('tsproxy_http_connections{server="example.com",listen="127.0.0.1:8080 [::1]:8080",state="idle"} 1');
    // two server blocks with the same name and listens stay apart
    expect(samples).toContain('tsproxy_http_tls_handshake_failures_total{server="_",listen="127.0.0.1:8443 ssl"} 2');
    expect(samples).toContain('tsproxy_http_tls_handshake_failures_total{server="_#2",listen="127.0.0.1:8443 ssl"} 0');
    expect(samples).toContain(`tsproxy_upstream_peer_responses_total{${APP},peer="127.0.0.1:9001",code="5xx"} 3`);
    expect(samples).toContain(`tsproxy_upstream_peer_received_bytes_total{${APP},peer="127.0.0.1:9001"} 6789012`);
    expect(samples).toContain(`tsproxy_upstream_peer_state{${APP},peer="127.0.0.1:9003",state="disabled"} 1`);
    expect(samples).toContain(`tsproxy_upstream_peer_state{${APP},peer="127.0.0.1:9003",state="down"} 0`);
    expect(samples).toContain(`tsproxy_upstream_peer_downtime_seconds_total{${APP},peer="127.0.0.1:9002"} 61`);
    expect(samples).toContain(`tsproxy_upstream_peer_check_fall_threshold{${APP},peer="127.0.0.1:9002"} 3`);
    expect(samples).toContain(`tsproxy_upstream_peer_check_consecutive_failures{${APP},peer="127.0.0.1:9002"} 7`);
    expect(samples).toContain(`tsproxy_upstream_peer_check_latency_seconds{${APP},peer="127.0.0.1:9002"} 0.001`);
    // a disabled peer has no check: no check samples rather than made-up zeros
    expect(samples.filter((s) => s.includes('9003') && s.includes('_check_'))).toEqual([]);
    expect(samples).toContain(`tsproxy_upstream_peers_up{${APP}} 1`);
    expect(samples).toContain('tsproxy_process_start_time_seconds 1735786800');
    expect(samples).toContain('tsproxy_process_reloads_total 3');
    expect(samples).toContain('tsproxy_process_workers 2');
    expect(samples).toContain('tsproxy_process_resident_memory_bytes 80000000');
    expect(samples).toContain('tsproxy_connections{state="waiting"} 1');
    expect(samples).toContain('tsproxy_stream_sessions_total{listen="127.0.0.1:5432",protocol="tcp"} 9');
    expect(samples).toContain('tsproxy_cache_hits_total{zone="one"} 30');
  });

  test('histograms are cumulative, end with +Inf = count, with the sum', () => {
    const series = `${APP},peer="127.0.0.1:9001"`;
    const buckets = samples.filter((s) => s.startsWith(`tsproxy_upstream_peer_response_duration_seconds_bucket{${series},`));
    expect(buckets).toHaveLength(LATENCY_BOUNDS_S.length + 1);
    const values = buckets.map((b) => Number(b.slice(b.lastIndexOf(' ') + 1)));
    // 0.002, 0.004, 0.004, 0.03, 0.2, 1.5, 70
    expect(buckets[0]).toBe(`tsproxy_upstream_peer_response_duration_seconds_bucket{${series},le="0.001"} 0`);
    expect(buckets[1]).toBe(`tsproxy_upstream_peer_response_duration_seconds_bucket{${series},le="0.0025"} 1`);
    expect(buckets[2]).toBe(`tsproxy_upstream_peer_response_duration_seconds_bucket{${series},le="0.005"} 3`);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(buckets.at(-2)).toBe(`tsproxy_upstream_peer_response_duration_seconds_bucket{${series},le="60"} 6`);
    expect(buckets.at(-1)).toBe(`tsproxy_upstream_peer_response_duration_seconds_bucket{${series},le="+Inf"} 7`);
    expect(samples).toContain(`tsproxy_upstream_peer_response_duration_seconds_count{${series}} 7`);
    expect(samples.find((s) => s.startsWith(`tsproxy_upstream_peer_response_duration_seconds_sum{${series}}`))).toMatch(/ 71\.74\d*$/);
    expect(lines).toContain('# TYPE tsproxy_http_request_duration_seconds histogram');
  });

  test('redis blocks: connection state, outages, notifications, the keys of each fed upstream', () => {
    expect(samples).toContain('tsproxy_redis_up{redis="main"} 1');
    expect(samples).toContain('tsproxy_redis_state{redis="main",state="down"} 0');
    expect(samples).toContain('tsproxy_redis_outages_total{redis="main"} 1');
    expect(samples).toContain('tsproxy_redis_keyspace_notifications{redis="main"} 1');
    expect(samples).toContain('tsproxy_redis_upstream_keys{redis="main",context="http",upstream="sites",key="frontend:$host"} 1');
    expect(renderPrometheus({ ...sampleDocument(), redis: [] })).not.toMatch(/tsproxy_redis_/);
  });

  test('label values are escaped; families without samples are left out', () => {
    expect(labelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(samples).toContain('tsproxy_upstream_peer_up{context="stream",upstream="<script>\\"x\\"\\\\\\nnext",peer="unix:/run/a<b>.sock"} 1');
    const empty = renderPrometheus({ ...sampleDocument(), caches: [], servers: [], streamServers: [] });
    expect(empty).not.toMatch(/tsproxy_cache_|tsproxy_http_|tsproxy_stream_/);
  });
});
