// The helper thread's entry point (see hang-capture.ts and hang-watch.ts).
import { workerData } from 'node:worker_threads';
import { type HelperData, watchMainThread } from './hang-capture.js';

watchMainThread(workerData as HelperData);
