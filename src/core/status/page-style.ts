/** The status page's stylesheet (inline: the page loads nothing from anywhere). */
export const PAGE_STYLE = `:root{color-scheme:light}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.25rem 1.5rem;color:#1d2330;background:#f6f7f9}
h1{font-size:1.5rem;margin:0 0 .25rem}
.summary{color:#555;margin:0 0 1.25rem}
.summary b.ok,.count.ok{color:#1b6e2a}.summary b.bad,.count.bad{color:#b3261e}
#live{display:inline-block;font-size:.8rem;font-weight:600;border-radius:4px;padding:0 .4rem;background:#e9ecf1;color:#555}
#live.on{background:#e3f1e5;color:#1b6e2a}#live.off{background:#fdecea;color:#b3261e}
section{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:.75rem 1rem 1rem;margin-bottom:1.25rem;box-shadow:0 1px 2px rgba(0,0,0,.05)}
h2{font-size:1.1rem;margin:.25rem 0 .6rem;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}
h2 .ctx{font-size:.72rem;font-weight:600;text-transform:uppercase;letter-spacing:.05em;color:#555;background:#e9ecf1;border-radius:4px;padding:.1rem .4rem}
h2 .count{font-size:.9rem;font-weight:600}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.4rem 1rem;margin:0}
dl.facts div{background:#f6f7f9;border-radius:6px;padding:.35rem .6rem}
dl.facts dt{font-size:.72rem;text-transform:uppercase;letter-spacing:.04em;color:#666}
dl.facts dd{margin:0;font-weight:600;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{padding:.28rem .45rem;font-size:13px;text-align:left;border-bottom:1px solid #e6e8ec;white-space:nowrap}
th{font-size:11px;text-transform:uppercase;letter-spacing:.03em;color:#555;background:#f0f2f5;vertical-align:bottom}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.peer{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:600}
td.error{white-space:normal;color:#7a1f1a;min-width:12rem;max-width:26rem}
td.state{font-weight:700;text-align:center;color:#fff;text-transform:uppercase;letter-spacing:.04em;font-size:.8rem}
tr.up td.state{background:#2e7d32}
tr.down td.state{background:#c62828}
tr.passive-down td.state{background:#e65100}
tr.disabled td.state{background:#757575}
tr.down,tr.passive-down{background:#fdecea}
tr.disabled{color:#888}
tr.disabled td.error{color:#888}
.charts{display:flex;flex-wrap:wrap;gap:.75rem;margin:0 0 .75rem}
.charts:empty{display:none}
figure.chart{margin:0;flex:1 1 20rem;max-width:34rem}
figure.chart figcaption{font-size:.75rem;color:#555;display:flex;gap:.8rem;flex-wrap:wrap}
figure.chart figcaption i{display:inline-block;width:.8rem;height:.2rem;vertical-align:middle;margin-right:.25rem}
svg.chart{width:100%;height:110px;background:#fbfbfc;border:1px solid #e6e8ec;border-radius:4px}
svg.chart text{font-size:10px;fill:#777}
svg.chart text.nodata{font-size:12px;fill:#aaa}
svg.chart line.grid{stroke:#eceef2}
.empty{color:#777;font-style:italic}`;
