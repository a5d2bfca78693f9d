// Imported (--import) before the modules of workerNodeOptions, so that they
// run as the rest of the worker does: SIGUSR1 already handled (early-signals)
// and the worker's OpenTelemetry identity in its environment (otel-resource).
import '../early-signals.js';
import { applyInstanceId } from '../protocol/otel-resource.js';

applyInstanceId();
