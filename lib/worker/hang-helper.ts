// The helper thread's entry point (see hang-capture.ts and hang-watch.ts).
import { workerData } from 'node:worker_threads';
import { watchMainThread } from './hang-capture.js';
import type { HelperData } from './hang-watch.js';

watchMainThread(workerData as HelperData);
