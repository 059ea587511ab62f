'use strict';
/*
 * A Node.js service reporting one contexta run to the contexta collector with the official
 * OpenTelemetry JS SDK. There is no contexta package for Node: the contexta semantic
 * attributes (docs/semantic-conventions.md) are set by hand, which is all any OTel SDK needs.
 *
 *   node program.js http://127.0.0.1:4318 [run-name]
 *
 * Sends run `node-svc.<run-name>` (default `checkout`) with two stages, `prepare` and `score`;
 * `score` carries a `contexta.degraded` event (severity error), a metric event and a plain
 * HTTP client span. Exits 1 if the collector did not acknowledge every span.
 */

const { context, trace, SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');

const PROJECT = 'node-svc';

/** Wraps the OTLP exporter to remember failed exports (the SDK would only log them). */
class CheckedExporter {
  constructor(inner) {
    this.inner = inner;
    this.failures = [];
    this.exported = 0;
  }

  export(spans, resultCallback) {
    this.inner.export(spans, (result) => {
      if (result.code === 0) {
        this.exported += spans.length;
      } else {
        this.failures.push(result.error ? String(result.error) : `export failed (code ${result.code})`);
      }
      resultCallback(result);
    });
  }

  forceFlush() {
    return this.inner.forceFlush();
  }

  shutdown() {
    return this.inner.shutdown();
  }
}

function tracesUrl(base) {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

/** [seconds, nanoseconds] from a millisecond offset after `t0` (exact, no float rounding). */
function at(t0, offsetMs) {
  const ms = t0 + offsetMs;
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

async function main() {
  const base = process.argv[2];
  if (!base) {
    console.error('usage: node program.js COLLECTOR_URL [run-name]');
    process.exit(2);
  }
  const runName = process.argv[3] || 'checkout';
  const runRef = `run:${PROJECT}.${runName}`;
  const recordRef = (id) => `record:${PROJECT}.${runName}.${id}`;

  const exporter = new CheckedExporter(new OTLPTraceExporter({ url: tracesUrl(base), timeoutMillis: 10000 }));
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout-scorer' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('contexta-node-example', '1.0.0');
  const t0 = Date.UTC(2024, 5, 1, 12, 0, 0);

  const run = tracer.startSpan(`run ${runName}`, {
    startTime: at(t0, 0),
    attributes: {
      'contexta.entity.kind': 'run',
      'contexta.project': PROJECT,
      'contexta.run.ref': runRef,
      'contexta.run.name': runName,
      'contexta.status': 'open',
      'contexta.run.params': JSON.stringify({ threshold: 0.5 }),
    },
  });
  const inRun = trace.setSpan(context.active(), run);

  const stage = (name, order, startMs) =>
    tracer.startSpan(
      `stage ${name}`,
      {
        startTime: at(t0, startMs),
        attributes: {
          'contexta.entity.kind': 'stage',
          'contexta.project': PROJECT,
          'contexta.run.ref': runRef,
          'contexta.run.name': runName,
          'contexta.stage.ref': `stage:${PROJECT}.${runName}.${name}`,
          'contexta.stage.name': name,
          'contexta.order_index': order,
          'contexta.status': 'open',
        },
      },
      inRun,
    );

  const prepare = stage('prepare', 0, 10);
  prepare.addEvent(
    'contexta.metric',
    {
      'contexta.metric.key': 'rows',
      'contexta.metric.value': 1200,
      'contexta.metric.value_type': 'int64',
      'contexta.record.ref': recordRef('m-rows'),
    },
    at(t0, 900),
  );
  prepare.setAttribute('contexta.status', 'completed');
  prepare.end(at(t0, 1000));

  const score = stage('score', 1, 1100);
  const fetch = tracer.startSpan(
    'GET /features',
    {
      kind: SpanKind.CLIENT,
      startTime: at(t0, 1200),
      attributes: { 'http.request.method': 'GET', 'url.full': 'http://features.internal/features' },
    },
    trace.setSpan(context.active(), score),
  );
  fetch.setAttribute('http.response.status_code', 200);
  fetch.end(at(t0, 1300));
  score.addEvent(
    'contexta.metric',
    {
      'contexta.metric.key': 'auc',
      'contexta.metric.value': 0.87,
      'contexta.record.ref': recordRef('m-auc'),
    },
    at(t0, 1800),
  );
  score.addEvent(
    'contexta.degraded',
    {
      'contexta.degraded.issue_key': 'score.missing_features',
      'contexta.degraded.category': 'data',
      'contexta.degraded.severity': 'error',
      'contexta.degraded.summary': '42 rows had no features and were not scored',
      'contexta.record.ref': recordRef('d-missing'),
      'contexta.record.attributes': JSON.stringify({ rows: 42 }),
    },
    at(t0, 1900),
  );
  score.setStatus({ code: SpanStatusCode.OK });
  score.setAttribute('contexta.status', 'completed');
  score.end(at(t0, 2000));

  run.setAttribute('contexta.status', 'completed');
  run.end(at(t0, 2100));

  await provider.forceFlush();
  await provider.shutdown();
  const ended = 4; // run, prepare, score, GET /features
  if (exporter.failures.length > 0 || exporter.exported !== ended) {
    console.error(`exported ${exporter.exported}/${ended} spans; failures: ${exporter.failures.join('; ')}`);
    process.exit(1);
  }
  console.log(`exported ${exporter.exported} spans of ${runRef} to ${tracesUrl(base)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
